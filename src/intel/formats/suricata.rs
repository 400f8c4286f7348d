//! Suricata dataset files (`dataset:` / `datarep:` keywords, `load <file>`): one value a line.
//!
//! - `string` sets: each line is the base64 of the string (Suricata's own encoding); decoded,
//!   then classified. Suricata compares dataset strings exactly, so a name becomes an exact
//!   host name (not its subdomains); a path (`http.uri` sets) a URL path on any host.
//! - `ip`, `ipv4`, `ipv6` sets: each line is an address (a CIDR network is accepted too).
//! - `datarep` files add `,<reputation>` to each line: kept as the tag `rep=<n>`.
//! - `md5`, `sha1`, `sha256` sets (hex digests) cannot be matched on the wire: skipped as
//!   `hash value`.
//!
//! Detection (`is_dataset`): every non-empty line must be one of the above; and either the
//! file name ends in `.dataset`, `.lst` or `.data`, or some line is base64 whose decoded text
//! contains `.`, `/` or `:` (so a plain list of names, which can never be valid base64 since
//! `.` is not in its alphabet, is never taken for a dataset). A list of bare addresses under
//! another name is read as a plain list, which gives the same indicators.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::{lines, looks_like_hash, Ctx};
use crate::intel::normalize::{classify, Indicator, MAX_VALUE_LEN};

/// Longest base64 line decoded: the base64 of the longest value [`classify`] accepts.
const MAX_LINE_LEN: usize = MAX_VALUE_LEN.div_ceil(3) * 4 + 32;

/// Is this a Suricata dataset file? See the module documentation.
pub(crate) fn is_dataset(path: &str, text: &[u8]) -> bool {
    let name = super::plain::feed_name(path).to_ascii_lowercase();
    let hinted = [".dataset", ".lst", ".data"]
        .iter()
        .any(|ext| name.ends_with(ext));
    let mut any = false;
    let mut indicator_like = false;
    for (_, line) in lines(text) {
        let Ok(line) = std::str::from_utf8(line.trim_ascii()) else {
            return false;
        };
        if line.is_empty() {
            continue;
        }
        any = true;
        match entry(line) {
            Some(Entry::Text(t)) => indicator_like |= t.contains(['.', '/', ':']),
            Some(Entry::Address | Entry::Hash) => {}
            None => return false,
        }
    }
    any && (hinted || indicator_like)
}

enum Entry {
    Text(String),
    Address,
    Hash,
}

/// What a line (reputation removed) is, when it is a dataset line at all.
fn entry(line: &str) -> Option<Entry> {
    let (value, _) = split_rep(line);
    if value.parse::<std::net::IpAddr>().is_ok() {
        return Some(Entry::Address);
    }
    if looks_like_hash(value) {
        return Some(Entry::Hash);
    }
    decode(value).ok().map(Entry::Text)
}

/// `value,rep` → (`value`, `Some(rep)`).
fn split_rep(line: &str) -> (&str, Option<&str>) {
    match line.rsplit_once(',') {
        Some((v, rep))
            if !rep.trim().is_empty()
                && rep.trim().bytes().all(|b| b.is_ascii_digit() || b == b'.') =>
        {
            (v.trim(), Some(rep.trim()))
        }
        _ => (line.trim(), None),
    }
}

/// Decode one base64 line into printable text.
fn decode(value: &str) -> Result<String, String> {
    if value.len() > MAX_LINE_LEN {
        return Err(format!("value longer than {MAX_LINE_LEN} bytes"));
    }
    let bytes = STANDARD
        .decode(value)
        .map_err(|_| "neither an IP address nor base64".to_string())?;
    let text = String::from_utf8(bytes)
        .map_err(|_| "base64 value does not decode to UTF-8 text".to_string())?;
    if text.is_empty() || text.chars().any(char::is_control) {
        return Err("base64 value does not decode to printable text".into());
    }
    Ok(text)
}

pub(crate) fn load(ctx: &mut Ctx, text: &[u8]) {
    for (line_no, raw) in lines(text) {
        let Ok(line) = std::str::from_utf8(raw) else {
            ctx.bad(line_no, "invalid UTF-8", "line is not valid UTF-8");
            continue;
        };
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (value, rep) = split_rep(line);
        let parsed = if let Ok(addr) = value.parse() {
            Ok((Indicator::Address { addr, port: None }, false))
        } else if value
            .split_once('/')
            .is_some_and(|(ip, _)| ip.parse::<std::net::IpAddr>().is_ok())
        {
            classify(value).map(|ind| (ind, false))
        } else if looks_like_hash(value) {
            ctx.skip("hash value");
            continue;
        } else {
            decode(value).and_then(|s| {
                classify(s.trim())
                    .map(|ind| {
                        let exact = matches!(ind, Indicator::Domain(_));
                        (ind, exact)
                    })
                    .map_err(|why| format!("decoded {}: {why}", super::shown(&s)))
            })
        };
        match parsed {
            Ok((indicator, exact)) => {
                let mut source = ctx.source();
                if let Some(rep) = rep {
                    source.tags.push(format!("rep={rep}"));
                }
                ctx.add(&indicator, exact, source);
            }
            Err(why) => ctx.bad(line_no, "invalid value", why),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intel::set::{IndicatorSetBuilder, Kind};
    use crate::intel::FeedError;

    fn b64(s: &str) -> String {
        STANDARD.encode(s)
    }

    #[test]
    fn detection_needs_base64_or_a_hint() {
        let strings = format!("{}\n{}\r\n", b64("evil.example"), b64("/gate.php"));
        assert!(is_dataset("x", strings.as_bytes()));
        assert!(is_dataset("x.lst", b"1.2.3.4\n2001:db8::1,10\n"));
        assert!(!is_dataset("x.txt", b"1.2.3.4\n"));
        assert!(!is_dataset("x.lst", b"evil.example\n"));
        assert!(
            !is_dataset("x", b"abcd\n"),
            "base64 of no indicator-like text, no hint"
        );
        assert!(!is_dataset("x.lst", b""));
    }

    #[test]
    fn loads_string_and_ip_sets() {
        let text = format!(
            "{}\n{},42\n{}\n1.2.3.4\n2001:db8::/32\nd41d8cd98f00b204e9800998ecf8427e\nnot*base64\n{}\nBAD\n{}\n",
            b64("Evil.Example"),
            b64("/gate.php"),
            b64("http://bad.example/x"),
            b64("exa mple"),
            "QUJD".repeat(1 << 18),
        );
        let text = text.replace("BAD", "\u{1}").into_bytes();
        let text: Vec<u8> = text
            .into_iter()
            .map(|b| if b == 1 { 0xff } else { b })
            .collect();
        let mut b = IndicatorSetBuilder::new();
        let mut errors: Vec<FeedError> = Vec::new();
        let mut ctx = Ctx::new("s.lst", &mut b, &mut errors);
        load(&mut ctx, &text);
        assert_eq!(ctx.skipped.get("hash value"), Some(&1));
        let set = b.build();
        let c = set.counts();
        assert_eq!(
            (
                c.get(Kind::Hostname),
                c.get(Kind::UrlPath),
                c.get(Kind::Url),
                c.get(Kind::Address),
                c.get(Kind::Network)
            ),
            (1, 1, 1, 1, 1)
        );
        let msgs: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(msgs.len(), 4, "{msgs:?}");
        assert_eq!(msgs[0], "s.lst:7: neither an IP address nor base64");
        assert!(
            msgs[1].starts_with("s.lst:8: decoded \"exa mple\""),
            "{msgs:?}"
        );
        assert_eq!(msgs[2], "s.lst:9: line is not valid UTF-8");
        assert!(
            msgs[3].starts_with("s.lst:10: value longer than"),
            "{msgs:?}"
        );
        let mut tags = Vec::new();
        set.match_url(b"any.example", b"/gate.php", |id| {
            tags = set.source(set.entry(id)).tags.clone()
        });
        assert_eq!(tags, ["rep=42"]);
        let mut n = 0;
        set.match_name(b"www.evil.example", |_| n += 1);
        assert_eq!(n, 0, "dataset strings are exact");
    }
}
