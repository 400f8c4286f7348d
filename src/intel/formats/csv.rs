//! CSV exports with a header line (RFC 4180: quoted fields, `""` escapes, line breaks inside
//! quotes, CRLF; also a BOM, `;` or tab as separator, and `#` comment lines).
//!
//! The header names the columns. The indicator is the first column found, in this order, of
//! `ioc`, `ioc_value`, `indicator`, `observable`, `value`, `pattern`, `url`, `domain`,
//! `hostname`, `ip`, `name` (case-insensitive). A header commented out as abuse.ch writes it
//! (`# "first_seen_utc","ioc_id","ioc_value",...` just before the first data line) is read
//! too. A file whose header names no indicator column is one whole-file error.
//!
//! How the indicator is read:
//! - a `pattern` column holds STIX patterns (Sekoia's export of STIX indicators): parsed as
//!   STIX ([`super::stix`]); a `pattern_type` other than `stix` is skipped;
//! - otherwise the value is classified ([`crate::intel::normalize::classify`]: defanged forms,
//!   addresses, `IP:port`, CIDRs, URLs, names); a `type`/`ioc_type`/`indicator_type` column
//!   refines it: `hostname`/`fqdn` make an exact host name, network types (`domain`, `ip`,
//!   `ip:port`, `url`, ...) are classified, anything else (hashes, file names, e-mail) is
//!   skipped as `CSV type <t>`; without a type column, hex digests are skipped as `hash value`.
//!
//! Other columns kept in the [`Source`](crate::intel::Source) (case-insensitive names):
//!
//! | column | field |
//! |---|---|
//! | `id`, `ioc_id`, `uuid` | id |
//! | `description`, `comment`, else `name` when it is not the indicator and differs from it | description |
//! | `confidence`, `confidence_level` (0..=100) | confidence |
//! | `valid_from`, `valid_until` (RFC 3339) | validity |
//! | `campaign`, `threat_actor`, `actor`, `intrusion_set` | campaign |
//! | `reference`, `references`, `link`, `source_url` (comma separated) | references |
//! | `tlp` (as `tlp:<value>`), `tags`, `labels`, `kill_chain`, `sources`, `malware`, `malware_family`, `threat_type`, `indicator_types` (comma separated) | tags |

use super::{looks_like_hash, parse_rfc3339_us, stix, Ctx};
use crate::intel::normalize::classify;

/// Indicator column names, best first.
const INDICATOR_COLUMNS: &[&str] = &[
    "ioc",
    "ioc_value",
    "indicator",
    "observable",
    "value",
    "pattern",
    "url",
    "domain",
    "hostname",
    "ip",
    "name",
];

/// Does the text start with a CSV header (see [`super::detect`])?
pub(crate) fn is_csv(text: &[u8]) -> bool {
    find_header(text).is_some()
}

/// The header: (fields, separator, byte offset where data starts).
struct Header {
    names: Vec<String>,
    sep: u8,
    data_start: usize,
    /// Line number of the first data line's start, minus one.
    lines_before: usize,
}

fn find_header(text: &[u8]) -> Option<Header> {
    let mut offset = 0;
    let mut line_no = 0;
    let mut last_comment: Option<&[u8]> = None;
    while offset < text.len() {
        let end = text[offset..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(text.len(), |p| offset + p);
        let line = text[offset..end]
            .strip_suffix(b"\r")
            .unwrap_or(&text[offset..end])
            .trim_ascii();
        let next = (end + 1).min(text.len());
        line_no += 1;
        if line.is_empty() {
            offset = next;
            continue;
        }
        if let Some(comment) = line.strip_prefix(b"#") {
            last_comment = Some(comment.trim_ascii());
            offset = next;
            continue;
        }
        // First data line: the comment just above it is the header (abuse.ch), or it is.
        if let Some((names, sep)) = last_comment.and_then(split_header) {
            let named = names.iter().any(|n| indicator_rank(n).is_some());
            if names.len() >= 2 && named && split_simple(line, sep) == names.len() {
                return Some(Header {
                    names,
                    sep,
                    data_start: offset,
                    lines_before: line_no - 1,
                });
            }
        }
        let (names, sep) = split_header(line)?;
        let named = names.iter().any(|n| indicator_rank(n).is_some());
        let plain_names = names.len() >= 2 && names.iter().all(|n| is_column_name(n));
        return (named || plain_names).then_some(Header {
            names,
            sep,
            data_start: next,
            lines_before: line_no,
        });
    }
    None
}

/// Split a header line at the separator that gives the most fields (`,` `;` tab).
fn split_header(line: &[u8]) -> Option<(Vec<String>, u8)> {
    let line = std::str::from_utf8(line).ok()?;
    let mut sep = b',';
    for candidate in [b';', b'\t'] {
        if split_simple(line.as_bytes(), candidate) > split_simple(line.as_bytes(), sep) {
            sep = candidate;
        }
    }
    let mut reader = Records::new(line.as_bytes(), sep, 0);
    let fields = reader.next()?.ok()?.1;
    let names = fields
        .into_iter()
        .map(|f| String::from_utf8(f).ok().map(|s| s.trim().to_string()))
        .collect::<Option<Vec<_>>>()?;
    if names.iter().all(|n| n.is_empty()) {
        return None;
    }
    Some((names, sep))
}

/// Count of fields in a line, ignoring quoting subtleties beyond skipping quoted separators.
fn split_simple(line: &[u8], sep: u8) -> usize {
    let mut n = 1;
    let mut quoted = false;
    for &b in line {
        if b == b'"' {
            quoted = !quoted;
        } else if b == sep && !quoted {
            n += 1;
        }
    }
    n
}

fn is_column_name(n: &str) -> bool {
    let n = n.trim_matches('"');
    !n.is_empty()
        && n.len() <= 64
        && n.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ' '))
}

fn indicator_rank(name: &str) -> Option<usize> {
    INDICATOR_COLUMNS
        .iter()
        .position(|c| c.eq_ignore_ascii_case(name.trim()))
}

/// A CSV record reader over bytes: (line of the record's start, fields).
struct Records<'t> {
    text: &'t [u8],
    pos: usize,
    line: usize,
    sep: u8,
}

impl<'t> Records<'t> {
    /// `line_before`: the line number just before `text` starts.
    fn new(text: &'t [u8], sep: u8, line_before: usize) -> Self {
        Records {
            text,
            pos: 0,
            line: line_before + 1,
            sep,
        }
    }
}

impl Iterator for Records<'_> {
    /// `Ok((line, fields))`, or `Err((line, reason))` for an unterminated quote.
    type Item = Result<(usize, Vec<Vec<u8>>), (usize, String)>;

    fn next(&mut self) -> Option<Self::Item> {
        let t = self.text;
        // Skip blank lines and `#` comment lines between records.
        loop {
            if self.pos >= t.len() {
                return None;
            }
            let end = t[self.pos..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(t.len(), |p| self.pos + p);
            let line = t[self.pos..end].trim_ascii();
            if line.is_empty() || line.starts_with(b"#") {
                self.pos = end + 1;
                self.line += 1;
                continue;
            }
            break;
        }
        let start_line = self.line;
        let mut fields = Vec::new();
        let mut field = Vec::new();
        let mut quoted = false;
        let mut after_quote = false;
        let mut at_field_start = true;
        while self.pos < t.len() {
            let b = t[self.pos];
            self.pos += 1;
            if quoted {
                match b {
                    b'"' if t.get(self.pos) == Some(&b'"') => {
                        field.push(b'"');
                        self.pos += 1;
                    }
                    b'"' => {
                        quoted = false;
                        after_quote = true;
                    }
                    b'\n' => {
                        self.line += 1;
                        field.push(b);
                    }
                    _ => field.push(b),
                }
                continue;
            }
            match b {
                b'"' if at_field_start => {
                    quoted = true;
                    at_field_start = false;
                }
                b'\n' => {
                    self.line += 1;
                    if field.last() == Some(&b'\r') && !after_quote {
                        field.pop();
                    }
                    fields.push(std::mem::take(&mut field));
                    return Some(Ok((start_line, fields)));
                }
                b'\r' if after_quote => {}
                _ if b == self.sep => {
                    fields.push(std::mem::take(&mut field));
                    after_quote = false;
                    at_field_start = true;
                }
                b' ' | b'\t' if at_field_start => {} // space before an opening quote
                _ => {
                    field.push(b);
                    at_field_start = false;
                }
            }
        }
        if quoted {
            return Some(Err((start_line, "unterminated quoted field".into())));
        }
        if field.last() == Some(&b'\r') {
            field.pop();
        }
        fields.push(field);
        Some(Ok((start_line, fields)))
    }
}

/// Where the metadata columns are.
#[derive(Default)]
struct Columns {
    indicator: usize,
    is_pattern: bool,
    is_hostname: bool,
    pattern_type: Option<usize>,
    type_: Option<usize>,
    id: Option<usize>,
    description: Option<usize>,
    name: Option<usize>,
    confidence: Option<usize>,
    valid_from: Option<usize>,
    valid_until: Option<usize>,
    campaign: Option<usize>,
    references: Vec<usize>,
    tlp: Option<usize>,
    tags: Vec<usize>,
}

impl Columns {
    fn of(names: &[String]) -> Option<Columns> {
        let lower: Vec<String> = names
            .iter()
            .map(|n| n.trim().trim_start_matches('#').trim().to_ascii_lowercase())
            .collect();
        let (indicator, rank) = lower
            .iter()
            .enumerate()
            .filter_map(|(i, n)| indicator_rank(n).map(|r| (i, r)))
            .min_by_key(|&(_, r)| r)?;
        let find = |cands: &[&str]| cands.iter().find_map(|c| lower.iter().position(|n| n == c));
        let all = |cands: &[&str]| -> Vec<usize> {
            (0..lower.len())
                .filter(|&i| i != indicator && cands.contains(&lower[i].as_str()))
                .collect()
        };
        let name = find(&["name"]).filter(|&i| i != indicator);
        Some(Columns {
            indicator,
            is_pattern: INDICATOR_COLUMNS[rank] == "pattern",
            is_hostname: INDICATOR_COLUMNS[rank] == "hostname",
            pattern_type: find(&["pattern_type"]),
            type_: find(&["type", "ioc_type", "indicator_type"]).filter(|&i| i != indicator),
            id: find(&["id", "ioc_id", "uuid"]).filter(|&i| i != indicator),
            description: find(&["description", "comment"]).filter(|&i| i != indicator),
            name,
            confidence: find(&["confidence", "confidence_level"]),
            valid_from: find(&["valid_from"]),
            valid_until: find(&["valid_until"]),
            campaign: find(&["campaign", "threat_actor", "actor", "intrusion_set"])
                .filter(|&i| i != indicator),
            references: all(&["reference", "references", "link", "source_url"]),
            tlp: find(&["tlp"]),
            tags: all(&[
                "tags",
                "labels",
                "kill_chain",
                "sources",
                "malware",
                "malware_family",
                "threat_type",
                "indicator_types",
            ]),
        })
    }
}

/// What a `type` column value says about the indicator column.
enum TypeHint {
    Any,
    Hostname,
    Unsupported,
}

fn type_hint(t: &str) -> TypeHint {
    match t.trim().to_ascii_lowercase().as_str() {
        "" | "indicator" => TypeHint::Any,
        "hostname" | "fqdn" | "host" => TypeHint::Hostname,
        "domain" | "domain-name" | "domain_name" | "ip" | "ipv4" | "ipv6" | "ip-src" | "ip-dst"
        | "ip-addr" | "ip_addr" | "ipv4-addr" | "ipv6-addr" | "ip:port" | "ip-port" | "ip_port"
        | "url" | "uri" | "cidr" | "subnet" | "network" | "ip-src|port" | "ip-dst|port" => {
            TypeHint::Any
        }
        _ => TypeHint::Unsupported,
    }
}

pub(crate) fn load(ctx: &mut Ctx, text: &[u8]) {
    let Some(header) = find_header(text) else {
        ctx.file_error("no CSV header line found");
        return;
    };
    let Some(cols) = Columns::of(&header.names) else {
        ctx.file_error(format!(
            "CSV header names no indicator column (looked for: {}; found: {})",
            INDICATOR_COLUMNS.join(", "),
            super::clip(&header.names.join(", "), 200)
        ));
        return;
    };
    let records = Records::new(&text[header.data_start..], header.sep, header.lines_before);
    for record in records {
        let (line, fields) = match record {
            Ok(r) => r,
            Err((line, why)) => {
                ctx.bad(line, "malformed CSV", why);
                continue;
            }
        };
        let fields: Vec<&str> = match fields.iter().map(|f| std::str::from_utf8(f)).collect() {
            Ok(f) => f,
            Err(_) => {
                ctx.bad(line, "invalid UTF-8", "line is not valid UTF-8");
                continue;
            }
        };
        load_row(ctx, &cols, line, &fields);
    }
}

fn load_row(ctx: &mut Ctx, cols: &Columns, line: usize, fields: &[&str]) {
    let get = |i: Option<usize>| {
        i.and_then(|i| fields.get(i))
            .map(|f| f.trim())
            .filter(|f| !f.is_empty())
    };
    let Some(value) = get(Some(cols.indicator)) else {
        if fields.len() <= cols.indicator {
            let n = fields.len();
            ctx.bad(
                line,
                "malformed CSV",
                format!(
                    "row has {n} fields, the indicator is in column {}",
                    cols.indicator + 1
                ),
            );
        } else {
            ctx.bad(line, "empty value", "empty indicator value");
        }
        return;
    };
    let mut source = ctx.source();
    source.id = get(cols.id).map(String::from);
    source.description = get(cols.description)
        .or_else(|| get(cols.name).filter(|n| *n != value && !value.contains(&format!("'{n}'"))))
        .map(String::from);
    source.confidence =
        get(cols.confidence).and_then(|c| super::confidence(&serde_json::Value::String(c.into())));
    for (col, slot, key) in [
        (cols.valid_from, &mut source.valid_from_us, "valid_from"),
        (cols.valid_until, &mut source.valid_until_us, "valid_until"),
    ] {
        if let Some(t) = get(col) {
            match parse_rfc3339_us(t) {
                Some(us) => *slot = Some(us),
                None => {
                    let why = format!("bad {key} (not an RFC 3339 timestamp): {}", super::shown(t));
                    return ctx.bad(line, "bad timestamp", why);
                }
            }
        }
    }
    source.campaign = get(cols.campaign).map(String::from);
    for &i in &cols.references {
        split_list(get(Some(i)), &mut source.references);
    }
    if let Some(tlp) = get(cols.tlp) {
        let tlp = tlp.to_ascii_lowercase();
        let tag = if tlp.starts_with("tlp:") {
            tlp
        } else {
            format!("tlp:{tlp}")
        };
        stix::push_unique(&mut source.tags, &tag);
    }
    for &i in &cols.tags {
        split_list(get(Some(i)), &mut source.tags);
    }
    if cols.is_pattern {
        match get(cols.pattern_type)
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("stix") => stix::load_pattern(ctx, value, source, || line),
            Some(other) => ctx.skip(&format!("pattern_type {other}")),
        }
        return;
    }
    let mut exact = cols.is_hostname;
    match get(cols.type_).map(type_hint) {
        Some(TypeHint::Unsupported) => {
            let t = get(cols.type_).unwrap_or_default().to_ascii_lowercase();
            return ctx.skip(&format!("CSV type {t}"));
        }
        Some(TypeHint::Hostname) => exact = true,
        Some(TypeHint::Any) => {}
        None if looks_like_hash(value) => return ctx.skip("hash value"),
        None => {}
    }
    match classify(value) {
        Ok(indicator) => ctx.add(&indicator, exact, source),
        Err(why) => ctx.bad(line, "invalid value", why),
    }
}

fn split_list(value: Option<&str>, out: &mut Vec<String>) {
    for item in value.unwrap_or_default().split(',') {
        stix::push_unique(out, item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intel::set::{IndicatorSetBuilder, Kind, Source};
    use crate::intel::{FeedError, IndicatorSet};

    fn run(text: &[u8]) -> (IndicatorSet, Vec<String>, Vec<(String, usize)>) {
        let mut b = IndicatorSetBuilder::new();
        let mut errors: Vec<FeedError> = Vec::new();
        let mut ctx = Ctx::new("f.csv", &mut b, &mut errors);
        load(&mut ctx, super::super::strip_bom(text));
        let skipped = ctx.skipped.clone().into_iter().collect();
        (
            b.build(),
            errors.iter().map(|e| e.to_string()).collect(),
            skipped,
        )
    }

    fn source_of(set: &IndicatorSet, name: &str) -> Source {
        let mut s = None;
        set.match_name(name.as_bytes(), |h| {
            s = Some(set.source(set.entry(h.entry)).clone())
        });
        s.unwrap_or_else(|| panic!("{name} not loaded"))
    }

    #[test]
    fn sekoia_export_with_stix_patterns() {
        let text = b"\xEF\xBB\xBFtlp,id,type,name,pattern,pattern_type,valid_from,valid_until,confidence,kill_chain,sources\r\n\
white,indicator--1,indicator,api.example.com,[domain-name:value = 'api.example.com'],stix,2021-01-01T00:00:00Z,2022-01-01T00:00:00Z,100,\"c2 (lm), c2 (mitre)\",\"SEKOIA C2 Tracker, SEKOIA\"\r\n\
white,indicator--2,indicator,81.236.182.199,[ipv4-addr:value = '81.236.182.199'],stix,,,90,,\r\n\
white,indicator--3,indicator,x,[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e'],stix,,,,,\r\n\
white,indicator--4,indicator,y,rule x {},yara,,,,,\r\n\
white,indicator--5,indicator,z,[domain-name:value = 'a.example',stix,,,,,\r\n";
        let (set, errors, skipped) = run(text);
        assert_eq!(set.counts().get(Kind::Domain), 1);
        assert_eq!(set.counts().get(Kind::Address), 1);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("f.csv:6: malformed STIX pattern"),
            "{errors:?}"
        );
        assert_eq!(
            skipped,
            [
                ("STIX pattern on file".into(), 1),
                ("malformed STIX pattern".into(), 1),
                ("pattern_type yara".into(), 1)
            ]
        );
        let s = source_of(&set, "api.example.com");
        assert_eq!(s.id.as_deref(), Some("indicator--1"));
        assert_eq!(s.description, None, "the name repeats the value");
        assert_eq!(s.confidence, Some(100));
        assert_eq!(s.valid_from_us, Some(1_609_459_200_000_000));
        assert_eq!(s.valid_until_us, Some(1_640_995_200_000_000));
        assert_eq!(
            s.tags,
            [
                "tlp:white",
                "c2 (lm)",
                "c2 (mitre)",
                "SEKOIA C2 Tracker",
                "SEKOIA"
            ]
        );
    }

    #[test]
    fn plain_values_quotes_and_types() {
        let text = b"# exported\n\
# \"first_seen_utc\";\"ioc_value\";\"ioc_type\";\"comment\"\n\
\"2024-01-01 00:00:00\";\"evil[.]com\";\"domain\";\"said \"\"hi\"\"\"\n\
\"2024\";\"host.example\";\"hostname\";\"\"\n\
\"2024\";\"1.2.3.4:443\";\"ip:port\";\"multi\nline\"\n\
\"2024\";\"d41d8cd98f00b204e9800998ecf8427e\";\"md5_hash\";\"\"\n\
\"2024\";\"exa mple\";\"domain\";\"\"\n\
\"2024\";\"unterminated;domain\n";
        let (set, errors, skipped) = run(text);
        assert_eq!(set.counts().get(Kind::Domain), 1);
        assert_eq!(set.counts().get(Kind::Hostname), 1);
        assert_eq!(set.counts().get(Kind::Address), 1);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors[0].starts_with("f.csv:8: not an IP, domain or URL"),
            "{errors:?}"
        );
        assert_eq!(errors[1], "f.csv:9: unterminated quoted field");
        assert_eq!(
            skipped
                .iter()
                .find(|(r, _)| r == "CSV type md5_hash")
                .map(|x| x.1),
            Some(1)
        );
        assert_eq!(
            source_of(&set, "a.evil.com").description.as_deref(),
            Some("said \"hi\"")
        );
    }

    #[test]
    fn hostile_csv() {
        let (set, errors, _) = run(b"first_seen,comment,tags\n2021,x,y\n");
        assert!(set.is_empty());
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].starts_with("f.csv: CSV header names no indicator column"),
            "{errors:?}"
        );

        let mut big = b"ioc,comment\n".to_vec();
        big.extend(std::iter::repeat_n(b'a', 1 << 20));
        big.extend(
            b",x\n\xff\xfe,y\nok.example,\"\xff\"\nd41d8cd98f00b204e9800998ecf8427e\nshort\n",
        );
        let (set, errors, skipped) = run(&big);
        assert_eq!(set.counts().total(), 1, "{errors:?}");
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(
            errors[0].starts_with("f.csv:2: value longer than"),
            "{errors:?}"
        );
        assert_eq!(errors[1], "f.csv:3: line is not valid UTF-8");
        assert_eq!(errors[2], "f.csv:4: line is not valid UTF-8");
        assert_eq!(
            skipped.iter().find(|(r, _)| r == "hash value").map(|x| x.1),
            Some(1)
        );
    }

    #[test]
    fn duplicates_with_other_metadata_are_both_kept() {
        let (set, errors, _) =
            run(b"indicator,description\nevil.com,first\nevil.com,second\nevil.com,second\n");
        assert!(errors.is_empty());
        assert_eq!(set.counts().get(Kind::Domain), 2);
    }
}
