//! MISP event exports (JSON): `{"Event": {...}}`, `{"response": [{"Event": {...}}, ...]}`, a
//! JSON array of `{"Event": ...}`, and `{"response": {"Attribute": [...]}}` (attribute search).
//!
//! Attributes are read from `Event.Attribute[]` and `Event.Object[].Attribute[]`:
//!
//! | MISP type | indicator |
//! |---|---|
//! | `domain` | domain (the name and its subdomains) |
//! | `hostname` | exact host name |
//! | `ip-src`, `ip-dst` | address (or network, when given in CIDR form) |
//! | `ip-src\|port`, `ip-dst\|port` | address limited to that port |
//! | `domain\|ip` | both: the domain and the address |
//! | `url` | URL (or host, when the URL has no path) |
//! | `uri` | URL path on any host (a value with a host is read as a URL) |
//! | `link` | not an indicator: a reference of every indicator of the event |
//!
//! Other types (hashes, file names, text, ...) and deleted attributes are skipped and counted.
//! Attributes load whatever their `to_ids` flag says (publishers such as ESET ship C&C
//! domains with `to_ids: false`); the flag is kept as the tag `to_ids:true`/`to_ids:false`.
//!
//! Metadata kept in the [`Source`]: the event's threat-actor galaxy cluster (from
//! `Galaxy[type=threat-actor]`, else a `misp-galaxy:threat-actor="..."` tag) → campaign; the
//! event's `info` → description, followed by the attribute's `comment` in parentheses when it
//! has one; event `Tag[].name` + attribute `Tag[].name` + `to_ids:...` → tags; the event's
//! `link` attributes → references; the attribute's `uuid` → id.

use serde_json::{Map, Value};

use super::{Ctx, KeyLines};
use crate::intel::normalize::{classify, normalize_domain, refang, Indicator};
use crate::intel::set::Source;

pub(crate) fn load(ctx: &mut Ctx, text: &[u8]) {
    let doc: Value = match serde_json::from_slice(text) {
        Ok(v) => v,
        Err(e) => {
            ctx.bad(e.line(), "not valid JSON", format!("not valid JSON: {e}"));
            return;
        }
    };
    let events = events_of(&doc);
    if events.is_empty() {
        ctx.file_error("no MISP event found (expected \"Event\" or \"response\")");
        return;
    }
    let mut uuid_lines = KeyLines::new(text, b"\"uuid\"");
    for event in events {
        load_event(ctx, event, &mut uuid_lines);
    }
}

fn events_of(doc: &Value) -> Vec<&Map<String, Value>> {
    fn event_in(v: &Value) -> Option<&Map<String, Value>> {
        match v.get("Event") {
            Some(Value::Object(e)) => Some(e),
            _ => None,
        }
    }
    match doc {
        Value::Object(o) => match (o.get("Event"), o.get("response")) {
            (Some(Value::Object(e)), _) => vec![e],
            (_, Some(Value::Array(list))) => list.iter().filter_map(event_in).collect(),
            (_, Some(Value::Object(r))) if r.contains_key("Attribute") => vec![r],
            _ => Vec::new(),
        },
        Value::Array(list) => list.iter().filter_map(event_in).collect(),
        _ => Vec::new(),
    }
}

fn tag_names(v: Option<&Value>) -> impl Iterator<Item = &str> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| t.get("name").and_then(Value::as_str))
}

fn attributes(event: &Map<String, Value>) -> impl Iterator<Item = &Value> {
    let top = event
        .get("Attribute")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    let in_objects = event
        .get("Object")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|o| o.get("deleted").and_then(Value::as_bool) != Some(true))
        .flat_map(|o| {
            o.get("Attribute")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        });
    top.chain(in_objects)
}

fn threat_actor(event: &Map<String, Value>) -> Option<String> {
    let galaxies = event
        .get("Galaxy")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    for g in galaxies.filter(|g| g.get("type").and_then(Value::as_str) == Some("threat-actor")) {
        let clusters = g
            .get("GalaxyCluster")
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        if let Some(name) = clusters
            .filter_map(|c| c.get("value").and_then(Value::as_str))
            .next()
        {
            return Some(name.to_string());
        }
    }
    tag_names(event.get("Tag")).find_map(|t| {
        let name = t.strip_prefix("misp-galaxy:threat-actor=")?;
        Some(name.trim_matches('"').to_string())
    })
}

fn load_event(ctx: &mut Ctx, event: &Map<String, Value>, uuid_lines: &mut KeyLines) {
    let mut base = ctx.source();
    base.campaign = threat_actor(event);
    let info = event
        .get("info")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty());
    for tag in tag_names(event.get("Tag")) {
        super::stix::push_unique(&mut base.tags, tag);
    }
    for a in attributes(event) {
        if a.get("type").and_then(Value::as_str) == Some("link")
            && a.get("deleted").and_then(Value::as_bool) != Some(true)
        {
            if let Some(url) = a.get("value").and_then(Value::as_str) {
                super::stix::push_unique(&mut base.references, url);
            }
        }
    }
    for a in attributes(event) {
        load_attribute(ctx, a, &base, info, uuid_lines);
    }
}

fn load_attribute(
    ctx: &mut Ctx,
    a: &Value,
    base: &Source,
    info: Option<&str>,
    uuid_lines: &mut KeyLines,
) {
    let uuid = a.get("uuid").and_then(Value::as_str);
    let Some(ty) = a.get("type").and_then(Value::as_str) else {
        let line = uuid_lines.line_of(uuid);
        return ctx.bad(
            line,
            "MISP attribute without type",
            "MISP attribute has no \"type\"",
        );
    };
    if a.get("deleted").and_then(Value::as_bool) == Some(true) {
        return ctx.skip("deleted");
    }
    if !matches!(
        ty,
        "domain"
            | "hostname"
            | "ip-src"
            | "ip-dst"
            | "ip-src|port"
            | "ip-dst|port"
            | "domain|ip"
            | "url"
            | "uri"
    ) {
        return ctx.skip(&format!("MISP type {ty}"));
    }
    let Some(value) = a.get("value").and_then(Value::as_str).map(str::trim) else {
        let line = uuid_lines.line_of(uuid);
        return ctx.bad(
            line,
            "invalid value",
            format!("MISP {ty} attribute has no string \"value\""),
        );
    };
    let found = match indicators(ty, value) {
        Ok(found) => found,
        Err(why) => {
            let line = uuid_lines.line_of(uuid);
            return ctx.bad(
                line,
                "invalid value",
                format!("MISP {ty} {}: {why}", super::shown(value)),
            );
        }
    };
    let mut source = base.clone();
    source.id = uuid.map(String::from);
    let comment = a
        .get("comment")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty());
    source.description = match (info, comment) {
        (Some(i), Some(c)) => Some(format!("{i} ({c})")),
        (i, c) => i.or(c).map(String::from),
    };
    for tag in tag_names(a.get("Tag")) {
        super::stix::push_unique(&mut source.tags, tag);
    }
    let to_ids = match a.get("to_ids") {
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::String(s)) => Some(s == "1" || s.eq_ignore_ascii_case("true")),
        _ => None,
    };
    if let Some(to_ids) = to_ids {
        source.tags.push(format!("to_ids:{to_ids}"));
    }
    ctx.add_all(&found, source);
}

/// The indicators of one attribute: `(indicator, exact_host)`.
fn indicators(ty: &str, value: &str) -> Result<Vec<(Indicator, bool)>, String> {
    let name = |v: &str| {
        normalize_domain(refang(v).trim())
            .map(Indicator::Domain)
            .map_err(String::from)
    };
    let address = |v: &str| match classify(v) {
        Ok(ind @ (Indicator::Address { port: None, .. } | Indicator::Network { .. })) => Ok(ind),
        Ok(_) => Err("not an IP address".to_string()),
        Err(why) => Err(why),
    };
    fn pair(v: &str) -> Result<(&str, &str), String> {
        v.split_once('|')
            .ok_or_else(|| "expected two values separated by '|'".to_string())
    }
    Ok(match ty {
        "domain" => vec![(name(value)?, false)],
        "hostname" => vec![(name(value)?, true)],
        "ip-src" | "ip-dst" => vec![(address(value)?, false)],
        "ip-src|port" | "ip-dst|port" => {
            let (ip, port) = pair(value)?;
            let addr = match address(ip)? {
                Indicator::Address { addr, .. } => addr,
                _ => return Err("a network cannot have a port".into()),
            };
            let port = port
                .trim()
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or("bad port")?;
            vec![(
                Indicator::Address {
                    addr,
                    port: Some(port),
                },
                false,
            )]
        }
        "domain|ip" => {
            let (domain, ip) = pair(value)?;
            vec![(name(domain)?, false), (address(ip)?, false)]
        }
        "uri" if value.starts_with('/') => vec![(Indicator::UrlPath(value.to_string()), false)],
        "url" | "uri" => vec![(classify(value)?, false)],
        _ => unreachable!("types filtered by the caller"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intel::set::{IndicatorSetBuilder, Kind};
    use crate::intel::{FeedError, IndicatorSet};

    fn run(text: &str) -> (IndicatorSet, Vec<String>, Vec<(String, usize)>) {
        let mut b = IndicatorSetBuilder::new();
        let mut errors: Vec<FeedError> = Vec::new();
        let mut ctx = Ctx::new("e.json", &mut b, &mut errors);
        load(&mut ctx, text.as_bytes());
        let skipped = ctx.skipped.clone().into_iter().collect();
        (
            b.build(),
            errors.iter().map(|e| e.to_string()).collect(),
            skipped,
        )
    }

    const EVENT: &str = r#"{"response": [{"Event": {
  "info": "Operation X",
  "Tag": [{"name": "tlp:white"}, {"name": "misp-galaxy:threat-actor=\"Sofacy\""}],
  "Attribute": [
    {"uuid": "a1", "type": "domain", "value": "evil.example", "to_ids": true, "comment": "C&C",
     "Tag": [{"name": "kill-chain:c2"}]},
    {"uuid": "a2", "type": "hostname", "value": "host.example", "to_ids": false},
    {"uuid": "a3", "type": "ip-dst|port", "value": "203.0.113.5|8443", "to_ids": true},
    {"uuid": "a4", "type": "domain|ip", "value": "pair.example|198.51.100.7"},
    {"uuid": "a5", "type": "uri", "value": "/gate.php"},
    {"uuid": "a6", "type": "url", "value": "http://203.0.113.6/x.zip"},
    {"uuid": "a7", "type": "sha1", "value": "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
    {"uuid": "a8", "type": "link", "value": "https://blog.example/x"},
    {"uuid": "a9", "type": "ip-src", "value": "not an ip"},
    {"uuid": "a10", "type": "domain", "value": "gone.example", "deleted": true}
  ],
  "Object": [{"name": "domain-ip", "Attribute": [
    {"uuid": "o1", "type": "ip-src", "value": "192.0.2.0/24"},
    {"uuid": "o2", "type": "ip-src|port", "value": "192.0.2.9|0"}
  ]}]
}}]}"#;

    #[test]
    fn loads_attributes_and_object_attributes() {
        let (set, errors, skipped) = run(EVENT);
        let c = set.counts();
        assert_eq!(
            [
                c.get(Kind::Domain),
                c.get(Kind::Hostname),
                c.get(Kind::Address),
                c.get(Kind::Network),
                c.get(Kind::Url),
                c.get(Kind::UrlPath)
            ],
            [2, 1, 2, 1, 1, 1]
        );
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors[0].starts_with("e.json:14: MISP ip-src \"not an ip\""),
            "{errors:?}"
        );
        assert!(
            errors[1].starts_with("e.json:19: MISP ip-src|port \"192.0.2.9|0\": bad port"),
            "{errors:?}"
        );
        assert_eq!(
            skipped,
            [
                ("MISP type link".into(), 1),
                ("MISP type sha1".into(), 1),
                ("deleted".into(), 1),
                ("invalid value".into(), 2)
            ]
        );
        let mut src = None;
        set.match_name(b"www.evil.example", |h| {
            src = Some(set.source(set.entry(h.entry)).clone())
        });
        let s = src.unwrap();
        assert_eq!(s.campaign.as_deref(), Some("Sofacy"));
        assert_eq!(s.description.as_deref(), Some("Operation X (C&C)"));
        assert_eq!(
            s.tags,
            [
                "tlp:white",
                "misp-galaxy:threat-actor=\"Sofacy\"",
                "kill-chain:c2",
                "to_ids:true"
            ]
        );
        assert_eq!(s.references, ["https://blog.example/x"]);
        assert_eq!(s.id.as_deref(), Some("a1"));
        let mut n = 0;
        set.match_name(b"a.host.example", |_| n += 1);
        assert_eq!(n, 0, "hostname is exact");
        set.match_addr("203.0.113.5".parse().unwrap(), 8443, |_| n += 1);
        set.match_addr("203.0.113.5".parse().unwrap(), 80, |_| n += 10);
        assert_eq!(n, 1);
    }

    #[test]
    fn other_shapes_and_errors() {
        let (set, errors, _) =
            run(r#"{"Event": {"Attribute": [{"type": "domain", "value": "a.example"}]}}"#);
        assert_eq!(set.counts().total(), 1, "{errors:?}");
        let (set, _, _) =
            run(r#"[{"Event": {"Attribute": [{"type": "domain", "value": "a.example"}]}}]"#);
        assert_eq!(set.counts().total(), 1);
        let (_, errors, _) = run(r#"{"response": []}"#);
        assert_eq!(
            errors,
            ["e.json: no MISP event found (expected \"Event\" or \"response\")"]
        );
        let (_, errors, _) = run("{\"Event\":\n {\"info\": }}");
        assert!(
            errors[0].starts_with("e.json:2: not valid JSON"),
            "{errors:?}"
        );
    }
}
