//! Normalisation of indicator values as feeds write them.
//!
//! Feeds are written by people and by other tools: values arrive defanged (`evil[.]com`,
//! `hxxp://`, `1.2.3[.]4`), in mixed case, with trailing dots, in Unicode, with ports and paths.
//! [`classify`] turns one value into exactly one [`Indicator`] or says why it cannot.
//!
//! Names are normalised once here, so that matching compares like with like: ASCII lowercase,
//! no trailing dot, Unicode labels turned into punycode (`xn--`), every label 1..=63 bytes and
//! the whole name at most [`MAX_NAME_LEN`] bytes.

use std::borrow::Cow;
use std::net::IpAddr;

/// Longest name in presentation form that DNS allows (RFC 1035 2.3.4: 255 octets on the wire).
pub const MAX_NAME_LEN: usize = 253;
/// Longest label DNS allows (RFC 1035 2.3.4).
pub const MAX_LABEL_LEN: usize = 63;
/// Longest feed value considered at all; longer values are rejected before any parsing so a
/// 1 MB line costs nothing but the read.
pub const MAX_VALUE_LEN: usize = 4096;

/// One indicator value, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Indicator {
    /// A domain: matches the name itself and every subdomain.
    Domain(String),
    /// An address, optionally limited to one port of the flow (`IP:port`).
    Address { addr: IpAddr, port: Option<u16> },
    /// A network in CIDR form; `addr` has the host bits cleared.
    Network { addr: IpAddr, prefix_len: u8 },
    /// An HTTP URL: host (name or address) and path, query included when the feed gave one.
    Url { host: String, path: String },
    /// A bare URL path (Maltrail's generic trails such as `/hftqlbgtg.php`): any host.
    UrlPath(String),
}

/// Undo the usual defanging: `[.]`, `(.)`, `{.}`, `[dot]`, `hxxp`, `[:]`, `[://]`.
pub fn refang(value: &str) -> Cow<'_, str> {
    // Bytes, not `&value[..4]`: a character may straddle byte 4.
    let hxxp = value
        .as_bytes()
        .get(..4)
        .is_some_and(|b| b.eq_ignore_ascii_case(b"hxxp"));
    let needs = hxxp || value.bytes().any(|b| matches!(b, b'[' | b'(' | b'{'));
    if !needs {
        return Cow::Borrowed(value);
    }
    let mut s = value
        .replace("[.]", ".")
        .replace("(.)", ".")
        .replace("{.}", ".")
        .replace("[dot]", ".")
        .replace("(dot)", ".")
        .replace("[://]", "://")
        .replace("[:]", ":")
        .replace("[/]", "/");
    let lower = s.to_ascii_lowercase();
    if lower.starts_with("hxxps") {
        s.replace_range(..5, "https");
    } else if lower.starts_with("hxxp") {
        s.replace_range(..4, "http");
    }
    Cow::Owned(s)
}

/// What [`plain_value`] found a feed line to be.
pub enum Plain<'a> {
    /// A domain, normalised (lowercase, no trailing dot), in the caller's buffer: ASCII
    /// letters, digits, `.`, `-` and `_` only.
    Domain(&'a [u8]),
    /// An IPv4 address.
    Ipv4(std::net::Ipv4Addr),
}

impl Plain<'_> {
    /// The indicator, as [`classify`] gives it.
    pub fn indicator(&self) -> Indicator {
        match *self {
            Plain::Domain(name) => {
                Indicator::Domain(name.iter().copied().map(char::from).collect())
            }
            Plain::Ipv4(addr) => Indicator::Address {
                addr: addr.into(),
                port: None,
            },
        }
    }
}

/// [`BYTE_CLASSES`]: a letter, digit, `.`, `-` or `_`.
const NAME_BYTE: u8 = 1;
/// [`BYTE_CLASSES`]: a hex digit or `.`.
const ADDRESS_BYTE: u8 = 2;
/// [`BYTE_CLASSES`]: a decimal digit or `.`.
const DIGIT_OR_DOT: u8 = 4;

/// The classes of each byte that [`plain_value`] tells apart.
static BYTE_CLASSES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let byte = b as u8;
        if byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-' | b'_') {
            table[b] |= NAME_BYTE;
        }
        if byte.is_ascii_hexdigit() || byte == b'.' {
            table[b] |= ADDRESS_BYTE;
        }
        if byte.is_ascii_digit() || byte == b'.' {
            table[b] |= DIGIT_OR_DOT;
        }
        b += 1;
    }
    table
};

/// A raw feed line (without its `\n`; a `\r` may end it) that is plainly one domain name
/// or one IPv4 address, classified without [`classify`]'s general passes (UTF-8, trimming,
/// refanging, scheme, address and URL checks, an allocation per name); a name is normalised
/// into `out`. Most lines of large feeds are such values, and those passes were most of the
/// time a feed took to load. `None` for anything else, or anything not certainly valid:
/// [`classify`] then decides, and gives the reason for a bad value. Where this answers, it
/// answers what [`classify`] would (tested against it, and fuzzed).
pub fn plain_value<'o>(line: &[u8], out: &'o mut [u8; MAX_NAME_LEN]) -> Option<Plain<'o>> {
    // Trailing white space only: anything else outside the name's alphabet (leading space,
    // `#`, brackets, `:`, `/`, non-ASCII) goes the general way.
    let end = line
        .iter()
        .rposition(|&b| !matches!(b, b' ' | b'\t' | b'\r' | b'\x0b' | b'\x0c'))?;
    let value = &line[..=end];
    if value.len() > MAX_NAME_LEN + 1 {
        return None;
    }
    // The classes every byte of the value is in (one table load per byte, no branch).
    let classes = value
        .iter()
        .fold(NAME_BYTE | ADDRESS_BYTE | DIGIT_OR_DOT, |all, &b| {
            all & BYTE_CLASSES[usize::from(b)]
        });
    if classes & NAME_BYTE == 0 {
        return None;
    }
    if classes & DIGIT_OR_DOT != 0 {
        // `1.2.3.4`; other digit strings (`01.2.3.4` is a name) go the general way.
        return dotted_quad(value).map(Plain::Ipv4);
    }
    // Address-like names (`dead.beef`: only hex digits and dots) may be IPv6 or CIDR-shaped,
    // and `hxxp` is refanged.
    if classes & ADDRESS_BYTE != 0
        || value
            .get(..4)
            .is_some_and(|b| b.eq_ignore_ascii_case(b"hxxp"))
    {
        return None;
    }
    let name = value.strip_suffix(b".").unwrap_or(value);
    if name.len() > MAX_NAME_LEN
        || name
            .split(|&b| b == b'.')
            .any(|label| label.is_empty() || label.len() > MAX_LABEL_LEN)
    {
        return None;
    }
    let out = &mut out[..name.len()];
    for (o, b) in out.iter_mut().zip(name) {
        *o = b.to_ascii_lowercase();
    }
    Some(Plain::Domain(out))
}

/// `digits` (ASCII digits and dots only) as an IPv4 address, read as [`std::net::Ipv4Addr`]'s
/// parser reads one: four parts of one to three digits, none above 255, none with a leading
/// zero. (The standard parser takes a `&str`, so the line would be checked as UTF-8 once more,
/// and reads through a general parser.)
fn dotted_quad(digits: &[u8]) -> Option<std::net::Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = digits.split(|&b| b == b'.');
    for octet in &mut octets {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 3 || (part.len() > 1 && part[0] == b'0') {
            return None;
        }
        let value = part
            .iter()
            .fold(0u16, |value, &d| value * 10 + u16::from(d - b'0'));
        *octet = u8::try_from(value).ok()?;
    }
    parts.next().is_none().then_some(octets.into())
}

/// Classify and normalise one feed value (already trimmed, comments removed).
///
/// The error is a short reason in words, meant to follow `path:line: `.
pub fn classify(raw: &str) -> Result<Indicator, String> {
    if raw.len() > MAX_VALUE_LEN {
        return Err(format!("value longer than {MAX_VALUE_LEN} bytes"));
    }
    let value = refang(raw);
    let value = value.trim();
    if value.is_empty() {
        return Err("empty value".into());
    }
    if let Some(idx) = scheme_separator(value) {
        return classify_url(&value[idx + 3..], raw);
    }
    if value.starts_with('/') {
        return Ok(Indicator::UrlPath(value.to_string()));
    }
    if let Some(found) = parse_address(value) {
        return found;
    }
    if value.contains('/') {
        // `host/path` without a scheme, as Maltrail writes URLs.
        return classify_url(value, raw)
            .map_err(|why| format!("not an IP, domain or URL: {raw:?} ({why})"));
    }
    normalize_domain(value)
        .map(Indicator::Domain)
        .map_err(|why| format!("not an IP, domain or URL: {raw:?} ({why})"))
}

/// Where the first `://` in `value` starts. (A plain scan: `str::find` with a string pattern
/// sets up a two-way searcher for every value, which costs more than a feed line is long.)
fn scheme_separator(value: &str) -> Option<usize> {
    value.as_bytes().windows(3).position(|w| w == b"://")
}

/// Addresses, `IP:port`, `[v6]:port` and CIDRs. `None` when the value is not address-shaped.
fn parse_address(value: &str) -> Option<Result<Indicator, String>> {
    // Everything this accepts or reports as a bad address has, before its first `:` (the
    // port's `:` or one inside an IPv6 address, never one after the port's), only what
    // addresses and prefix lengths are written with. Most feed lines are names, which fail
    // this one scan instead of three address parses.
    let address_char = |b: u8| b.is_ascii_hexdigit() || matches!(b, b'.' | b'/' | b'[' | b']');
    if !value.bytes().take_while(|&b| b != b':').all(address_char) {
        return None;
    }
    if let Ok(addr) = value.parse::<IpAddr>() {
        return Some(Ok(Indicator::Address { addr, port: None }));
    }
    if let Some((net, len)) = value.split_once('/') {
        // `IP/digits` is a CIDR; `IP/path` is a URL on that address (Maltrail writes those).
        let digits = !len.is_empty() && len.bytes().all(|b| b.is_ascii_digit());
        if let (true, Ok(addr)) = (digits, net.parse::<IpAddr>()) {
            let max = if addr.is_ipv4() { 32 } else { 128 };
            return Some(match len.parse::<u8>() {
                Ok(prefix_len) if prefix_len <= max => {
                    Ok(network_or_address(mask(addr, prefix_len), prefix_len))
                }
                _ => Err(format!("bad prefix length in CIDR: {value:?}")),
            });
        }
        return None;
    }
    let (host, port) = split_host_port(value)?;
    let addr = host.parse::<IpAddr>().ok()?;
    Some(match port.parse::<u16>() {
        Ok(p) if p != 0 => Ok(Indicator::Address {
            addr,
            port: Some(p),
        }),
        _ => Err(format!("bad port in {value:?}")),
    })
}

fn network_or_address(addr: IpAddr, prefix_len: u8) -> Indicator {
    let full = if addr.is_ipv4() { 32 } else { 128 };
    if prefix_len == full {
        Indicator::Address { addr, port: None }
    } else {
        Indicator::Network { addr, prefix_len }
    }
}

/// `host:port` or `[v6]:port`; `None` when there is no port part.
fn split_host_port(value: &str) -> Option<(&str, &str)> {
    if let Some(rest) = value.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return Some((host, after.strip_prefix(':')?));
    }
    let (host, port) = value.rsplit_once(':')?;
    if host.contains(':') {
        return None; // a bare IPv6 address, not host:port
    }
    Some((host, port))
}

/// Clear the host bits of `addr` beyond `prefix_len`.
pub fn mask(addr: IpAddr, prefix_len: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => IpAddr::V4(mask_v4(u32::from(a), prefix_len).into()),
        IpAddr::V6(a) => IpAddr::V6(mask_v6(u128::from(a), prefix_len).into()),
    }
}

/// The first `prefix_len` bits of an IPv4 address, the rest cleared.
#[inline(always)]
pub fn mask_v4(bits: u32, prefix_len: u8) -> u32 {
    bits & u32::MAX
        .checked_shl(32 - u32::from(prefix_len))
        .unwrap_or(0)
}

/// The first `prefix_len` bits of an IPv6 address, the rest cleared.
#[inline(always)]
pub fn mask_v6(bits: u128, prefix_len: u8) -> u128 {
    bits & u128::MAX
        .checked_shl(128 - u32::from(prefix_len))
        .unwrap_or(0)
}

/// After `scheme://`: `host[:port][/path]`. A URL without a path names its host: an address
/// (with the port, if one was given) or a domain; with a path it is a URL indicator.
fn classify_url(after_scheme: &str, raw: &str) -> Result<Indicator, String> {
    let (authority, path) = match after_scheme.find(['/', '?']) {
        Some(i) => (&after_scheme[..i], &after_scheme[i..]),
        None => (after_scheme, ""),
    };
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let (host, port) = match split_host_port(authority) {
        Some((h, p)) => (h, Some(p)),
        None => (
            authority.trim_start_matches('[').trim_end_matches(']'),
            None,
        ),
    };
    let port = match port {
        None => None,
        Some(p) => Some(
            p.parse::<u16>()
                .map_err(|_| format!("bad port in URL {raw:?}"))?,
        ),
    };
    let path = path.split('#').next().unwrap_or("");
    if let Ok(addr) = host.parse::<IpAddr>() {
        if path.is_empty() || path == "/" {
            return Ok(Indicator::Address { addr, port });
        }
        return Ok(Indicator::Url {
            host: addr.to_string(),
            path: path.to_string(),
        });
    }
    let host = normalize_domain(host).map_err(|why| format!("bad host in URL: {why}"))?;
    if path.is_empty() || path == "/" {
        return Ok(Indicator::Domain(host));
    }
    Ok(Indicator::Url {
        host,
        path: path.to_string(),
    })
}

/// Normalise a domain name: lowercase ASCII, no trailing dot, punycode for Unicode labels.
pub fn normalize_domain(name: &str) -> Result<String, &'static str> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() {
        return Err("empty name");
    }
    let ascii: String = if name.is_ascii() {
        name.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii(name).map_err(|_| "not a valid internationalised name")?
    };
    if ascii.len() > MAX_NAME_LEN {
        return Err("name longer than 253 bytes");
    }
    // One pass over the bytes; each label's faults are reported when it ends, in the order
    // empty, too long, bad character, so the first faulty label names its first fault.
    let (mut label_len, mut bad_char, mut labels, mut all_digits) = (0usize, false, 0usize, true);
    for b in ascii.bytes().chain(std::iter::once(b'.')) {
        if b == b'.' {
            if label_len == 0 {
                return Err("empty label");
            }
            if label_len > MAX_LABEL_LEN {
                return Err("label longer than 63 bytes");
            }
            if bad_char {
                return Err("character not allowed in a host name");
            }
            (label_len, labels) = (0, labels + 1);
            continue;
        }
        label_len += 1;
        bad_char |= !(b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        all_digits &= b.is_ascii_digit();
    }
    if labels == 1 && all_digits {
        return Err("a bare number is not a name");
    }
    Ok(ascii)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dom(s: &str) -> Indicator {
        Indicator::Domain(s.into())
    }

    #[test]
    fn refangs_the_usual_forms() {
        assert_eq!(classify("evil[.]com").unwrap(), dom("evil.com"));
        assert_eq!(classify("Evil(.)COM.").unwrap(), dom("evil.com"));
        assert_eq!(
            classify("hxxp://1.2.3[.]4").unwrap(),
            Indicator::Address {
                addr: "1.2.3.4".parse().unwrap(),
                port: None
            }
        );
        assert_eq!(
            classify("hxxps[:]//bad[.]example/x.php").unwrap(),
            Indicator::Url {
                host: "bad.example".into(),
                path: "/x.php".into()
            }
        );
    }

    #[test]
    fn edge_values_keep_their_type_and_first_fault() {
        let why = |raw: &str| classify(raw).unwrap_err();
        // Address-shaped before the first `:`: an address with a bad port, not a name.
        assert_eq!(why("1.2.3.4:port"), "bad port in \"1.2.3.4:port\"");
        assert_eq!(why("1.2.3.4:abc"), "bad port in \"1.2.3.4:abc\"");
        assert_eq!(
            why("10.0.0.0/33"),
            "bad prefix length in CIDR: \"10.0.0.0/33\""
        );
        // A bracketed address's port is everything after `]:`, colons included.
        assert_eq!(why("[::1]:x:1"), "bad port in \"[::1]:x:1\"");
        assert_eq!(why("[::1]:80:x"), "bad port in \"[::1]:80:x\"");
        assert_eq!(why("[1.2.3.4]:g:80"), "bad port in \"[1.2.3.4]:g:80\"");
        assert!(why("evil.com:8080").ends_with("(character not allowed in a host name)"));
        assert_eq!(
            classify("dead:beef::1:80").unwrap(),
            Indicator::Address {
                addr: "dead:beef::1:80".parse().unwrap(),
                port: None
            }
        );
        assert_eq!(
            classify("1.2.3.4/24x").unwrap(),
            Indicator::Url {
                host: "1.2.3.4".into(),
                path: "/24x".into()
            }
        );
        // The first `://` ends the scheme.
        assert_eq!(classify("a:b://c.example").unwrap(), dom("c.example"));
        // A label's faults: empty, then too long, then a bad character; the first faulty
        // label decides.
        let long_and_bad = format!("a!{}.com", "a".repeat(70));
        assert!(why(&long_and_bad).ends_with("(label longer than 63 bytes)"));
        assert!(why("x..y!").ends_with("(empty label)"));
        assert!(why("x!.y..z").ends_with("(character not allowed in a host name)"));
        assert!(why("123").ends_with("(a bare number is not a name)"));
        assert_eq!(classify("123.example").unwrap(), dom("123.example"));
    }

    #[test]
    fn infers_every_type() {
        let v4: IpAddr = "38.180.207.137".parse().unwrap();
        assert_eq!(
            classify("38.180.207.137").unwrap(),
            Indicator::Address {
                addr: v4,
                port: None
            }
        );
        assert_eq!(
            classify("38.180.207.137:45323").unwrap(),
            Indicator::Address {
                addr: v4,
                port: Some(45323)
            }
        );
        assert_eq!(
            classify("10.1.2.3/8").unwrap(),
            Indicator::Network {
                addr: "10.0.0.0".parse().unwrap(),
                prefix_len: 8
            }
        );
        assert_eq!(
            classify("2001:db8::1").unwrap(),
            Indicator::Address {
                addr: "2001:db8::1".parse().unwrap(),
                port: None
            }
        );
        assert_eq!(
            classify("[2001:db8::1]:443").unwrap(),
            Indicator::Address {
                addr: "2001:db8::1".parse().unwrap(),
                port: Some(443)
            }
        );
        assert_eq!(
            classify("2001:db8::/32").unwrap(),
            Indicator::Network {
                addr: "2001:db8::".parse().unwrap(),
                prefix_len: 32
            }
        );
        assert_eq!(
            classify("/hftqlbgtg.php").unwrap(),
            Indicator::UrlPath("/hftqlbgtg.php".into())
        );
        assert_eq!(
            classify("45.124.132.127/action-center/x.php").unwrap(),
            Indicator::Url {
                host: "45.124.132.127".into(),
                path: "/action-center/x.php".into()
            }
        );
        assert_eq!(
            classify("evil.com/gate.php?id=1").unwrap(),
            Indicator::Url {
                host: "evil.com".into(),
                path: "/gate.php?id=1".into()
            }
        );
        assert_eq!(classify("http://lookup.ink/").unwrap(), dom("lookup.ink"));
        assert_eq!(
            classify("münchen.example").unwrap(),
            dom("xn--mnchen-3ya.example")
        );
    }

    #[test]
    fn a_character_across_byte_four_is_not_a_panic() {
        // Found by the `feed` fuzz target: a BOM (3 bytes) straddling byte 4.
        for v in [
            "ada\u{feff}ware.example",
            "a\u{feff}",
            "é\u{feff}x.com",
            "hxx\u{e9}p://x",
        ] {
            let _ = refang(v);
            let _ = classify(v);
        }
        assert_eq!(refang("HXXPS://evil[.]com"), "https://evil.com");
    }

    #[test]
    fn rejects_what_is_not_an_indicator() {
        assert!(classify("exa mple")
            .unwrap_err()
            .contains("not an IP, domain or URL"));
        assert!(classify("1.2.3.4/33").is_err());
        assert!(classify("1.2.3.4:0").is_err());
        assert!(classify("a..b").is_err());
        assert!(classify(&"a".repeat(64)).is_err());
        assert!(classify(&"x".repeat(MAX_VALUE_LEN + 1)).is_err());
        assert!(classify("12345").is_err());
    }

    /// What `plain_value` makes of `line`, as `classify` writes it.
    fn plain(line: &str) -> Option<Result<Indicator, String>> {
        let mut out = [0u8; MAX_NAME_LEN];
        plain_value(line.as_bytes(), &mut out).map(|plain| Ok(plain.indicator()))
    }

    /// Digit-and-dot strings read as the standard parser reads them, including the ones it
    /// refuses (leading zeros, parts over 255 or of four digits, three or five parts).
    #[test]
    fn dotted_quads_read_as_the_standard_parser_reads_them() {
        let digits = b"0125689";
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = |bound: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % bound as u64) as usize
        };
        let mut read = 0;
        for _ in 0..200_000 {
            // Three to five parts of none to four digits, joined by dots.
            let parts: Vec<String> = (0..3 + next(3))
                .map(|_| {
                    (0..next(5))
                        .map(|_| char::from(digits[next(digits.len())]))
                        .collect()
                })
                .collect();
            let text = parts.join(".");
            let want = text.parse::<std::net::Ipv4Addr>().ok();
            assert_eq!(dotted_quad(text.as_bytes()), want, "{text:?}");
            read += usize::from(want.is_some());
        }
        assert!(read > 1_000, "only {read} of the strings were addresses");
        for text in [
            "0.0.0.0",
            "255.255.255.255",
            "256.1.1.1",
            "01.2.3.4",
            "1.2.3",
            "1.2.3.4.5",
            "1..2.3",
            ".1.2.3",
            "1.2.3.4.",
        ] {
            assert_eq!(dotted_quad(text.as_bytes()), text.parse().ok(), "{text:?}");
        }
    }

    /// The short way answers the common lines of large feeds...
    #[test]
    fn plain_names_and_addresses_take_the_short_way() {
        for (line, want) in [
            ("evil.example", dom("evil.example")),
            ("Frost-Marsh.INFO.\r", dom("frost-marsh.info")),
            ("x_y.co \t", dom("x_y.co")),
            (
                "uekog0sx3emt.s1.ivorydelta.org",
                dom("uekog0sx3emt.s1.ivorydelta.org"),
            ),
            (
                "94.20.249.221",
                Indicator::Address {
                    addr: "94.20.249.221".parse().unwrap(),
                    port: None,
                },
            ),
        ] {
            assert_eq!(plain(line), Some(Ok(want)), "{line:?}");
        }
        // ...and leaves the others to `classify`.
        for line in [
            "",
            " evil.example",
            "evil[.]example",
            "hxxpevil.example",
            "dead.beef",
            "1.2.3.4.",
            "01.2.3.4",
            "12345",
            "evil..example",
            ".evil.example",
            "a.b/c",
            "1.2.3.4:80",
            "evil.example # note",
            "bücher.example",
            &format!("{}.example", "a".repeat(64)),
            &format!("{}.x", "a.".repeat(126)),
        ] {
            assert_eq!(plain(line), None, "{line:?}");
        }
    }

    /// Wherever the short way answers, it answers what the long way (trim, then `classify`)
    /// does: random lines over an alphabet that has every character either way treats apart.
    #[test]
    fn the_short_way_agrees_with_classify() {
        // Half the lines only of what names and addresses are written with, half of all.
        const NAMES: &[u8] = b"aZ9f0.-_..12";
        const ALL: &[u8] = b"aZ9f0.-_.. \t\r\x0b#/:[]()hxXP";
        let mut rng = crate::mix::TestRng(0x5107_cafe);
        let (mut answered, mut total) = (0, 0);
        for _ in 0..200_000 {
            let alphabet = if rng.below(2) == 0 { NAMES } else { ALL };
            let len = 1 + rng.below(24) as usize;
            let line: String = (0..len)
                .map(|_| alphabet[rng.below(alphabet.len() as u64) as usize] as char)
                .collect();
            total += 1;
            if let Some(short) = plain(&line) {
                answered += 1;
                assert_eq!(short, classify(line.trim()), "{line:?}");
            }
        }
        // Long labels and names, at and past the limits.
        for n in [61, 62, 63, 64, 250, 251, 252, 253, 254, 255] {
            for line in [
                format!("{}.example", "a".repeat(n.min(200))),
                format!("{}b", "a.".repeat(n / 2)),
                format!("{}b.", "a.".repeat(n / 2)),
            ] {
                if let Some(short) = plain(&line) {
                    assert_eq!(short, classify(line.trim()), "{line:?}");
                }
            }
        }
        assert!(
            answered > total / 20,
            "the short way answered {answered} of {total}"
        );
    }
}
