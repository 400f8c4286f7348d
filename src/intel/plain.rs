//! Plain-text indicator lists: one value per line, as Maltrail trails and report appendices
//! are written.
//!
//! - `#` starts a comment (a whole line, or after white space at the end of a value);
//! - `# Reference: URL` lines attach their URL to the values below them, until the next block
//!   of references (Maltrail's convention);
//! - `# Campaign: NAME` and `# Aliases: a, b` (also Maltrail's) set the campaign and tags of
//!   the whole file from where they appear;
//! - a byte-order mark, CRLF line ends and trailing white space are accepted;
//! - every value is typed by [`classify`]: domain, address, `IP:port`, CIDR, URL, bare path.
//!
//! A bad line becomes a [`FeedError`] naming its line; the other lines still load.

use std::net::Ipv4Addr;
use std::sync::Arc;

use crossbeam_channel::Sender;

use super::normalize::{classify, plain_value, Indicator, Plain, MAX_NAME_LEN};
#[cfg(test)]
use super::set::IndicatorSetBuilder;
use super::set::{IndicatorSink, NameHasher, NameKey, Source};
use super::FeedError;

/// Lists of this size or larger are classified on helper threads.
const PARALLEL_FROM: usize = 2 << 20;
/// How much of a list a helper classifies at a time.
const BLOCK_BYTES: usize = 256 << 10;
/// Blocks classified ahead of the one being added (bounds the memory of a parallel load).
const BLOCKS_AHEAD: usize = 4;

/// One line of a list, classified: the part of loading that needs no shared state. 24
/// bytes: the common lines (a name, an address) are kept small, for a large list's lines
/// wait in blocks between the threads that read them and the one that adds them.
enum Line<'a> {
    Blank,
    NotUtf8,
    /// The text after `#`, trimmed.
    Comment(&'a str),
    /// A name, already hashed for the set builder by the thread that read it.
    Name(NameKey),
    /// A plain IPv4 address (no port).
    Ipv4(Ipv4Addr),
    /// Anything else: an indicator, or why the line is not one.
    Value(Box<Result<Indicator, String>>),
}

// The size the comment on `Line` promises.
const _: () = assert!(std::mem::size_of::<Line>() <= 24);

/// Classify one raw line; with `hasher`, a name comes out hashed.
fn read_line<'a>(raw: &'a [u8], hasher: Option<&NameHasher>) -> Line<'a> {
    // Most lines: a plain name or address, read in one pass.
    let mut name = [0u8; MAX_NAME_LEN];
    match (plain_value(raw, &mut name), hasher) {
        (Some(Plain::Domain(name)), Some(hasher)) => return Line::Name(hasher.name_key(name)),
        (Some(Plain::Ipv4(addr)), _) => return Line::Ipv4(addr),
        (Some(plain), None) => return Line::Value(Box::new(Ok(plain.indicator()))),
        (None, _) => {}
    }
    let Ok(line) = std::str::from_utf8(raw) else {
        return Line::NotUtf8;
    };
    let line = line.trim();
    if let Some(comment) = line.strip_prefix('#') {
        return Line::Comment(comment.trim());
    }
    let value = strip_inline_comment(line);
    if value.is_empty() {
        return Line::Blank;
    }
    match (classify(value), hasher) {
        (Ok(Indicator::Domain(name)), Some(hasher)) => Line::Name(hasher.name_key(name.as_bytes())),
        (result, _) => Line::Value(Box::new(result)),
    }
}

/// Load the plain list `text`, read from `path`, into `builder`. Returns the number of
/// indicators added and pushes one error per bad line onto `errors`.
///
/// Classifying lines (UTF-8, refanging, typing, normalising) is most of the cost of a large
/// list and needs no shared state, so a list over 2 MB is cut into blocks at line ends and
/// classified on helper threads, a few blocks ahead; this thread adds the results in line
/// order, so comments (references, campaign) apply exactly as in a sequential read.
pub fn load(
    path: &str,
    text: &[u8],
    builder: &mut dyn IndicatorSink,
    errors: &mut Vec<FeedError>,
) -> usize {
    let helpers = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    load_with(path, text, builder, errors, helpers)
}

/// [`load`] with `helpers` classifying threads (1: none, all on this thread).
fn load_with(
    path: &str,
    text: &[u8],
    builder: &mut dyn IndicatorSink,
    errors: &mut Vec<FeedError>,
    helpers: usize,
) -> usize {
    let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
    let mut list = ListState::new(path);
    // Names are hashed where they are read whenever the sink is a set builder.
    let hasher = builder.as_builder().map(|b| b.name_hasher());
    if text.len() < PARALLEL_FROM || helpers < 2 {
        for raw in text.split(|&b| b == b'\n') {
            list.apply(read_line(raw, hasher.as_ref()), builder, errors);
        }
        return list.added;
    }
    std::thread::scope(|scope| {
        let (jobs, job_queue) = crossbeam_channel::unbounded::<(&[u8], Sender<Vec<Line>>)>();
        // Blocks' line vectors, once added, go back to the helpers to be filled again: a
        // list's lines then pass through a few vectors whose memory is touched once, where a
        // new vector per block would take fresh pages from the kernel for every block.
        let (spare, spares) = crossbeam_channel::bounded::<Vec<Line>>(BLOCKS_AHEAD + helpers);
        for _ in 0..helpers {
            let job_queue = job_queue.clone();
            let spares = spares.clone();
            let hasher = hasher.clone();
            scope.spawn(move || {
                for (block, done) in job_queue {
                    let mut lines = spares.try_recv().unwrap_or_default();
                    lines.extend(block_lines(block).map(|raw| read_line(raw, hasher.as_ref())));
                    if done.send(lines).is_err() {
                        return;
                    }
                }
            });
        }
        let mut pending = std::collections::VecDeque::new();
        let mut next = blocks(text).into_iter();
        loop {
            while pending.len() < BLOCKS_AHEAD {
                let Some(block) = next.next() else { break };
                let (done, result) = crossbeam_channel::bounded(1);
                // The helpers outlive the queue, so the send cannot fail.
                let _ = jobs.send((block, done));
                pending.push_back(result);
            }
            let Some(result) = pending.pop_front() else {
                break;
            };
            // Empty only when a helper panicked, which the scope raises again at its end.
            let mut lines = result.recv().unwrap_or_default();
            for line in lines.drain(..) {
                list.apply(line, builder, errors);
            }
            // Full only when the helpers hold every vector there is room for.
            let _ = spare.try_send(lines);
        }
        drop(jobs);
    });
    list.added
}

/// `text` cut into blocks of about [`BLOCK_BYTES`], each ending with a line end (or the text).
fn blocks(text: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = text;
    while rest.len() > BLOCK_BYTES {
        match rest[BLOCK_BYTES..].iter().position(|&b| b == b'\n') {
            Some(at) => {
                let (block, tail) = rest.split_at(BLOCK_BYTES + at + 1);
                out.push(block);
                rest = tail;
            }
            None => break,
        }
    }
    out.push(rest);
    out
}

/// The lines of a block: a block's final line end does not start another line.
fn block_lines(block: &[u8]) -> impl Iterator<Item = &[u8]> {
    block
        .strip_suffix(b"\n")
        .unwrap_or(block)
        .split(|&b| b == b'\n')
}

/// What reading a list carries from line to line: the source of the values below (feed,
/// references, campaign, tags) and the line number.
struct ListState<'p> {
    path: &'p str,
    source: Source,
    source_id: Option<u32>,
    in_reference_block: bool,
    line_no: usize,
    added: usize,
}

impl<'p> ListState<'p> {
    fn new(path: &'p str) -> Self {
        ListState {
            path,
            source: Source {
                feed: Arc::from(feed_name(path)),
                ..Default::default()
            },
            source_id: None,
            in_reference_block: false,
            line_no: 0,
            added: 0,
        }
    }

    /// The next line, in order.
    fn apply(&mut self, line: Line, builder: &mut dyn IndicatorSink, errors: &mut Vec<FeedError>) {
        self.line_no += 1;
        match line {
            Line::NotUtf8 => {
                errors.push(FeedError::new(
                    self.path,
                    self.line_no,
                    "line is not valid UTF-8",
                ));
            }
            Line::Comment(comment) => self.comment(comment),
            Line::Blank => self.in_reference_block = false,
            Line::Ipv4(addr) => {
                self.in_reference_block = false;
                self.add(&Plain::Ipv4(addr).indicator(), builder);
            }
            Line::Value(value) => {
                self.in_reference_block = false;
                match *value {
                    Ok(indicator) => self.add(&indicator, builder),
                    Err(reason) => errors.push(FeedError::new(self.path, self.line_no, reason)),
                }
            }
            Line::Name(name) => {
                self.in_reference_block = false;
                // Names come hashed only when the sink is a set builder (see `load_with`).
                if let Some(builder) = builder.as_builder() {
                    let id = self.source_id(builder);
                    builder.add_name(name, id, false);
                    self.added += 1;
                }
            }
        }
    }

    /// Add `indicator` with the current source.
    fn add(&mut self, indicator: &Indicator, builder: &mut dyn IndicatorSink) {
        let id = self.source_id(builder);
        builder.add(indicator, id, false);
        self.added += 1;
    }

    /// The id of the current source, registered on first use.
    fn source_id(&mut self, builder: &mut dyn IndicatorSink) -> u32 {
        let source = &self.source;
        *self
            .source_id
            .get_or_insert_with(|| builder.add_source(source.clone()))
    }

    fn comment(&mut self, comment: &str) {
        if let Some(url) = strip_key(comment, "reference:") {
            if !self.in_reference_block {
                self.source.references.clear();
                self.in_reference_block = true;
            }
            self.source.references.push(url.to_string());
            self.source_id = None;
        } else if let Some(name) = strip_key(comment, "campaign:") {
            self.source.campaign = Some(name.to_string());
            self.source_id = None;
        } else if let Some(list) = strip_key(comment, "aliases:") {
            self.source.tags = list
                .split(',')
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect();
            self.source_id = None;
        }
    }
}

fn strip_key<'a>(comment: &'a str, key: &str) -> Option<&'a str> {
    let head = comment.get(..key.len())?;
    head.eq_ignore_ascii_case(key)
        .then(|| comment[key.len()..].trim())
}

fn strip_inline_comment(line: &str) -> &str {
    // A `#` after white space starts a comment (a `#` inside a URL fragment does not).
    let bytes = line.as_bytes();
    let mut from = 0;
    while let Some(at) = bytes[from..].iter().position(|&b| b == b'#') {
        let at = from + at;
        if at > 0 && (bytes[at - 1] == b' ' || bytes[at - 1] == b'\t') {
            return line[..at].trim_end();
        }
        from = at + 1;
    }
    line
}

/// The feed's name: its file name.
pub fn feed_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_lines_are_reported_and_good_lines_load() {
        let text = b"\xEF\xBB\xBF# Reference: https://a.example/1\r\nevil[.]com\r\nexa mple\n\xff\xfe\n1.2.3.4 # c2\n";
        let mut b = IndicatorSetBuilder::new();
        let mut errors = Vec::new();
        let n = load("feeds/x.txt", text, &mut b, &mut errors);
        assert_eq!(n, 2);
        let msgs: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(msgs.len(), 2, "{msgs:?}");
        assert!(
            msgs[0].starts_with("feeds/x.txt:3: not an IP, domain or URL: \"exa mple\""),
            "{msgs:?}"
        );
        assert_eq!(msgs[1], "feeds/x.txt:4: line is not valid UTF-8");
        let set = b.build();
        let mut src = None;
        set.match_name(b"www.evil.com", |h| {
            src = Some(set.source(set.entry(h.entry)).clone())
        });
        let src = src.expect("evil.com loaded");
        assert_eq!(&*src.feed, "x.txt");
        assert_eq!(src.references, ["https://a.example/1"]);
    }

    #[test]
    fn parallel_load_equals_sequential_load() {
        // > 2 MB: bad lines, reference blocks and campaign comments fall in several blocks.
        let mut text = Vec::new();
        for i in 0..120_000 {
            match i % 10_007 {
                0 => text
                    .extend_from_slice(format!("# Reference: https://r.example/{i}\n").as_bytes()),
                1 => text.extend_from_slice(b"not a value\n"),
                2 => text.extend_from_slice(b"\xff\n"),
                3 => text.extend_from_slice(format!("# Campaign: c{i}\n\n").as_bytes()),
                _ => text.extend_from_slice(format!("h{i}.example-{}.org\n", i % 97).as_bytes()),
            }
        }
        assert!(text.len() > PARALLEL_FROM);
        let load_by = |helpers| {
            let mut b = IndicatorSetBuilder::new();
            let mut errors = Vec::new();
            let added = load_with("f.txt", &text, &mut b, &mut errors, helpers);
            let errors: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
            (added, errors, b.build())
        };
        let (added_1, errors_1, set_1) = load_by(1);
        let (added_2, errors_2, set_2) = load_by(2);
        assert_eq!(added_1, added_2);
        assert_eq!(errors_1, errors_2);
        assert_eq!(errors_1.len(), 2 * 12);
        assert!(
            errors_1[0].starts_with("f.txt:2: not an IP"),
            "{:?}",
            errors_1[0]
        );
        for i in [4, 10_006, 10_011, 55_555, 119_999] {
            let name = format!("www.h{i}.example-{}.org", i % 97);
            let source = |set: &crate::intel::IndicatorSet| {
                let mut found = None;
                set.match_name(name.as_bytes(), |h| {
                    found = Some(set.source(set.entry(h.entry)).clone())
                });
                found.expect("loaded")
            };
            assert_eq!(source(&set_1), source(&set_2), "{name}");
        }
    }

    #[test]
    fn reference_blocks_replace_each_other() {
        let text = b"# Reference: r1\n# Reference: r2\na.example\n\n# Reference: r3\nb.example\n";
        let mut b = IndicatorSetBuilder::new();
        load("f", text, &mut b, &mut Vec::new());
        let set = b.build();
        let refs = |n: &str| {
            let mut r = Vec::new();
            set.match_name(n.as_bytes(), |h| {
                r = set.source(set.entry(h.entry)).references.clone()
            });
            r
        };
        assert_eq!(refs("a.example"), ["r1", "r2"]);
        assert_eq!(refs("b.example"), ["r3"]);
    }
}
