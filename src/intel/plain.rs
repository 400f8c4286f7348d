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

use std::sync::Arc;

use super::normalize::classify;
#[cfg(test)]
use super::set::IndicatorSetBuilder;
use super::set::{IndicatorSink, Source};
use super::FeedError;

/// Load the plain list `text`, read from `path`, into `builder`. Returns the number of
/// indicators added and pushes one error per bad line onto `errors`.
pub fn load(
    path: &str,
    text: &[u8],
    builder: &mut dyn IndicatorSink,
    errors: &mut Vec<FeedError>,
) -> usize {
    let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
    let feed: Arc<str> = Arc::from(feed_name(path));
    let mut source = Source {
        feed,
        ..Default::default()
    };
    let mut source_id: Option<u32> = None;
    let mut in_reference_block = false;
    let mut added = 0;
    for (index, raw_line) in text.split(|&b| b == b'\n').enumerate() {
        let line_no = index + 1;
        let Ok(line) = std::str::from_utf8(raw_line) else {
            errors.push(FeedError::new(path, line_no, "line is not valid UTF-8"));
            continue;
        };
        let line = line.trim();
        if let Some(comment) = line.strip_prefix('#') {
            let comment = comment.trim();
            if let Some(url) = strip_key(comment, "reference:") {
                if !in_reference_block {
                    source.references.clear();
                    in_reference_block = true;
                }
                source.references.push(url.to_string());
                source_id = None;
            } else if let Some(name) = strip_key(comment, "campaign:") {
                source.campaign = Some(name.to_string());
                source_id = None;
            } else if let Some(list) = strip_key(comment, "aliases:") {
                source.tags = list
                    .split(',')
                    .map(|t| t.trim().to_string())
                    .filter(|t| !t.is_empty())
                    .collect();
                source_id = None;
            }
            continue;
        }
        in_reference_block = false;
        let value = strip_inline_comment(line);
        if value.is_empty() {
            continue;
        }
        match classify(value) {
            Ok(indicator) => {
                let id = *source_id.get_or_insert_with(|| builder.add_source(source.clone()));
                builder.add(&indicator, id, false);
                added += 1;
            }
            Err(reason) => errors.push(FeedError::new(path, line_no, reason)),
        }
    }
    added
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
