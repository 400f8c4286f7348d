//! STIX 2.x: bundles, JSON-lines files of objects, and the indicator pattern language.
//!
//! An `indicator` object loads when its `pattern_type` is `stix` (or absent, as in STIX 2.0)
//! and its pattern is an `OR` of equality comparisons on the objects the sensor can see:
//!
//! | object path | indicator |
//! |---|---|
//! | `domain-name:value` | domain (the name and its subdomains) |
//! | `ipv4-addr:value`, `ipv6-addr:value` | address, or network when given in CIDR form |
//! | `url:value` | URL (or host, when the URL has no path) |
//!
//! Both `[a = 'x' OR b = 'y']` and `[a = 'x'] OR [b = 'y']` are read, and `IN ('x', 'y')` is
//! read as the `OR` it is. Every `OR` branch is sufficient on its own, so the supported
//! branches load even when others are not (a file hash next to a domain); an indicator with
//! no supported branch is skipped and counted under the reason of its first branch. `AND`,
//! `FOLLOWEDBY`, qualifiers (`WITHIN`, `REPEATS`, `START`/`STOP`), `NOT` and operators other
//! than `=` cannot be decided from one observed value and are skipped. Malformed patterns
//! (unbalanced brackets, unterminated strings, ...) are skipped, counted and reported.
//!
//! Metadata kept in the [`Source`]: `name` (else `description`) → description, `confidence`,
//! `valid_from`/`valid_until` (RFC 3339) → validity, `labels` + `indicator_types` +
//! names of malware the indicator `indicates` → tags, `external_references[].url` →
//! references, `id` → id, and the name of the intrusion set, threat actor or campaign the
//! indicator `indicates` (through a `relationship` object in the same file) → campaign.
//! Revoked indicators are skipped. Other objects are counted as `STIX <type> object`.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::{clip, lines, parse_rfc3339_us, shown, trim_ascii, Ctx, KeyLines};
use crate::intel::normalize::{classify, normalize_domain, Indicator};
use crate::intel::set::Source;

/// Deepest nesting of brackets and parentheses accepted in a pattern.
const MAX_PATTERN_DEPTH: usize = 64;

/// Load a STIX bundle (or a lone STIX object, or a JSON array of objects).
pub(crate) fn load_bundle(ctx: &mut Ctx, text: &[u8]) {
    let doc: Value = match serde_json::from_slice(text) {
        Ok(v) => v,
        Err(e) => {
            ctx.bad(e.line(), "not valid JSON", format!("not valid JSON: {e}"));
            return;
        }
    };
    let objects: Vec<Value> = match doc {
        Value::Object(mut o) => match o.get("type").and_then(Value::as_str) {
            Some("bundle") => match o.remove("objects") {
                Some(Value::Array(a)) => a,
                None => Vec::new(),
                Some(_) => {
                    ctx.bad(
                        0,
                        "not a STIX bundle",
                        "STIX bundle: \"objects\" is not an array",
                    );
                    return;
                }
            },
            Some(_) => vec![Value::Object(o)],
            None => {
                ctx.bad(
                    0,
                    "not a STIX bundle",
                    "JSON document is not a STIX bundle (no \"type\" member)",
                );
                return;
            }
        },
        Value::Array(a) => a,
        _ => {
            ctx.bad(0, "not a STIX bundle", "JSON document is not a STIX bundle");
            return;
        }
    };
    let context = Relations::of(objects.iter());
    let mut key_lines = KeyLines::new(text, b"\"id\"");
    for object in &objects {
        load_object(ctx, object, &context, |id| key_lines.line_of(id));
    }
}

/// Load STIX objects written one per line (a line holding a bundle loads its objects).
pub(crate) fn load_json_lines(ctx: &mut Ctx, text: &[u8]) {
    let mut objects = Vec::new();
    for (line_no, line) in lines(text) {
        let line = trim_ascii(line);
        if line.is_empty() {
            continue;
        }
        match serde_json::from_slice::<Value>(line) {
            Ok(Value::Object(mut o)) if o.get("type").and_then(Value::as_str) == Some("bundle") => {
                if let Some(Value::Array(a)) = o.remove("objects") {
                    objects.extend(a.into_iter().map(|v| (line_no, v)));
                }
            }
            Ok(v @ Value::Object(_)) => objects.push((line_no, v)),
            Ok(_) => ctx.bad(line_no, "not a JSON object", "line is not a JSON object"),
            Err(e) => ctx.bad(line_no, "not valid JSON", format!("not valid JSON: {e}")),
        }
    }
    let context = Relations::of(objects.iter().map(|(_, v)| v));
    for (line_no, object) in &objects {
        load_object(ctx, object, &context, |_| *line_no);
    }
}

/// What other objects of the file say about indicators: names of what they indicate.
#[derive(Default)]
struct Relations<'v> {
    /// Indicator id → campaign (intrusion set / threat actor first, then campaign).
    campaign: HashMap<&'v str, (u8, &'v str)>,
    /// Indicator id → malware names.
    malware: HashMap<&'v str, Vec<&'v str>>,
}

impl<'v> Relations<'v> {
    fn of(objects: impl Iterator<Item = &'v Value> + Clone) -> Self {
        let mut names: HashMap<&str, (&str, &str)> = HashMap::new();
        for o in objects.clone() {
            let ty = str_of(o, "type").unwrap_or("");
            if matches!(
                ty,
                "intrusion-set" | "threat-actor" | "campaign" | "malware"
            ) {
                if let (Some(id), Some(name)) = (str_of(o, "id"), str_of(o, "name")) {
                    names.insert(id, (ty, name));
                }
            }
        }
        let mut r = Relations::default();
        for o in objects {
            if str_of(o, "type") != Some("relationship")
                || str_of(o, "relationship_type") != Some("indicates")
            {
                continue;
            }
            let (Some(src), Some(dst)) = (str_of(o, "source_ref"), str_of(o, "target_ref")) else {
                continue;
            };
            let Some(&(ty, name)) = names.get(dst) else {
                continue;
            };
            let rank = match ty {
                "intrusion-set" | "threat-actor" => 0,
                "campaign" => 1,
                _ => {
                    let list = r.malware.entry(src).or_default();
                    if !list.contains(&name) {
                        list.push(name);
                    }
                    continue;
                }
            };
            let best = r.campaign.entry(src).or_insert((rank, name));
            if rank < best.0 {
                *best = (rank, name);
            }
        }
        r
    }
}

fn str_of<'v>(o: &'v Value, key: &str) -> Option<&'v str> {
    o.get(key).and_then(Value::as_str)
}

fn load_object(
    ctx: &mut Ctx,
    object: &Value,
    rel: &Relations,
    mut line_of: impl FnMut(Option<&str>) -> usize,
) {
    let Value::Object(o) = object else {
        ctx.bad(
            line_of(None),
            "not a JSON object",
            "STIX object is not a JSON object",
        );
        return;
    };
    let id = o.get("id").and_then(Value::as_str);
    match o.get("type").and_then(Value::as_str) {
        Some("indicator") => {}
        Some(ty) => return ctx.skip(&format!("STIX {ty} object")),
        None => {
            return ctx.bad(
                line_of(id),
                "STIX object without type",
                "STIX object has no \"type\"",
            )
        }
    }
    if o.get("revoked").and_then(Value::as_bool) == Some(true) {
        return ctx.skip("revoked");
    }
    match o
        .get("pattern_type")
        .and_then(Value::as_str)
        .unwrap_or("stix")
    {
        "stix" => {}
        other => return ctx.skip(&format!("pattern_type {other}")),
    }
    let Some(pattern) = o.get("pattern").and_then(Value::as_str) else {
        return ctx.bad(
            line_of(id),
            "indicator without pattern",
            "STIX indicator has no \"pattern\"",
        );
    };
    let mut source = ctx.source();
    if let Err(why) = fill_source(&mut source, o, rel) {
        let line = line_of(id);
        return ctx.bad(line, "bad timestamp", why);
    }
    load_pattern(ctx, pattern, source, || line_of(id));
}

/// Load the indicators of one STIX pattern with `source`; count or report what cannot load.
/// Shared with the CSV loader (Sekoia's `pattern` column).
pub(crate) fn load_pattern(
    ctx: &mut Ctx,
    pattern: &str,
    source: Source,
    line: impl FnOnce() -> usize,
) {
    match indicators_of(pattern) {
        Ok(found) => ctx.add_all(&found, source),
        Err(Unloadable::Unsupported(reason)) => ctx.skip(&reason),
        Err(Unloadable::BadValue(why)) => {
            let line = line();
            ctx.bad(line, "invalid value", why)
        }
        Err(Unloadable::Malformed(why)) => {
            let line = line();
            ctx.bad(
                line,
                "malformed STIX pattern",
                format!("malformed STIX pattern: {why}"),
            )
        }
    }
}

fn fill_source(s: &mut Source, o: &Map<String, Value>, rel: &Relations) -> Result<(), String> {
    let text = |k: &str| {
        o.get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    s.id = text("id").map(String::from);
    // Sekoia (and others) name an indicator by its value: no description in that.
    let pattern = text("pattern").unwrap_or_default();
    let names_value = |n: &&str| pattern.contains(&format!("'{n}'"));
    s.description = text("name")
        .filter(|n| !names_value(n))
        .or_else(|| text("description"))
        .map(String::from);
    s.confidence = o.get("confidence").and_then(super::confidence);
    for (key, slot) in [
        ("valid_from", &mut s.valid_from_us),
        ("valid_until", &mut s.valid_until_us),
    ] {
        if let Some(v) = o.get(key) {
            let parsed = v.as_str().and_then(parse_rfc3339_us);
            *slot = Some(parsed.ok_or_else(|| {
                format!(
                    "bad {key} (not an RFC 3339 timestamp): {}",
                    shown(&v.to_string())
                )
            })?);
        }
    }
    for key in ["labels", "indicator_types"] {
        for tag in o
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            push_unique(&mut s.tags, tag);
        }
    }
    if let Some(id) = s.id.as_deref() {
        for name in rel.malware.get(id).into_iter().flatten() {
            push_unique(&mut s.tags, name);
        }
        s.campaign = rel.campaign.get(id).map(|(_, name)| name.to_string());
    }
    for r in o
        .get("external_references")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(url) = r.get("url").and_then(Value::as_str) {
            push_unique(&mut s.references, url);
        }
    }
    Ok(())
}

pub(crate) fn push_unique(list: &mut Vec<String>, item: &str) {
    let item = item.trim();
    if !item.is_empty() && !list.iter().any(|t| t == item) {
        list.push(item.to_string());
    }
}

/// Why a pattern yields nothing.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Unloadable {
    /// Well-formed, but nothing in it the sensor can match: the skip reason.
    Unsupported(String),
    /// A supported comparison with a value that is not a valid name/address/URL.
    BadValue(String),
    /// Not a valid pattern.
    Malformed(String),
}

/// The indicators of a STIX pattern: `(indicator, exact_host)` for every supported `OR`
/// branch.
pub(crate) fn indicators_of(pattern: &str) -> Result<Vec<(Indicator, bool)>, Unloadable> {
    let expr = parse_pattern(pattern).map_err(Unloadable::Malformed)?;
    let mut branches = Vec::new();
    expr.or_branches(&mut branches);
    let mut found = Vec::new();
    let mut first_problem = None;
    for branch in branches {
        match branch.indicator() {
            Ok(ind) => found.push((ind, false)),
            Err(e) => {
                first_problem.get_or_insert(e);
            }
        }
    }
    match (found.is_empty(), first_problem) {
        (false, _) => Ok(found),
        (true, Some(problem)) => Err(problem),
        (true, None) => Err(Unloadable::Malformed("empty pattern".into())),
    }
}

/// A parsed pattern, reduced to what loading needs.
#[derive(Debug, PartialEq, Eq)]
enum Expr {
    Or(Vec<Expr>),
    /// AND, FOLLOWEDBY, a qualifier: the skip reason.
    Unsupported(String),
    Compare {
        path: String,
        op: String,
        value: Literal,
    },
}

#[derive(Debug, PartialEq, Eq)]
enum Literal {
    Str(String),
    Set(Vec<Literal>),
    Other(String),
}

impl Expr {
    fn or_branches<'e>(&'e self, out: &mut Vec<&'e Expr>) {
        match self {
            Expr::Or(list) => list.iter().for_each(|e| e.or_branches(out)),
            _ => out.push(self),
        }
    }

    fn indicator(&self) -> Result<Indicator, Unloadable> {
        match self {
            Expr::Or(_) => unreachable!("flattened by or_branches"),
            Expr::Unsupported(reason) => Err(Unloadable::Unsupported(reason.clone())),
            Expr::Compare { path, op, value } => {
                let object = path.split(':').next().unwrap_or(path);
                let supported = matches!(
                    path.as_str(),
                    "domain-name:value" | "ipv4-addr:value" | "ipv6-addr:value" | "url:value"
                );
                if !supported {
                    return Err(Unloadable::Unsupported(format!(
                        "STIX pattern on {}",
                        clip(object, 40)
                    )));
                }
                let value = match (op.as_str(), value) {
                    ("=", Literal::Str(s)) => s,
                    ("=", _) => {
                        return Err(Unloadable::BadValue(format!(
                            "{path} compared with a non-string"
                        )))
                    }
                    (op, _) => return Err(Unloadable::Unsupported(format!("STIX operator {op}"))),
                };
                value_indicator(path, value).map_err(Unloadable::BadValue)
            }
        }
    }
}

fn value_indicator(path: &str, value: &str) -> Result<Indicator, String> {
    match path {
        "domain-name:value" => normalize_domain(value)
            .map(Indicator::Domain)
            .map_err(|why| format!("{path} {}: {why}", shown(value))),
        "ipv4-addr:value" | "ipv6-addr:value" => {
            let want_v4 = path.starts_with("ipv4");
            match classify(value) {
                Ok(ind @ Indicator::Address { addr, port: None }) if addr.is_ipv4() == want_v4 => {
                    Ok(ind)
                }
                Ok(ind @ Indicator::Network { addr, .. }) if addr.is_ipv4() == want_v4 => Ok(ind),
                Err(why) => Err(format!("{path} {}: {why}", shown(value))),
                Ok(_) => Err(format!(
                    "{path} {}: not an IPv{} address",
                    shown(value),
                    if want_v4 { 4 } else { 6 }
                )),
            }
        }
        _ => classify(value).map_err(|why| format!("{path}: {why}")),
    }
}

// --- The pattern language (STIX 2.1 part 9), enough to tell what a pattern compares. ---

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Open,
    Close,
    LParen,
    RParen,
    Comma,
    Str(String),
    /// Operators, keywords, numbers, object paths, `t`/`h`/`b` literal prefixes.
    Word(String),
}

/// Tokens with their start and end offsets.
fn tokenize(p: &str) -> Result<Vec<(Tok, usize, usize)>, String> {
    let mut out = Vec::new();
    let b = p.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        let tok = match c {
            b' ' | b'\t' | b'\r' | b'\n' => {
                i += 1;
                continue;
            }
            b'[' => Tok::Open,
            b']' => Tok::Close,
            b'(' => Tok::LParen,
            b')' => Tok::RParen,
            b',' => Tok::Comma,
            b'\'' => {
                let mut s = String::new();
                let mut j = i + 1;
                let mut chars = p[j..].char_indices();
                loop {
                    match chars.next() {
                        None => return Err(format!("unterminated string at offset {i}")),
                        Some((k, '\'')) => {
                            j += k + 1;
                            break;
                        }
                        Some((_, '\\')) => match chars.next() {
                            Some((_, ch @ ('\'' | '\\'))) => s.push(ch),
                            _ => return Err(format!("bad escape in string at offset {i}")),
                        },
                        Some((_, ch)) => s.push(ch),
                    }
                }
                out.push((Tok::Str(s), start, j));
                i = j;
                continue;
            }
            b'=' | b'!' | b'<' | b'>' => {
                let two = b.get(i + 1) == Some(&b'=');
                let op = match (c, two) {
                    (b'!', true) => "!=",
                    (b'<', true) => "<=",
                    (b'>', true) => ">=",
                    (b'=', _) => "=",
                    (b'<', false) => "<",
                    (b'>', false) => ">",
                    _ => return Err(format!("unexpected '!' at offset {i}")),
                };
                i += op.len();
                out.push((Tok::Word(op.into()), start, i));
                continue;
            }
            _ => {
                let mut j = i;
                while j < b.len() && !b" \t\r\n[]()',=!<>".contains(&b[j]) {
                    j += 1;
                }
                if j == i {
                    return Err(format!("unexpected character at offset {i}"));
                }
                out.push((Tok::Word(p[i..j].to_string()), start, j));
                i = j;
                continue;
            }
        };
        out.push((tok, start, i + 1));
        i += 1;
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, usize, usize)>,
    pos: usize,
    depth: usize,
}

fn parse_pattern(pattern: &str) -> Result<Expr, String> {
    let mut p = Parser {
        toks: tokenize(pattern)?,
        pos: 0,
        depth: 0,
    };
    if p.toks.is_empty() {
        return Err("empty pattern".into());
    }
    let e = p.observation_or()?;
    if let Some((t, at, _)) = p.toks.get(p.pos) {
        return Err(format!("unexpected {} at offset {at}", describe(t)));
    }
    Ok(e)
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Open => "'['".into(),
        Tok::Close => "']' (unbalanced brackets)".into(),
        Tok::LParen => "'('".into(),
        Tok::RParen => "')' (unbalanced parentheses)".into(),
        Tok::Comma => "','".into(),
        Tok::Str(s) => format!("string {}", shown(s)),
        Tok::Word(w) => shown(w),
    }
}

fn is_kw(t: Option<&Tok>, kw: &str) -> bool {
    matches!(t, Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw))
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(t, _, _)| t)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).map(|(t, _, _)| t.clone());
        self.pos += 1;
        t
    }

    fn expect(&mut self, want: Tok, what: &str) -> Result<(), String> {
        match self.toks.get(self.pos) {
            Some((t, _, _)) if *t == want => {
                self.pos += 1;
                Ok(())
            }
            Some((t, at, _)) => Err(format!(
                "expected {what} at offset {at}, found {}",
                describe(t)
            )),
            None => Err(format!(
                "expected {what}, found the end (unbalanced brackets?)"
            )),
        }
    }

    fn enter(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_PATTERN_DEPTH {
            return Err(format!("nested deeper than {MAX_PATTERN_DEPTH}"));
        }
        Ok(())
    }

    /// Binary operators at one level: `sub (kw sub)*`. `OR` collects; any other keyword
    /// makes the whole level unsupported.
    fn level(
        &mut self,
        kws: &[&str],
        sub: fn(&mut Self) -> Result<Expr, String>,
    ) -> Result<Expr, String> {
        let first = sub(self)?;
        let mut items = vec![first];
        let mut unsupported: Option<String> = None;
        while let Some(kw) = kws.iter().find(|k| is_kw(self.peek(), k)) {
            self.pos += 1;
            items.push(sub(self)?);
            if !kw.eq_ignore_ascii_case("OR") {
                unsupported.get_or_insert_with(|| format!("STIX {kw}"));
            }
        }
        Ok(match unsupported {
            Some(reason) => Expr::Unsupported(reason),
            None if items.len() == 1 => items.pop().expect("one item"),
            None => Expr::Or(items),
        })
    }

    fn observation_or(&mut self) -> Result<Expr, String> {
        self.level(&["OR"], Self::observation_and)
    }

    fn observation_and(&mut self) -> Result<Expr, String> {
        self.level(&["AND", "FOLLOWEDBY"], Self::observation_qualified)
    }

    fn observation_qualified(&mut self) -> Result<Expr, String> {
        let mut e = self.observation_atom()?;
        loop {
            let reason = if is_kw(self.peek(), "WITHIN") {
                self.pos += 1;
                self.word("a number")?;
                self.keyword("SECONDS")?;
                "STIX qualifier WITHIN"
            } else if is_kw(self.peek(), "REPEATS") {
                self.pos += 1;
                self.word("a number")?;
                self.keyword("TIMES")?;
                "STIX qualifier REPEATS"
            } else if is_kw(self.peek(), "START") {
                self.pos += 1;
                self.literal()?;
                self.keyword("STOP")?;
                self.literal()?;
                "STIX qualifier START/STOP"
            } else {
                return Ok(e);
            };
            e = Expr::Unsupported(reason.into());
        }
    }

    fn observation_atom(&mut self) -> Result<Expr, String> {
        self.enter()?;
        let e = match self.peek() {
            Some(Tok::Open) => {
                self.pos += 1;
                let e = self.comparison_or()?;
                self.expect(Tok::Close, "']'")?;
                e
            }
            Some(Tok::LParen) => {
                self.pos += 1;
                let e = self.observation_or()?;
                self.expect(Tok::RParen, "')'")?;
                e
            }
            Some(t) => {
                let at = self.toks[self.pos].1;
                return Err(format!(
                    "expected '[' at offset {at}, found {}",
                    describe(t)
                ));
            }
            None => return Err("expected '[', found the end".into()),
        };
        self.depth -= 1;
        Ok(e)
    }

    fn comparison_or(&mut self) -> Result<Expr, String> {
        self.level(&["OR"], Self::comparison_and)
    }

    fn comparison_and(&mut self) -> Result<Expr, String> {
        self.level(&["AND"], Self::comparison_atom)
    }

    fn comparison_atom(&mut self) -> Result<Expr, String> {
        if self.peek() == Some(&Tok::LParen) {
            self.enter()?;
            self.pos += 1;
            let e = self.comparison_or()?;
            self.expect(Tok::RParen, "')'")?;
            self.depth -= 1;
            return Ok(e);
        }
        // Object path: `type:prop(.prop | .'quoted' | [index])*`, tokens written together.
        let mut path = match self.next() {
            Some(Tok::Word(w)) if w.contains(':') => w,
            Some(t) => return Err(format!("expected an object path, found {}", describe(&t))),
            None => return Err("expected an object path, found the end".into()),
        };
        loop {
            let adjacent = |p: &Parser| match (p.toks.get(p.pos - 1), p.toks.get(p.pos)) {
                (Some((_, _, prev_end)), Some((_, at, _))) => prev_end == at,
                _ => false,
            };
            match self.peek() {
                Some(Tok::Str(s)) if adjacent(self) && path.ends_with('.') => {
                    path.push_str(&format!("'{s}'"));
                    self.pos += 1;
                }
                Some(Tok::Word(w)) if adjacent(self) && w.starts_with('.') => {
                    path.push_str(w);
                    self.pos += 1;
                }
                Some(Tok::Open) if adjacent(self) => {
                    self.pos += 1;
                    let index = self.word("an index")?;
                    self.expect(Tok::Close, "']'")?;
                    path.push_str(&format!("[{index}]"));
                }
                _ => break,
            }
        }
        let mut negated = false;
        if is_kw(self.peek(), "NOT") {
            self.pos += 1;
            negated = true;
        }
        let op = self.word("an operator")?;
        let known = [
            "=",
            "!=",
            "<",
            "<=",
            ">",
            ">=",
            "IN",
            "LIKE",
            "MATCHES",
            "ISSUBSET",
            "ISSUPERSET",
        ];
        let Some(op) = known.iter().find(|k| k.eq_ignore_ascii_case(&op)) else {
            return Err(format!("unknown operator {}", shown(&op)));
        };
        let value = if *op == "IN" {
            self.set()?
        } else {
            self.literal()?
        };
        if negated {
            return Ok(Expr::Unsupported("STIX NOT".into()));
        }
        if *op == "IN" {
            let Literal::Set(items) = value else {
                unreachable!("set() returns a set")
            };
            let branches = items
                .into_iter()
                .map(|v| Expr::Compare {
                    path: path.clone(),
                    op: "=".into(),
                    value: v,
                })
                .collect();
            return Ok(Expr::Or(branches));
        }
        Ok(Expr::Compare {
            path,
            op: op.to_string(),
            value,
        })
    }

    fn word(&mut self, what: &str) -> Result<String, String> {
        match self.next() {
            Some(Tok::Word(w)) => Ok(w),
            Some(t) => Err(format!("expected {what}, found {}", describe(&t))),
            None => Err(format!("expected {what}, found the end")),
        }
    }

    fn keyword(&mut self, kw: &str) -> Result<(), String> {
        let w = self.word(kw)?;
        if w.eq_ignore_ascii_case(kw) {
            Ok(())
        } else {
            Err(format!("expected {kw}, found {}", shown(&w)))
        }
    }

    /// A string, number, boolean, or `t'...'`/`h'...'`/`b'...'` literal.
    fn literal(&mut self) -> Result<Literal, String> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(Literal::Str(s)),
            Some(Tok::Word(w)) if matches!(w.as_str(), "t" | "h" | "b") => match self.next() {
                Some(Tok::Str(s)) => Ok(Literal::Other(format!("{w}'{s}'"))),
                _ => Err(format!("expected a string after {w}")),
            },
            Some(Tok::Word(w)) => Ok(Literal::Other(w)),
            Some(t) => Err(format!("expected a value, found {}", describe(&t))),
            None => Err("expected a value, found the end".into()),
        }
    }

    fn set(&mut self) -> Result<Literal, String> {
        self.expect(Tok::LParen, "'(' after IN")?;
        let mut items = vec![self.literal()?];
        while self.peek() == Some(&Tok::Comma) {
            self.pos += 1;
            items.push(self.literal()?);
        }
        self.expect(Tok::RParen, "')'")?;
        Ok(Literal::Set(items))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intel::set::{IndicatorSetBuilder, Kind};
    use crate::intel::FeedError;

    fn run(
        load: fn(&mut Ctx, &[u8]),
        text: &str,
    ) -> (
        crate::intel::IndicatorSet,
        Vec<FeedError>,
        Vec<(String, usize)>,
    ) {
        let mut b = IndicatorSetBuilder::new();
        let mut errors = Vec::new();
        let mut ctx = Ctx::new("feeds/s.json", &mut b, &mut errors);
        load(&mut ctx, text.as_bytes());
        let skipped = ctx.skipped.clone().into_iter().collect();
        (b.build(), errors, skipped)
    }

    fn pat(p: &str) -> Result<Vec<Indicator>, Unloadable> {
        indicators_of(p).map(|v| v.into_iter().map(|(i, _)| i).collect())
    }

    fn dom(s: &str) -> Indicator {
        Indicator::Domain(s.into())
    }

    #[test]
    fn patterns() {
        assert_eq!(
            pat("[domain-name:value = 'Evil.COM']"),
            Ok(vec![dom("evil.com")])
        );
        assert_eq!(
            pat("[ipv4-addr:value = '198.51.100.0/24' OR ipv6-addr:value = '2001:db8::1']")
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            pat("[domain-name:value = 'a.example'] OR [url:value = 'http://b.example/x']")
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            pat("[domain-name:value IN ('a.example', 'b.example')]")
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            pat("([domain-name:value = 'a.example'])").unwrap(),
            [dom("a.example")]
        );
        assert_eq!(
            pat("[domain-name:value = 'it\\'s.example']").map(|_| ()),
            Err(Unloadable::BadValue(
                "domain-name:value \"it's.example\": character not allowed in a host name".into()
            ))
        );
        // An OR branch on a file hash does not stop the domain next to it.
        assert_eq!(
            pat("[file:hashes.'SHA-256' = 'ab' OR domain-name:value = 'a.example']").unwrap(),
            [dom("a.example")]
        );
        let unsupported = |p: &str| match pat(p) {
            Err(Unloadable::Unsupported(r)) => r,
            other => panic!("{p}: {other:?}"),
        };
        assert_eq!(
            unsupported("[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']"),
            "STIX pattern on file"
        );
        assert_eq!(
            unsupported("[file:hashes.MD5 = 'x' OR file:hashes.'SHA-1' = 'y' OR file:size = 3]"),
            "STIX pattern on file"
        );
        assert_eq!(
            unsupported("[domain-name:value = 'a.example' AND url:value = 'http://x/y']"),
            "STIX AND"
        );
        assert_eq!(
            unsupported("[domain-name:value = 'a.example'] AND [ipv4-addr:value = '1.2.3.4']"),
            "STIX AND"
        );
        assert_eq!(
            unsupported(
                "[domain-name:value = 'a.example'] FOLLOWEDBY [ipv4-addr:value = '1.2.3.4']"
            ),
            "STIX FOLLOWEDBY"
        );
        assert_eq!(
            unsupported("[domain-name:value = 'a.example'] WITHIN 60 SECONDS"),
            "STIX qualifier WITHIN"
        );
        assert_eq!(
            unsupported("[ipv4-addr:value = '1.2.3.4'] START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'"),
            "STIX qualifier START/STOP"
        );
        assert_eq!(
            unsupported("[domain-name:value != 'a.example']"),
            "STIX operator !="
        );
        assert_eq!(
            unsupported("[domain-name:value MATCHES '^a']"),
            "STIX operator MATCHES"
        );
        assert_eq!(
            unsupported("[domain-name:value NOT = 'a.example']"),
            "STIX NOT"
        );
        assert_eq!(
            unsupported("[x-custom:extensions.'a'.values[*] = 'v']"),
            "STIX pattern on x-custom"
        );
        for bad in [
            "[domain-name:value = 'a.example'",
            "domain-name:value = 'a.example']",
            "[[domain-name:value = 'a.example']",
            "[domain-name:value = 'a.example']]",
            "[domain-name:value = 'a.example",
            "[domain-name:value 'a.example']",
            "[]",
            "",
            "rule x { condition: true }",
            "[domain-name:value = 'a'] OR",
        ] {
            assert!(
                matches!(pat(bad), Err(Unloadable::Malformed(_))),
                "{bad:?}: {:?}",
                pat(bad)
            );
        }
        let deep = "(".repeat(10_000) + "[domain-name:value = 'a.example']" + &")".repeat(10_000);
        assert!(matches!(pat(&deep), Err(Unloadable::Malformed(m)) if m.contains("nested deeper")));
    }

    const BUNDLE: &str = r#"{"type": "bundle", "id": "bundle--1", "objects": [
  {"type": "intrusion-set", "id": "intrusion-set--1", "name": "APT31"},
  {"type": "malware", "id": "malware--1", "name": "Rekoobe"},
  {"type": "indicator", "id": "indicator--1", "pattern_type": "stix",
   "pattern": "[domain-name:value = 'api.example.com']", "name": "api.example.com C2",
   "confidence": 80, "valid_from": "2021-01-01T00:00:00Z", "valid_until": "2022-01-01T00:00:00Z",
   "indicator_types": ["malicious-activity"], "labels": ["c2"],
   "external_references": [{"source_name": "blog", "url": "https://blog.example/apt31"}]},
  {"type": "relationship", "id": "relationship--1", "relationship_type": "indicates",
   "source_ref": "indicator--1", "target_ref": "intrusion-set--1"},
  {"type": "relationship", "id": "relationship--2", "relationship_type": "indicates",
   "source_ref": "indicator--1", "target_ref": "malware--1"},
  {"type": "indicator", "id": "indicator--2", "pattern_type": "yara", "pattern": "rule x {}"},
  {"type": "indicator", "id": "indicator--3",
   "pattern": "[ipv4-addr:value = '203.0.113.7'"},
  {"type": "indicator", "id": "indicator--4", "revoked": true, "pattern": "[ipv4-addr:value = '203.0.113.8']"},
  {"type": "indicator", "id": "indicator--5", "pattern": "[ipv4-addr:value = '203.0.113.9']", "valid_from": "yesterday"},
  {"type": "indicator", "id": "indicator--6", "pattern": "[domain-name:value = 'api.example.com']", "name": "other"}
]}"#;

    #[test]
    fn bundle_loads_indicators_with_their_metadata() {
        let (set, errors, skipped) = run(load_bundle, BUNDLE);
        assert_eq!(
            set.counts().get(Kind::Domain),
            2,
            "duplicate with other metadata kept"
        );
        assert_eq!(set.counts().total(), 2);
        let msgs: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(msgs.len(), 2, "{msgs:?}");
        assert!(
            msgs[0].starts_with("feeds/s.json:14: malformed STIX pattern: expected ']'"),
            "{msgs:?}"
        );
        assert!(
            msgs[1].starts_with("feeds/s.json:17: bad valid_from"),
            "{msgs:?}"
        );
        let skipped: Vec<(&str, usize)> = skipped.iter().map(|(r, n)| (r.as_str(), *n)).collect();
        assert_eq!(
            skipped,
            [
                ("STIX intrusion-set object", 1),
                ("STIX malware object", 1),
                ("STIX relationship object", 2),
                ("bad timestamp", 1),
                ("malformed STIX pattern", 1),
                ("pattern_type yara", 1),
                ("revoked", 1),
            ]
        );
        let mut sources = Vec::new();
        set.match_name(b"x.api.example.com", |h| {
            sources.push(set.source(set.entry(h.entry)).clone())
        });
        sources.sort_by(|a, b| a.id.cmp(&b.id));
        let s = &sources[0];
        assert_eq!(&*s.feed, "s.json");
        assert_eq!(s.id.as_deref(), Some("indicator--1"));
        assert_eq!(s.description.as_deref(), Some("api.example.com C2"));
        assert_eq!(s.campaign.as_deref(), Some("APT31"));
        assert_eq!(s.confidence, Some(80));
        assert_eq!(s.valid_from_us, Some(1_609_459_200_000_000));
        assert_eq!(s.valid_until_us, Some(1_640_995_200_000_000));
        assert_eq!(s.tags, ["c2", "malicious-activity", "Rekoobe"]);
        assert_eq!(s.references, ["https://blog.example/apt31"]);
        assert_eq!(sources[1].description.as_deref(), Some("other"));
    }

    #[test]
    fn json_lines_name_their_lines() {
        let text = "\u{feff}{\"type\": \"indicator\", \"pattern\": \"[url:value = 'http://a.example/x.php']\"}\r\n\
                    \r\n\
                    {\"type\": \"indicator\", \"pattern\": \"[ipv4-addr:value = '1.2.3.4'] OR [ipv4-addr:value = '5.6.7.8']\"}\n\
                    {not json\n\
                    [1]\n\
                    {\"type\": \"bundle\", \"objects\": [{\"type\": \"indicator\", \"pattern\": \"[ipv6-addr:value = '1.2.3.4']\"}]}\n\
                    {\"type\": \"indicator\", \"pattern\": \"[ipv4-addr:value = '1.2.3.4' AND ipv4-addr:value = '5.6.7.8']\"}\n";
        let mut b = IndicatorSetBuilder::new();
        let mut errors = Vec::new();
        let summary = super::super::load("f.jsonl", text.as_bytes(), &mut b, &mut errors);
        assert_eq!(summary.format, super::super::FeedFormat::StixJsonLines);
        let set = b.build();
        assert_eq!(set.counts().get(Kind::Url), 1);
        assert_eq!(set.counts().get(Kind::Address), 2);
        let msgs: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(msgs.len(), 3, "{msgs:?}");
        assert!(msgs[0].starts_with("f.jsonl:4: not valid JSON"), "{msgs:?}");
        assert_eq!(msgs[1], "f.jsonl:5: line is not a JSON object");
        assert!(
            msgs[2].starts_with("f.jsonl:6: ipv6-addr:value \"1.2.3.4\": not an IPv6 address"),
            "{msgs:?}"
        );
        assert_eq!(summary.skipped.get("STIX AND"), Some(&1));
    }

    #[test]
    fn bundle_errors() {
        let (_, errors, _) = run(load_bundle, "{\"objects\": []}");
        assert!(errors[0].reason.contains("not a STIX bundle"), "{errors:?}");
        let (_, errors, _) = run(load_bundle, "{\"type\": \"bundle\",\n\"objects\": [}");
        assert_eq!(errors[0].line, 2, "{errors:?}");
        let (set, errors, _) = run(
            load_bundle,
            "[{\"type\": \"indicator\", \"pattern\": \"[domain-name:value = 'a.example']\"}, 3]",
        );
        assert_eq!(set.counts().total(), 1);
        assert_eq!(errors.len(), 1);
        let big = format!(
            "{{\"type\": \"indicator\", \"pattern\": \"[domain-name:value = '{}']\"}}",
            "a".repeat(1 << 20)
        );
        let (set, errors, _) = run(load_json_lines, &big);
        assert_eq!(set.counts().total(), 0);
        assert_eq!(errors.len(), 1);
    }
}
