//! The application layer of one TCP direction: recognise what the stream carries from its
//! first bytes and pull the names out of it, on any port.
//!
//! - a TLS handshake record → gather the ClientHello, report it, stop;
//! - an HTTP request line → report every request head (keep-alive, pipelining, proxies),
//!   skipping bodies by `Content-Length`, resynchronising on the next request line after a
//!   chunked body or a gap;
//! - port 53 → DNS messages behind their two-byte length prefix (several per segment, one
//!   across segments);
//! - an HTTP response, or anything else → stop: nothing to learn from this direction.
//!
//! A direction picked up mid-stream that does not start with a request is scanned for a
//! request line for at most [`MIDSTREAM_SCAN_BUDGET`] bytes.
//!
//! A segment is parsed where it lies: nothing is copied while every message (request head,
//! ClientHello, DNS message) ends inside the segment that brings it. Only the bytes a parser
//! waits on are kept, in at most one buffer per direction, bounded by [`MAX_BUFFER`] and freed
//! when the direction is done.

use crate::proto::{http, tls};

/// Largest buffer per direction: a whole ClientHello, a DNS message, or a request head.
pub const MAX_BUFFER: usize = tls::MAX_CLIENT_HELLO + 1024;
/// Bytes scanned for a request line after a gap or at a mid-stream pickup before giving up.
pub const MIDSTREAM_SCAN_BUDGET: usize = 64 * 1024;
/// Bytes kept from a scanned buffer that may still hold the start of a request line.
const RESYNC_TAIL: usize = 256;

/// What a direction yielded.
#[derive(Debug)]
pub enum Found<'a> {
    /// A complete DNS message (TCP, length prefix removed).
    Dns(&'a [u8]),
    /// A ClientHello.
    Tls(tls::ClientHello<'a>),
    /// An HTTP request head.
    Http(http::Request<'a>),
}

/// The protocol recognised in a direction, for `app_proto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppProto {
    /// Not yet known.
    Unknown,
    /// TLS.
    Tls,
    /// HTTP/1.x.
    Http,
    /// DNS over TCP.
    Dns,
    /// Recognised as none of ours.
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Detect,
    Tls,
    Http { body_left: u64, resync: bool },
    Dns,
    Done,
}

/// Application-layer state of one direction.
#[derive(Debug)]
pub struct Stream {
    state: State,
    buf: Vec<u8>,
    scan_left: usize,
    /// Protocol recognised.
    pub proto: AppProto,
}

impl Default for Stream {
    fn default() -> Self {
        Stream {
            state: State::Detect,
            buf: Vec::new(),
            scan_left: MIDSTREAM_SCAN_BUDGET,
            proto: AppProto::Unknown,
        }
    }
}

impl Stream {
    /// False once nothing more can be learnt: the caller stops reassembling this direction.
    pub fn wants_data(&self) -> bool {
        self.state != State::Done
    }

    /// Bytes kept for the next segment.
    #[cfg(test)]
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Bytes are missing before the next delivery.
    pub fn gap(&mut self) {
        match self.state {
            State::Http { .. } => {
                self.buf.clear();
                self.scan_left = MIDSTREAM_SCAN_BUDGET;
                self.state = State::Http {
                    body_left: 0,
                    resync: true,
                };
            }
            State::Detect => {}
            _ => self.finish(),
        }
    }

    /// The next in-order bytes of the direction. `dns_port` says the flow is on a DNS port;
    /// `midstream` that the direction was picked up without its start.
    pub fn data(
        &mut self,
        mut data: &[u8],
        dns_port: bool,
        midstream: bool,
        scratch: &mut Vec<u8>,
        found: &mut impl FnMut(Found<'_>),
    ) {
        if let State::Http {
            body_left,
            resync: false,
        } = &mut self.state
        {
            if *body_left > 0 && self.buf.is_empty() {
                let skip = (*body_left).min(data.len() as u64) as usize;
                *body_left -= skip as u64;
                data = &data[skip..];
            }
        }
        if data.is_empty() || self.state == State::Done {
            return;
        }
        let data = &data[..data.len().min(MAX_BUFFER - self.buf.len())];
        if self.buf.is_empty() {
            // The common case: nothing waits from an earlier segment, so the segment is parsed
            // where it lies and only what a parser waits on is copied.
            let used = self.parse(data, dns_port, midstream, scratch, found);
            if self.state != State::Done {
                self.buf.extend_from_slice(&data[used..]);
            }
        } else {
            let mut buf = std::mem::take(&mut self.buf);
            buf.extend_from_slice(data);
            let used = self.parse(&buf, dns_port, midstream, scratch, found);
            if self.state != State::Done {
                buf.drain(..used);
                self.buf = buf;
            }
        }
        if self.buf.len() >= MAX_BUFFER
            && self.state != State::Done
            && !matches!(self.state, State::Http { .. })
        {
            self.finish();
        }
    }

    /// Run the parsers over `input` (the bytes not yet consumed, in order): how many of them
    /// were consumed. What is left is kept for the next segment.
    fn parse(
        &mut self,
        input: &[u8],
        dns_port: bool,
        midstream: bool,
        scratch: &mut Vec<u8>,
        found: &mut impl FnMut(Found<'_>),
    ) -> usize {
        let mut used = 0;
        // Twice at most: an HTTP CONNECT hands the rest of the stream back to detection.
        for _ in 0..2 {
            let rest = &input[used..];
            if self.state == State::Detect {
                self.detect(rest, dns_port, midstream);
            }
            used += match self.state {
                State::Tls => self.tls(rest, scratch, found),
                State::Http { .. } => self.http(rest, found),
                State::Dns => self.dns(rest, found),
                State::Detect | State::Done => 0,
            };
            if self.state != State::Detect || used == input.len() {
                break;
            }
        }
        used
    }

    fn detect(&mut self, b: &[u8], dns_port: bool, midstream: bool) {
        if b.is_empty() {
            return;
        }
        if dns_port {
            self.state = State::Dns;
            self.proto = AppProto::Dns;
        } else if tls::starts_like_tls(b) {
            self.state = State::Tls;
            self.proto = AppProto::Tls;
        } else if b.len() == 1 && b[0] == 22 {
            // wait for the second byte
        } else if http::could_start_request(b) {
            self.state = State::Http {
                body_left: 0,
                resync: false,
            };
            self.proto = AppProto::Http;
        } else if midstream && !b.starts_with(b"HTTP/") {
            self.state = State::Http {
                body_left: 0,
                resync: true,
            };
        } else {
            self.proto = AppProto::Failed;
            self.finish();
        }
    }

    /// A ClientHello at the start of `input`; consumes nothing (the direction ends once the
    /// hello is read).
    fn tls(
        &mut self,
        input: &[u8],
        scratch: &mut Vec<u8>,
        found: &mut impl FnMut(Found<'_>),
    ) -> usize {
        match tls::client_hello_in_stream(input, scratch) {
            tls::Progress::NeedMore => {}
            tls::Progress::Done(hello) => {
                found(Found::Tls(hello));
                self.finish();
            }
            tls::Progress::NotClientHello | tls::Progress::Malformed => self.finish(),
        }
        0
    }

    /// Request heads in `input`, bodies skipped: the bytes consumed.
    fn http(&mut self, input: &[u8], found: &mut impl FnMut(Found<'_>)) -> usize {
        let mut used = 0;
        loop {
            let State::Http { body_left, resync } = &mut self.state else {
                return used;
            };
            if *body_left > 0 {
                let skip = (*body_left).min((input.len() - used) as u64) as usize;
                *body_left -= skip as u64;
                used += skip;
                if used == input.len() {
                    return used;
                }
            }
            let rest = &input[used..];
            if *resync {
                match http::find_request_start(rest) {
                    Some(at) => {
                        used += at;
                        *resync = false;
                    }
                    None => {
                        let drop = rest.len().saturating_sub(RESYNC_TAIL);
                        used += drop;
                        self.scan_left = self.scan_left.saturating_sub(drop.max(1));
                        if self.scan_left == 0 {
                            self.finish();
                        }
                        return used;
                    }
                }
            }
            let rest = &input[used..];
            match http::parse_request(rest) {
                http::Parse::NeedMore => return used,
                http::Parse::Request(req) => {
                    self.proto = AppProto::Http;
                    found(Found::Http(req));
                    let next = if req.method == b"CONNECT" {
                        // What follows the proxy's answer is the tunnelled protocol (often TLS).
                        State::Detect
                    } else if req.chunked {
                        State::Http {
                            body_left: 0,
                            resync: true,
                        }
                    } else {
                        State::Http {
                            body_left: req.content_length.unwrap_or(0),
                            resync: false,
                        }
                    };
                    used += req.head_len;
                    self.scan_left = MIDSTREAM_SCAN_BUDGET;
                    self.state = next;
                    if used == input.len() || next == State::Detect {
                        return used;
                    }
                }
                http::Parse::NotRequest if rest.starts_with(b"HTTP/") => {
                    self.finish(); // the server's side of the connection
                    return used;
                }
                http::Parse::NotRequest | http::Parse::TooLong => {
                    self.state = State::Http {
                        body_left: 0,
                        resync: true,
                    };
                    if rest.len() > 1 {
                        used += 1;
                    }
                }
            }
        }
    }

    /// Length-prefixed DNS messages in `input`: the bytes of the whole messages consumed.
    fn dns(&mut self, input: &[u8], found: &mut impl FnMut(Found<'_>)) -> usize {
        let mut pos = 0;
        while let Some(len) = input
            .get(pos..pos + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]) as usize)
        {
            let Some(msg) = input.get(pos + 2..pos + 2 + len) else {
                break;
            };
            if len > 0 {
                found(Found::Dns(msg));
            }
            pos += 2 + len;
        }
        pos
    }

    fn finish(&mut self) {
        self.state = State::Done;
        self.buf = Vec::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(chunks: &[&[u8]], dns_port: bool, midstream: bool) -> Vec<String> {
        let mut s = Stream::default();
        let mut scratch = Vec::new();
        let mut out = Vec::new();
        for c in chunks {
            s.data(c, dns_port, midstream, &mut scratch, &mut |f| {
                out.push(match f {
                    Found::Dns(m) => format!("dns {}", m.len()),
                    Found::Tls(h) => {
                        format!("tls {}", String::from_utf8_lossy(h.sni.unwrap_or(b"")))
                    }
                    Found::Http(r) => format!(
                        "http {}",
                        String::from_utf8_lossy(r.host_header.unwrap_or(b""))
                    ),
                })
            });
        }
        out
    }

    #[test]
    fn keep_alive_requests_with_bodies_in_any_segmentation() {
        let stream = b"POST /a HTTP/1.1\r\nHost: one.example\r\nContent-Length: 10\r\n\r\n0123456789GET /b HTTP/1.1\r\nHost: two.example\r\n\r\nGET /c HTTP/1.1\r\nHost: three.example\r\n\r\n";
        let want = ["http one.example", "http two.example", "http three.example"];
        assert_eq!(feed(&[stream], false, false), want);
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(feed(&bytes, false, false), want);
        let sevens: Vec<&[u8]> = stream.chunks(7).collect();
        assert_eq!(feed(&sevens, false, false), want);
    }

    #[test]
    fn chunked_body_resynchronises_on_next_request() {
        let stream = b"POST / HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: b.example\r\n\r\n";
        assert_eq!(
            feed(&[stream], false, false),
            ["http a.example", "http b.example"]
        );
    }

    #[test]
    fn midstream_pickup_finds_a_later_request() {
        let stream = b"tail of some body\r\nGET /x HTTP/1.1\r\nHost: late.example\r\n\r\n";
        assert_eq!(feed(&[stream], false, true), ["http late.example"]);
        assert!(
            feed(&[stream], false, false).is_empty(),
            "without mid-stream pickup, unknown bytes end the direction"
        );
    }

    #[test]
    fn dns_over_tcp_messages_across_and_within_segments() {
        let mut m = Vec::new();
        for len in [20u16, 30, 12] {
            m.extend_from_slice(&len.to_be_bytes());
            m.extend(std::iter::repeat_n(0u8, len as usize));
        }
        assert_eq!(
            feed(&[&m[..10], &m[10..30], &m[30..]], true, false),
            ["dns 20", "dns 30", "dns 12"]
        );
    }

    #[test]
    fn tls_inside_an_http_connect_tunnel() {
        let hs = crate::proto::tls::tests::client_hello("inner.example", &[]);
        let mut stream =
            b"CONNECT inner.example:443 HTTP/1.1\r\nHost: inner.example:443\r\n\r\n".to_vec();
        stream.extend(crate::proto::tls::tests::records(&hs, 100));
        assert_eq!(
            feed(&[&stream], false, false),
            ["http inner.example:443", "tls inner.example"]
        );
        let (head, tail) = stream.split_at(70);
        assert_eq!(
            feed(&[head, tail], false, false),
            ["http inner.example:443", "tls inner.example"]
        );
    }

    #[test]
    fn only_what_a_parser_waits_on_is_kept() {
        let mut s = Stream::default();
        let mut scratch = Vec::new();
        let mut hosts = Vec::new();
        let mut feed = |s: &mut Stream, bytes: &[u8]| {
            s.data(bytes, false, false, &mut scratch, &mut |f| {
                if let Found::Http(r) = f {
                    hosts.push(r.host_header.unwrap_or(b"").to_vec());
                }
            })
        };
        let whole = b"GET /a HTTP/1.1\r\nHost: one.example\r\n\r\n";
        feed(&mut s, whole);
        assert_eq!(
            s.buf.capacity(),
            0,
            "a whole request head is parsed in place"
        );
        let next = b"GET /b HTTP/1.1\r\nHost: two.example\r\n\r\n";
        let (first, second) = next.split_at(20);
        let mut two = whole.to_vec();
        two.extend_from_slice(first);
        feed(&mut s, &two);
        assert_eq!(s.buf, first, "only the unfinished head is kept");
        feed(&mut s, second);
        assert!(s.buf.is_empty());
        assert_eq!(hosts, [&b"one.example"[..], b"one.example", b"two.example"]);
    }

    #[test]
    fn tls_split_over_segments() {
        let hs = crate::proto::tls::tests::client_hello("split.example", &[]);
        let stream = crate::proto::tls::tests::records(&hs, 40);
        let parts: Vec<&[u8]> = stream.chunks(3).collect();
        assert_eq!(feed(&parts, false, false), ["tls split.example"]);
    }
}
