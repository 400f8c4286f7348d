//! Indicator feed formats beyond plain lists: format detection and one loader per format.
//!
//! [`detect`] looks at the *content* of a feed (the file name is only a hint, for Suricata
//! dataset files) and [`load`] hands the bytes to the loader of that format:
//!
//! | format | recognised by |
//! |---|---|
//! | [`FeedFormat::StixBundle`] | a JSON document: an object with `"type": "bundle"` (also a lone STIX object or a JSON array of them) |
//! | [`FeedFormat::StixJsonLines`] | the first non-empty line is a whole JSON object with a `"type"` member |
//! | [`FeedFormat::Misp`] | a JSON document with an `"Event"` or `"response"` member (or an array of `{"Event": ...}`) |
//! | [`FeedFormat::ZeekIntel`] | the first non-empty line (after Zeek's `#separator`-style directives) starts with `#fields` |
//! | [`FeedFormat::Csv`] | the header line (the first non-empty line, or a `# a,b,c` comment header just before the first data line) names an indicator column (`ioc`, `indicator`, `value`, `name`, `pattern`, `ioc_value`, `observable`, `url`, `domain`, `hostname`, `ip`), or is a comma/semicolon separated list of at least two plain column names |
//! | [`FeedFormat::SuricataDataset`] | every non-empty line is an IP address or standard, padded base64 (optionally with a `,reputation` suffix), and either the file name ends in `.dataset`, `.lst` or `.data`, or at least one line is base64 that decodes to text containing `.`, `/` or `:` (a plain list of names can never be base64: `.` is not in its alphabet) |
//! | [`FeedFormat::Plain`] | anything else ([`super::plain`]) |
//!
//! JSON that does not parse is still sent to the JSON loader the first bytes suggest, so that
//! the error says what is wrong with it (serde_json's recursion limit of 128 turns a document
//! nested 10 000 deep into one clear error).
//!
//! Every loader follows the same rules:
//! - every entry that is not loaded is counted in [`FeedSummary::skipped`] under a short reason
//!   (`"pattern_type yara"`, `"MISP type sha1"`, ...);
//! - entries that are *malformed* (bad value, bad pattern, bad line) are also reported as a
//!   [`FeedError`] naming their line; entries that are merely of a kind the sensor cannot match
//!   (hashes, YARA rules, relationships) are only counted;
//! - good entries load regardless of bad ones;
//! - a byte-order mark, CRLF line ends and invalid UTF-8 (an error, never a panic) are handled;
//!   no loader allocates more than a small multiple of the input's size.

pub mod csv;
pub mod misp;
pub mod stix;
pub mod suricata;
pub mod zeek;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::normalize::Indicator;
use super::plain;
#[cfg(test)]
use super::set::IndicatorSetBuilder;
use super::set::{IndicatorSink, Source};
use super::FeedError;

/// A feed format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FeedFormat {
    /// One value per line, `#` comments (Maltrail trails, report appendices).
    Plain,
    /// CSV with a header line naming the indicator column.
    Csv,
    /// A STIX 2.x bundle (one JSON document).
    StixBundle,
    /// STIX 2.x objects, one JSON object per line.
    StixJsonLines,
    /// A MISP event export (JSON).
    Misp,
    /// A Zeek Intel framework file (TSV with a `#fields` header).
    ZeekIntel,
    /// A Suricata dataset file (`string` sets in base64, `ip`/`ipv4`/`ipv6` sets as addresses).
    SuricataDataset,
    /// A sealed feed: keyed hashes only ([`super::sealed`]); needs the key.
    Sealed,
}

impl FeedFormat {
    /// The format's name in summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            FeedFormat::Plain => "plain",
            FeedFormat::Csv => "csv",
            FeedFormat::StixBundle => "stix-bundle",
            FeedFormat::StixJsonLines => "stix-jsonl",
            FeedFormat::Misp => "misp",
            FeedFormat::ZeekIntel => "zeek-intel",
            FeedFormat::SuricataDataset => "suricata-dataset",
            FeedFormat::Sealed => "sealed",
        }
    }
}

impl std::fmt::Display for FeedFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What loading one feed file did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedSummary {
    /// The format the file was read as.
    pub format: FeedFormat,
    /// Indicators handed to the builder (an identical indicator from the same source is
    /// stored once by the builder, so the set may count fewer).
    pub added: usize,
    /// Entries not loaded, by reason.
    pub skipped: BTreeMap<String, usize>,
}

/// How many bytes of a JSON document [`detect`] sniffs for member names when it does not parse.
const SNIFF_LEN: usize = 64 * 1024;

/// Tell the format of a feed from its content; `path` only decides for Suricata datasets.
pub fn detect(path: &str, bytes: &[u8]) -> FeedFormat {
    let text = strip_bom(bytes);
    if super::sealed::is_sealed(text) {
        return FeedFormat::Sealed;
    }
    let Some(first) = lines(text)
        .map(|(_, l)| trim_ascii(l))
        .find(|l| !l.is_empty())
    else {
        return FeedFormat::Plain;
    };
    if first.starts_with(b"{") || first.starts_with(b"[") {
        return detect_json(text, first);
    }
    if zeek::is_zeek(text) {
        return FeedFormat::ZeekIntel;
    }
    if csv::is_csv(text) {
        return FeedFormat::Csv;
    }
    if suricata::is_dataset(path, text) {
        return FeedFormat::SuricataDataset;
    }
    FeedFormat::Plain
}

fn detect_json(text: &[u8], first_line: &[u8]) -> FeedFormat {
    use serde_json::Value;
    if first_line.starts_with(b"{") {
        if let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(first_line) {
            if o.contains_key("Event") || o.contains_key("response") {
                return FeedFormat::Misp;
            }
            if o.get("type").is_some() {
                let one_line = lines(text)
                    .filter(|(_, l)| !trim_ascii(l).is_empty())
                    .nth(1)
                    .is_none();
                let bundle = o.get("type").and_then(Value::as_str) == Some("bundle");
                return if bundle && one_line {
                    FeedFormat::StixBundle
                } else {
                    FeedFormat::StixJsonLines
                };
            }
        }
    }
    match serde_json::from_slice::<Value>(text) {
        Ok(Value::Object(o)) if o.contains_key("Event") || o.contains_key("response") => {
            FeedFormat::Misp
        }
        Ok(Value::Array(a)) if a.iter().any(|e| e.get("Event").is_some()) => FeedFormat::Misp,
        Ok(_) => FeedFormat::StixBundle,
        Err(_) => {
            let head = &text[..text.len().min(SNIFF_LEN)];
            if contains(head, b"\"Event\"") || contains(head, b"\"response\"") {
                FeedFormat::Misp
            } else {
                FeedFormat::StixBundle
            }
        }
    }
}

/// Load one feed file of any format into `builder`, detecting its format with [`detect`].
/// Bad entries are pushed onto `errors`; good ones load.
pub fn load(
    path: &str,
    bytes: &[u8],
    builder: &mut dyn IndicatorSink,
    errors: &mut Vec<FeedError>,
) -> FeedSummary {
    let format = detect(path, bytes);
    load_as(format, path, bytes, builder, errors)
}

/// Load one feed file as `format`.
pub fn load_as(
    format: FeedFormat,
    path: &str,
    bytes: &[u8],
    builder: &mut dyn IndicatorSink,
    errors: &mut Vec<FeedError>,
) -> FeedSummary {
    if format == FeedFormat::Plain || format == FeedFormat::Sealed {
        let added = if format == FeedFormat::Plain {
            plain::load(path, bytes, builder, errors)
        } else if let Some(builder) = builder.as_builder() {
            super::sealed::load(path, bytes, builder, errors)
        } else {
            errors.push(FeedError::new(path, 0, "already a sealed feed"));
            0
        };
        return FeedSummary {
            format,
            added,
            skipped: BTreeMap::new(),
        };
    }
    let mut ctx = Ctx::new(path, builder, errors);
    let text = strip_bom(bytes);
    match format {
        FeedFormat::Plain | FeedFormat::Sealed => {} // handled above
        FeedFormat::Csv => csv::load(&mut ctx, text),
        FeedFormat::StixBundle => stix::load_bundle(&mut ctx, text),
        FeedFormat::StixJsonLines => stix::load_json_lines(&mut ctx, text),
        FeedFormat::Misp => misp::load(&mut ctx, text),
        FeedFormat::ZeekIntel => zeek::load(&mut ctx, text),
        FeedFormat::SuricataDataset => suricata::load(&mut ctx, text),
    }
    FeedSummary {
        format,
        added: ctx.added,
        skipped: ctx.skipped,
    }
}

/// State shared by the loaders while one file loads.
pub(crate) struct Ctx<'a> {
    pub path: &'a str,
    pub feed: Arc<str>,
    builder: &'a mut dyn IndicatorSink,
    errors: &'a mut Vec<FeedError>,
    added: usize,
    skipped: BTreeMap<String, usize>,
}

impl<'a> Ctx<'a> {
    fn new(
        path: &'a str,
        builder: &'a mut dyn IndicatorSink,
        errors: &'a mut Vec<FeedError>,
    ) -> Self {
        Ctx {
            path,
            feed: Arc::from(plain::feed_name(path)),
            builder,
            errors,
            added: 0,
            skipped: BTreeMap::new(),
        }
    }

    /// A source carrying only the feed name.
    pub fn source(&self) -> Source {
        Source {
            feed: self.feed.clone(),
            ..Default::default()
        }
    }

    /// Count one entry not loaded.
    pub fn skip(&mut self, reason: &str) {
        let reason = clip(reason, MAX_REASON_LEN);
        match self.skipped.get_mut(&*reason) {
            Some(n) => *n += 1,
            None => {
                self.skipped.insert(reason.into_owned(), 1);
            }
        }
    }

    /// Report a malformed entry at `line` (0: the whole file) and count it under `skip_reason`.
    pub fn bad(&mut self, line: usize, skip_reason: &str, reason: impl Into<String>) {
        self.errors.push(FeedError::new(self.path, line, reason));
        self.skip(skip_reason);
    }

    /// Report an error about the whole file (nothing, or nothing more, can be loaded).
    pub fn file_error(&mut self, reason: impl Into<String>) {
        self.errors.push(FeedError::new(self.path, 0, reason));
    }

    /// Add indicators that share one source.
    pub fn add_all(&mut self, indicators: &[(Indicator, bool)], source: Source) {
        if indicators.is_empty() {
            return;
        }
        let id = self.builder.add_source(source);
        for (indicator, exact_host) in indicators {
            self.builder.add(indicator, id, *exact_host);
            self.added += 1;
        }
    }

    /// Add one indicator.
    pub fn add(&mut self, indicator: &Indicator, exact_host: bool, source: Source) {
        let id = self.builder.add_source(source);
        self.builder.add(indicator, id, exact_host);
        self.added += 1;
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by the loaders.

/// Longest skip reason kept (reasons can quote a feed's type names).
const MAX_REASON_LEN: usize = 64;
/// Longest feed value quoted in an error message.
const MAX_SHOWN_LEN: usize = 100;

/// `s` cut to at most `max` bytes (at a character boundary), `…` marking the cut.
pub(crate) fn clip(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if s.len() <= max {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    std::borrow::Cow::Owned(format!("{}…", &s[..end]))
}

/// A feed value as quoted in an error message: Debug-quoted and clipped.
pub(crate) fn shown(value: &str) -> String {
    format!("{:?}", clip(value, MAX_SHOWN_LEN))
}

/// `bytes` without a leading UTF-8 byte-order mark.
pub(crate) fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

/// Lines with their 1-based numbers, without the `\n` and a trailing `\r`.
pub(crate) fn lines(text: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let text = text.strip_suffix(b"\n").unwrap_or(text);
    let count = if text.is_empty() { 0 } else { usize::MAX };
    text.split(|&b| b == b'\n')
        .take(count)
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix(b"\r").unwrap_or(l)))
}

pub(crate) fn trim_ascii(b: &[u8]) -> &[u8] {
    b.trim_ascii()
}

pub(crate) fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// A hex digest (MD5, SHA-1, SHA-256, SHA-512): a value the sensor cannot match, and one
/// [`super::normalize::classify`] would otherwise take for a one-label name.
pub(crate) fn looks_like_hash(value: &str) -> bool {
    matches!(value.len(), 32 | 40 | 64 | 128) && value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Confidence 0..=100 from a JSON number or a string holding one.
pub(crate) fn confidence(v: &serde_json::Value) -> Option<u8> {
    let n = match v {
        serde_json::Value::Number(n) => n.as_f64()?,
        serde_json::Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    (0.0..=100.0).contains(&n).then_some(n.round() as u8)
}

/// Parse an RFC 3339 timestamp (`2021-01-01T00:00:00Z`, `2021-07-27T15:47:18.224083+02:00`)
/// into microseconds since the epoch. Lenient where feeds are: a space instead of `T`, no
/// offset (read as UTC), or a bare date (midnight UTC). Fractions beyond microseconds are
/// truncated; a leap second (`:60`) is read as `:59`.
pub fn parse_rfc3339_us(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(range)?;
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    if b.len() == 10 {
        return Some(days * 86_400_000_000);
    }
    if !matches!(b[10], b'T' | b't' | b' ') || b.len() < 19 || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (hour, minute, mut second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    second = second.min(59);
    let mut i = 19;
    let mut micros = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 6 {
                micros = micros * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        if i == start {
            return None;
        }
        for _ in (i - start)..6 {
            micros *= 10;
        }
    }
    let offset_s = match b.get(i) {
        None => 0,
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) if b.len() == i + 6 && b[i + 3] == b':' => {
            let (oh, om) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let off = oh * 3600 + om * 60;
            if sign == b'+' {
                off
            } else {
                -off
            }
        }
        _ => return None,
    };
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_s;
    Some(secs * 1_000_000 + micros)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Lines of the values of a JSON member, found by a text scan: `"key": "value"` → line of
/// the key. Used to name the line of a STIX object or MISP attribute (by its id) inside one
/// big JSON document; best effort (the first occurrence wins), built only when an error
/// needs it. One pass over the text; memory at most proportional to it.
pub(crate) struct KeyLines<'t> {
    text: &'t [u8],
    key: &'static [u8],
    index: Option<HashMap<&'t [u8], usize>>,
}

impl<'t> KeyLines<'t> {
    /// `key` with its quotes, e.g. `b"\"id\""`.
    pub fn new(text: &'t [u8], key: &'static [u8]) -> Self {
        KeyLines {
            text,
            key,
            index: None,
        }
    }

    /// The line of `"key": "value"`, or 0 when it is not found.
    pub fn line_of(&mut self, value: Option<&str>) -> usize {
        let Some(value) = value else { return 0 };
        let (text, key) = (self.text, self.key);
        let index = self.index.get_or_insert_with(|| {
            let mut map = HashMap::new();
            let mut line = 1;
            let mut i = 0;
            while i < text.len() {
                match text[i] {
                    b'\n' => line += 1,
                    b'"' if text[i..].starts_with(key) => {
                        let mut j = i + key.len();
                        while j < text.len() && matches!(text[j], b' ' | b'\t' | b'\r' | b'\n') {
                            j += 1;
                        }
                        if text.get(j) == Some(&b':') {
                            j += 1;
                            while j < text.len() && matches!(text[j], b' ' | b'\t') {
                                j += 1;
                            }
                            if text.get(j) == Some(&b'"') {
                                let start = j + 1;
                                if let Some(len) =
                                    text[start..].iter().position(|&b| b == b'"' || b == b'\n')
                                {
                                    map.entry(&text[start..start + len]).or_insert(line);
                                }
                            }
                        }
                        i += key.len();
                        continue;
                    }
                    _ => {}
                }
                i += 1;
            }
            map
        });
        index.get(value.as_bytes()).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intel::set::Kind;

    #[test]
    fn detects_by_content() {
        assert_eq!(
            detect("x", b"{\"type\": \"bundle\", \"objects\": []}"),
            FeedFormat::StixBundle
        );
        assert_eq!(
            detect("x", b"{\n \"type\": \"bundle\",\n \"objects\": []\n}\n"),
            FeedFormat::StixBundle
        );
        assert_eq!(
            detect(
                "x.json",
                b"{\"type\": \"indicator\"}\n{\"type\": \"relationship\"}\n"
            ),
            FeedFormat::StixJsonLines
        );
        assert_eq!(detect("x", b"{\"Event\": {}}"), FeedFormat::Misp);
        assert_eq!(
            detect("x", b"{\"response\": [\n{\"Event\": {}}]}"),
            FeedFormat::Misp
        );
        assert_eq!(detect("x", b"[{\"Event\": {}}]"), FeedFormat::Misp);
        assert_eq!(
            detect("x", b"\xEF\xBB\xBF#fields\tindicator\tindicator_type\n"),
            FeedFormat::ZeekIntel
        );
        assert_eq!(
            detect("x.txt", b"tlp,id,Pattern\r\nwhite,1,x\r\n"),
            FeedFormat::Csv
        );
        assert_eq!(detect("x", b"\"IOC\";\"type\"\n"), FeedFormat::Csv);
        assert_eq!(
            detect("x", b"first_seen,comment\n2021,x\n"),
            FeedFormat::Csv
        );
        assert_eq!(
            detect("x", b"# comment\n# \"first_seen_utc\",\"ioc_value\",\"ioc_type\"\n\"2024\",\"evil.com\",\"domain\"\n"),
            FeedFormat::Csv
        );
        assert_eq!(
            detect("x", b"ZXZpbC5jb20=\nYmFkLm9yZw==\n"),
            FeedFormat::SuricataDataset
        );
        assert_eq!(
            detect("x.lst", b"1.2.3.4\n5.6.7.8\n"),
            FeedFormat::SuricataDataset
        );
        assert_eq!(detect("x.txt", b"1.2.3.4\n5.6.7.8\n"), FeedFormat::Plain);
        assert_eq!(detect("x.lst", b"evil.com\n"), FeedFormat::Plain);
        assert_eq!(
            detect("x", b"# Reference: a, b\nevil.com\n"),
            FeedFormat::Plain
        );
        assert_eq!(detect("x", b"evil[.]com\n1.2.3.4:80\n"), FeedFormat::Plain);
        assert_eq!(detect("x", b""), FeedFormat::Plain);
        assert_eq!(detect("x", b"\xff\xfe\x00"), FeedFormat::Plain);
    }

    #[test]
    fn hostile_json_is_an_error_not_a_panic() {
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        for text in [
            deep.clone(),
            format!("{{\"type\":\"bundle\",\"objects\":{deep}}}"),
        ] {
            let mut b = IndicatorSetBuilder::new();
            let mut errors = Vec::new();
            let s = load("deep.json", text.as_bytes(), &mut b, &mut errors);
            assert_eq!(s.format, FeedFormat::StixBundle);
            assert_eq!(s.added, 0);
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert!(errors[0].reason.contains("recursion limit"), "{errors:?}");
        }
        let mut errors = Vec::new();
        let s = load(
            "bad.json",
            b"{\"Event\": {\"info\": \"\xff\"}}",
            &mut IndicatorSetBuilder::new(),
            &mut errors,
        );
        assert_eq!(s.format, FeedFormat::Misp);
        assert_eq!(errors.len(), 1, "{errors:?}");
    }

    #[test]
    fn huge_values_give_short_messages() {
        let big = "a".repeat(1 << 20);
        let inputs = [
            (FeedFormat::Csv, format!("ioc,comment\n{big}.example,x\n")),
            (FeedFormat::Csv, format!("{big},b\n1,2\n")),
            (FeedFormat::StixJsonLines, format!("{{\"type\":\"indicator\",\"pattern\":\"[domain-name:value = '{big}']\"}}\n")),
            (FeedFormat::StixJsonLines, format!("{{\"type\":\"indicator\",\"pattern\":\"[{big}:value = 'x']\"}}\n")),
            (FeedFormat::StixJsonLines, format!("{{\"type\":\"indicator\",\"pattern\":\"[domain-name:value {big} 'x']\"}}\n")),
            (FeedFormat::StixJsonLines, format!("{{\"type\":\"{big}\"}}\n{{\"type\":\"indicator\",\"pattern_type\":\"{big}\"}}\n")),
            (FeedFormat::StixJsonLines, format!("{}\n", "[".repeat(10_000))),
            (FeedFormat::Misp, format!("{{\"Event\":{{\"Attribute\":[{{\"type\":\"domain\",\"value\":\"{big}\"}},{{\"type\":\"{big}\"}}]}}}}")),
            (FeedFormat::ZeekIntel, format!("#fields\tindicator\tindicator_type\n{big}\tIntel::DOMAIN\n{big}\tIntel::ADDR\n1.2.3.4\tIntel::{big}\n")),
            (FeedFormat::SuricataDataset, format!("{big}\n")),
            (FeedFormat::Plain, format!("{big}\n")),
        ];
        for (format, text) in inputs {
            let mut b = IndicatorSetBuilder::new();
            let mut errors = Vec::new();
            let s = load_as(format, "big", text.as_bytes(), &mut b, &mut errors);
            assert_eq!(s.added, 0);
            assert!(
                !errors.is_empty() || !s.skipped.is_empty(),
                "{format}: nothing reported"
            );
            for e in &errors {
                assert!(e.reason.len() < 400, "{format}: {}", clip(&e.reason, 400));
            }
            for r in s.skipped.keys() {
                assert!(r.len() <= MAX_REASON_LEN + 3, "{format}: {r}");
            }
        }
    }

    #[test]
    fn clips_at_char_boundaries() {
        assert_eq!(clip("abc", 3), "abc");
        assert_eq!(clip("abcd", 3), "abc…");
        assert_eq!(clip("aé", 2), "a…");
        assert_eq!(shown("x\"y"), "\"x\\\"y\"");
    }

    #[test]
    fn parses_rfc3339() {
        assert_eq!(parse_rfc3339_us("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_us("2021-01-01T00:00:00Z"),
            Some(1_609_459_200_000_000)
        );
        assert_eq!(
            parse_rfc3339_us("2021-07-27T15:47:18.224083Z"),
            Some(1_627_400_838_224_083)
        );
        assert_eq!(
            parse_rfc3339_us("2021-07-27T17:47:18.2240839+02:00"),
            Some(1_627_400_838_224_083)
        );
        assert_eq!(
            parse_rfc3339_us("2021-07-27 15:47:18"),
            Some(1_627_400_838_000_000)
        );
        assert_eq!(parse_rfc3339_us("2000-02-29"), Some(951_782_400_000_000));
        assert_eq!(parse_rfc3339_us("1969-12-31T23:59:59.5Z"), Some(-500_000));
        assert_eq!(
            parse_rfc3339_us("2016-12-31T23:59:60Z"),
            parse_rfc3339_us("2016-12-31T23:59:59Z")
        );
        for bad in [
            "",
            "2021",
            "2021-13-01",
            "2021-02-29",
            "2021-01-01T24:00:00Z",
            "2021-01-01T00:00Z",
            "2021-01-01T00:00:00.Z",
            "2021-01-01T00:00:00+0100",
            "2021-01-01T00:00:00Zjunk",
            "２０２１-01-01",
        ] {
            assert_eq!(parse_rfc3339_us(bad), None, "{bad}");
        }
    }

    #[test]
    fn key_lines_finds_ids() {
        let text = b"{\n\"id\": \"a\",\n\"x\": {\"id\" :\"b\"}, \"name\": \"id\"\n}";
        let mut k = KeyLines::new(text, b"\"id\"");
        assert_eq!(k.line_of(Some("a")), 2);
        assert_eq!(k.line_of(Some("b")), 3);
        assert_eq!(k.line_of(Some("c")), 0);
        assert_eq!(k.line_of(None), 0);
    }

    /// Every feed in the shared directory of real publishers' files: detected format and the
    /// indicators it yields, by kind. The numbers were counted independently of this code
    /// (python3 over the files; see the report that came with this module).
    #[test]
    fn loads_every_shipped_feed() {
        // The shared folder beside the repository, as the integration tests find it.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/feeds");
        let dir = dir.display();
        // (file, format, [domain, hostname, ip, cidr, url, url-path], errors)
        let expected: &[(&str, FeedFormat, [usize; 6], usize)] = &[
            (
                "eset-sednit-zebrocy-misp.json",
                FeedFormat::Misp,
                [0, 0, 0, 0, 2, 0],
                0,
            ),
            (
                "eset-turla-crutch-misp.json",
                FeedFormat::Misp,
                [4, 0, 0, 0, 1, 0],
                0,
            ),
            (
                "maltrail-apt_downex.txt",
                FeedFormat::Plain,
                [10, 0, 8, 0, 0, 1],
                0,
            ),
            (
                "maltrail-apt_sofacy.txt",
                FeedFormat::Plain,
                [1783, 0, 311, 0, 80, 86],
                0,
            ),
            (
                "sekoia-apt31-stix2.jsonl",
                FeedFormat::StixJsonLines,
                [43, 0, 53, 0, 0, 0],
                0,
            ),
            ("sekoia-apt31.csv", FeedFormat::Csv, [43, 0, 53, 0, 0, 0], 0),
            (
                "sekoia-calisto-infrastructure.txt",
                FeedFormat::Plain,
                [85, 0, 0, 0, 0, 0],
                0,
            ),
            (
                "zeek-intel-amnesty-nso-excerpt.intel",
                FeedFormat::ZeekIntel,
                [0, 20, 0, 0, 0, 0],
                0,
            ),
        ];
        let mut names: Vec<String> = std::fs::read_dir(dir.to_string())
            .unwrap_or_else(|e| panic!("{dir}: {e}"))
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.ends_with(".md"))
            .collect();
        names.sort();
        let listed: Vec<&str> = expected.iter().map(|e| e.0).collect();
        assert_eq!(names, listed, "files in {dir}");
        let kinds = Kind::ALL;
        for (name, format, counts, n_errors) in expected {
            let path = format!("{dir}/{name}");
            let bytes = std::fs::read(&path).unwrap();
            let mut b = IndicatorSetBuilder::new();
            let mut errors = Vec::new();
            let summary = load(&path, &bytes, &mut b, &mut errors);
            assert_eq!(summary.format, *format, "{name}");
            let set = b.build();
            let got: Vec<usize> = kinds.iter().map(|k| set.counts().get(*k)).collect();
            assert_eq!(
                got, counts,
                "{name}: counts by kind {kinds:?}; summary {summary:?}"
            );
            assert_eq!(errors.len(), *n_errors, "{name}: {errors:?}");
        }
    }
}
