//! Zeek Intel framework files: tab-separated, with a `#fields` header naming the columns
//! (`#fields indicator indicator_type meta.source meta.desc ...`), `-` for an unset field.
//! A `#separator` directive (`#separator \x09`) changes the separator; other `#` lines are
//! comments.
//!
//! | `indicator_type` | indicator |
//! |---|---|
//! | `Intel::ADDR` | address |
//! | `Intel::SUBNET` | network |
//! | `Intel::DOMAIN` | exact host name (Zeek matches the whole name, not its subdomains) |
//! | `Intel::URL` | URL (Zeek writes them without the scheme: `host/path`); a URL without a path is an exact host name |
//!
//! Other types (`Intel::EMAIL`, `Intel::FILE_HASH`, `Intel::CERT_HASH`, `Intel::SOFTWARE`, ...)
//! are skipped and counted as `Zeek type <type>`.
//!
//! Metadata kept in the [`Source`](crate::intel::Source): `meta.desc` → description, `meta.url` → references, every
//! other set `meta.*` column → a tag `meta.<name>=<value>` (`meta.source=CPS-CTI`).

use super::{lines, shown, Ctx};
use crate::intel::normalize::{classify, normalize_domain, Indicator};

/// Zeek's header directives that may come before `#fields`.
const DIRECTIVES: &[&[u8]] = &[
    b"#separator",
    b"#set_separator",
    b"#empty_field",
    b"#unset_field",
    b"#path",
    b"#open",
];

/// Does the first non-empty line (after Zeek's directives) start with `#fields`?
pub(crate) fn is_zeek(text: &[u8]) -> bool {
    for (_, line) in lines(text) {
        let line = line.trim_ascii();
        if line.is_empty() || DIRECTIVES.iter().any(|d| line.starts_with(d)) {
            continue;
        }
        return line.starts_with(b"#fields");
    }
    false
}

/// `\x09`-style escapes, as Zeek writes its separator.
fn unescape(s: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("\\x") {
        out.push_str(&rest[..i]);
        let hex = rest.get(i + 2..i + 4)?;
        out.push(char::from(u8::from_str_radix(hex, 16).ok()?));
        rest = &rest[i + 4..];
    }
    out.push_str(rest);
    (!out.is_empty()).then_some(out)
}

pub(crate) fn load(ctx: &mut Ctx, text: &[u8]) {
    let mut sep = String::from("\t");
    let mut header: Option<(Vec<String>, usize, usize)> = None; // (names, indicator, type)
    for (line_no, raw) in lines(text) {
        let Ok(line) = std::str::from_utf8(raw) else {
            ctx.bad(line_no, "invalid UTF-8", "line is not valid UTF-8");
            continue;
        };
        if line.trim().is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("#separator") {
            match unescape(rest.trim()) {
                Some(s) => sep = s,
                None => ctx.bad(line_no, "bad header", "bad #separator"),
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("#fields") {
            let names: Vec<String> = rest
                .split(sep.as_str())
                .map(|n| n.trim().to_string())
                .filter(|n| !n.is_empty())
                .collect();
            let find = |want: &str| names.iter().position(|n| n == want);
            match (find("indicator"), find("indicator_type")) {
                (Some(i), Some(t)) => header = Some((names, i, t)),
                _ => {
                    ctx.file_error(format!(
                        "line {line_no}: #fields names no indicator and indicator_type columns"
                    ));
                    return;
                }
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let Some((names, ind_col, type_col)) = &header else {
            ctx.file_error(format!("line {line_no}: data before the #fields header"));
            return;
        };
        let fields: Vec<&str> = line.split(sep.as_str()).collect();
        let field = |i: usize| {
            fields
                .get(i)
                .map(|f| f.trim())
                .filter(|f| !f.is_empty() && *f != "-")
        };
        if fields.len() < names.len() {
            let reason = format!("expected {} fields, found {}", names.len(), fields.len());
            if field(*ind_col).is_none() || field(*type_col).is_none() {
                ctx.bad(line_no, "malformed line", reason);
                continue;
            }
        }
        let (Some(value), Some(ty)) = (field(*ind_col), field(*type_col)) else {
            ctx.bad(
                line_no,
                "malformed line",
                "indicator or indicator_type is unset",
            );
            continue;
        };
        let parsed = match ty {
            "Intel::ADDR" => value
                .parse()
                .map(|addr| (Indicator::Address { addr, port: None }, false))
                .map_err(|_| format!("Intel::ADDR {} is not an IP address", shown(value))),
            "Intel::SUBNET" => match classify(value) {
                Ok(ind @ Indicator::Network { .. })
                | Ok(ind @ Indicator::Address { port: None, .. })
                    if value.contains('/') =>
                {
                    Ok((ind, false))
                }
                _ => Err(format!(
                    "Intel::SUBNET {} is not a CIDR network",
                    shown(value)
                )),
            },
            "Intel::DOMAIN" => normalize_domain(value)
                .map(|d| (Indicator::Domain(d), true))
                .map_err(|why| format!("Intel::DOMAIN {}: {why}", shown(value))),
            "Intel::URL" => classify(value)
                .map(|ind| {
                    let exact = matches!(ind, Indicator::Domain(_));
                    (ind, exact)
                })
                .map_err(|why| format!("Intel::URL: {why}")),
            other => {
                ctx.skip(&format!("Zeek type {other}"));
                continue;
            }
        };
        let (indicator, exact) = match parsed {
            Ok(p) => p,
            Err(why) => {
                ctx.bad(line_no, "invalid value", why);
                continue;
            }
        };
        let mut source = ctx.source();
        for (i, name) in names.iter().enumerate() {
            let (Some(meta), Some(v)) = (name.strip_prefix("meta."), field(i)) else {
                continue;
            };
            match meta {
                "desc" => source.description = Some(v.to_string()),
                "url" => super::stix::push_unique(&mut source.references, v),
                _ => source.tags.push(format!("{name}={v}")),
            }
        }
        ctx.add(&indicator, exact, source);
    }
    if header.is_none() {
        ctx.file_error("no #fields header");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intel::set::{IndicatorSetBuilder, Kind};
    use crate::intel::FeedError;

    #[test]
    fn loads_zeek_intel() {
        let text = b"\xEF\xBB\xBF#separator \\x09\r\n#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\tmeta.url\r\n\
evil.example\tIntel::DOMAIN\tCPS-CTI\tNSO\t-\r\n\
203.0.113.1\tIntel::ADDR\tCPS-CTI\t-\thttps://r.example/1\r\n\
10.0.0.0/8\tIntel::SUBNET\tx\t-\t-\r\n\
evil.example/gate.php\tIntel::URL\tx\t-\t-\r\n\
d41d8cd98f00b204e9800998ecf8427e\tIntel::FILE_HASH\tx\t-\t-\r\n\
a@b.example\tIntel::EMAIL\tx\t-\t-\r\n\
not-an-ip\tIntel::ADDR\tx\t-\t-\r\n\
\xff\tIntel::DOMAIN\tx\t-\t-\r\n\
short.example\tIntel::DOMAIN\r\n\
short.example\r\n";
        let mut b = IndicatorSetBuilder::new();
        let mut errors: Vec<FeedError> = Vec::new();
        let mut ctx = Ctx::new("z.intel", &mut b, &mut errors);
        load(&mut ctx, super::super::strip_bom(text));
        let skipped = ctx.skipped.clone();
        let set = b.build();
        let c = set.counts();
        assert_eq!(
            (
                c.get(Kind::Hostname),
                c.get(Kind::Address),
                c.get(Kind::Network),
                c.get(Kind::Url)
            ),
            (2, 1, 1, 1)
        );
        let msgs: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            msgs,
            [
                "z.intel:9: Intel::ADDR \"not-an-ip\" is not an IP address",
                "z.intel:10: line is not valid UTF-8",
                "z.intel:12: expected 5 fields, found 1",
            ]
        );
        assert_eq!(skipped.get("Zeek type Intel::FILE_HASH"), Some(&1));
        assert_eq!(skipped.get("Zeek type Intel::EMAIL"), Some(&1));
        let mut src = Vec::new();
        set.match_name(b"evil.example", |h| {
            src.push(set.source(set.entry(h.entry)).clone())
        });
        assert_eq!(src.len(), 1);
        assert_eq!(src[0].description.as_deref(), Some("NSO"));
        assert_eq!(src[0].tags, ["meta.source=CPS-CTI"]);
        let mut n = 0;
        set.match_name(b"www.evil.example", |_| n += 1);
        assert_eq!(n, 0, "Intel::DOMAIN is exact");
        set.match_addr("203.0.113.1".parse().unwrap(), 1, |id| {
            assert_eq!(
                set.source(set.entry(id)).references,
                ["https://r.example/1"]
            );
            n += 1
        });
        assert_eq!(n, 1);
    }

    #[test]
    fn header_errors() {
        for (text, want) in [
            (
                &b"evil.example\tIntel::DOMAIN\n"[..],
                "f: line 1: data before the #fields header",
            ),
            (
                b"#fields\tvalue\ttype\n",
                "f: line 1: #fields names no indicator and indicator_type columns",
            ),
            (b"", "f: no #fields header"),
        ] {
            let mut b = IndicatorSetBuilder::new();
            let mut errors: Vec<FeedError> = Vec::new();
            load(&mut Ctx::new("f", &mut b, &mut errors), text);
            assert_eq!(
                errors.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
                [want]
            );
        }
    }
}
