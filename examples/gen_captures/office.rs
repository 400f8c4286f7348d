//! The `office-day` capture: the story is told at the top of `gen_captures.rs`.
//!
//! Conversations are scripted one after another, each with its own clock; every frame is
//! stamped and collected, then all are sorted by time and written. The capture point is a
//! span port on the office switch, so a client's packet is seen when sent and a server's
//! answer one round trip later.

use std::collections::HashMap;
use std::io;
use std::path::Path;

use etherparse::TcpOptionElement;

use super::pcapfile::PcapWriter;
use super::rng::Rng;
use super::wire::{self, Dir, Rdata, ACK, FIN, PSH, QTYPE_A, QTYPE_AAAA, SYN};

/// 2025-01-14 00:00:00 UTC, in seconds.
const DAY: u64 = 1_736_812_800;

/// Microseconds since the epoch at `h:m:s.us` on the day.
fn at(h: u64, m: u64, s: u64, us: u64) -> u64 {
    (DAY + h * 3600 + m * 60 + s) * 1_000_000 + us
}

const MS: u64 = 1_000;
const SEC: u64 = 1_000_000;

/// The router's (HSRP virtual) MAC: every frame to or from the internet goes through it.
const GATEWAY_MAC: [u8; 6] = [0x00, 0x00, 0x0c, 0x9f, 0xf0, 0x14];
const RESOLVER_MAC: [u8; 6] = [0x00, 0x50, 0x56, 0xa1, 0x20, 0x02];
const RESOLVER: [u8; 4] = [10, 20, 0, 2];
/// Windows clients and the Windows DNS server.
const WINDOWS_TTL: u8 = 128;
const MSS: usize = 1460;

fn host_ip(n: u8) -> [u8; 4] {
    [10, 20, 0, n]
}

fn host_mac(n: u8) -> [u8; 6] {
    [0x3c, 0x52, 0x82, 0x4a, 0x10, n]
}

/// A server's TTL as seen inside the office: a Linux 64 less a path of 6 to 17 hops.
fn server_ttl(ip: [u8; 4]) -> u8 {
    58 - ip[3] % 12
}

const fn v6(last: u16) -> [u8; 16] {
    let b = last.to_be_bytes();
    [
        0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, b[0], b[1],
    ]
}

/// What the resolver knows. Benign names answer with documentation addresses
/// (198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32), and so do the two attacker names.
struct Zone {
    name: &'static str,
    cname: Option<&'static str>,
    v4: &'static [[u8; 4]],
    v6: &'static [[u8; 16]],
    ttl: u32,
}

const ZONES: &[Zone] = &[
    Zone {
        name: "www.msftconnecttest.com",
        cname: Some("v4ncsi.msedge.net"),
        v4: &[[198, 51, 100, 16]],
        v6: &[],
        ttl: 60,
    },
    Zone {
        name: "settings-win.data.microsoft.com",
        cname: None,
        v4: &[[198, 51, 100, 14]],
        v6: &[],
        ttl: 300,
    },
    Zone {
        name: "microsoft.com",
        cname: None,
        v4: &[[198, 51, 100, 11], [198, 51, 100, 17]],
        v6: &[v6(0x11)],
        ttl: 1800,
    },
    Zone {
        name: "www.microsoft.com",
        cname: Some("www.microsoft.com-c-3.edgekey.net"),
        v4: &[[198, 51, 100, 12]],
        v6: &[v6(0x12)],
        ttl: 300,
    },
    Zone {
        name: "teams.microsoft.com",
        cname: Some("teams.office.com"),
        v4: &[[198, 51, 100, 13]],
        v6: &[],
        ttl: 300,
    },
    Zone {
        name: "login.microsoftonline.com",
        cname: Some("login.mso.msidentity.com"),
        v4: &[[198, 51, 100, 21], [198, 51, 100, 22]],
        v6: &[],
        ttl: 300,
    },
    Zone {
        name: "outlook.office365.com",
        cname: Some("outlook.ha.office365.com"),
        v4: &[[198, 51, 100, 31], [198, 51, 100, 32]],
        v6: &[v6(0x31)],
        ttl: 60,
    },
    Zone {
        name: "ctldl.windowsupdate.com",
        cname: Some("ctldl.windowsupdate.com.delivery.microsoft.com"),
        v4: &[[198, 51, 100, 15]],
        v6: &[],
        ttl: 600,
    },
    Zone {
        name: "www.google.com",
        cname: None,
        v4: &[[198, 51, 100, 41]],
        v6: &[v6(0x41)],
        ttl: 300,
    },
    Zone {
        name: "update.googleapis.com",
        cname: None,
        v4: &[[198, 51, 100, 42]],
        v6: &[v6(0x42)],
        ttl: 300,
    },
    Zone {
        name: "gov.kz",
        cname: None,
        v4: &[[203, 0, 113, 51]],
        v6: &[],
        ttl: 3600,
    },
    Zone {
        name: "mfa.gov.kz",
        cname: None,
        v4: &[[203, 0, 113, 52]],
        v6: &[],
        ttl: 3600,
    },
    Zone {
        name: "egov.kz",
        cname: None,
        v4: &[[203, 0, 113, 53]],
        v6: &[],
        ttl: 3600,
    },
    Zone {
        name: "portal.mfa.gov.kz",
        cname: None,
        v4: &[[203, 0, 113, 54]],
        v6: &[],
        ttl: 3600,
    },
    Zone {
        name: "tengrinews.kz",
        cname: None,
        v4: &[[203, 0, 113, 61]],
        v6: &[],
        ttl: 600,
    },
    Zone {
        name: "www.inform.kz",
        cname: None,
        v4: &[[203, 0, 113, 62]],
        v6: &[],
        ttl: 600,
    },
    // The attacker's names (UAC-0063 infrastructure in the shipped feed), answered with
    // documentation addresses.
    Zone {
        name: "diagnostic-resolver.com",
        cname: None,
        v4: &[[203, 0, 113, 10]],
        v6: &[],
        ttl: 300,
    },
    Zone {
        name: "lookup.ink",
        cname: None,
        v4: &[[203, 0, 113, 20]],
        v6: &[],
        ttl: 300,
    },
];

/// HATVIBE's stage-2 beacon address, a listed C2 (contacted by address, no DNS).
const C2: [u8; 4] = [45, 136, 198, 184];

/// The User-Agent of `mshta.exe` fetching a URL (WinINet, IE7 compatibility mode).
const MSHTA_UA: &str =
    "Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 10.0; Win64; x64; Trident/7.0; .NET4.0C; \
                        .NET4.0E; .NET CLR 2.0.50727; .NET CLR 3.0.30729; .NET CLR 3.5.30729)";
const EDGE_UA: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
                       Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0";

/// One TCP connection: both directions and their next sequence numbers, and the time the
/// next thing happens.
struct Conn {
    up: Dir,
    down: Dir,
    cseq: u32,
    sseq: u32,
    t: u64,
    rtt: u64,
}

struct Office {
    frames: Vec<(u64, u64, Vec<u8>)>,
    rng: Rng,
    ip_ids: HashMap<[u8; 4], u16>,
    next_port: HashMap<u8, u16>,
    buf: Vec<u8>,
}

impl Office {
    fn new() -> Office {
        Office {
            frames: Vec::new(),
            rng: Rng::new(0x0FF1CE),
            ip_ids: HashMap::new(),
            next_port: HashMap::new(),
            buf: Vec::new(),
        }
    }

    fn ip_id(&mut self, ip: [u8; 4]) -> u16 {
        let seed = self.rng.next_u16();
        let id = self.ip_ids.entry(ip).or_insert(seed);
        *id = id.wrapping_add(1);
        *id
    }

    fn emit(&mut self, t: u64) {
        let order = self.frames.len() as u64;
        self.frames.push((t, order, self.buf.clone()));
    }

    #[allow(clippy::too_many_arguments)]
    fn seg(
        &mut self,
        t: u64,
        d: Dir,
        seq: u32,
        ack: u32,
        flags: u8,
        options: &[TcpOptionElement],
        payload: &[u8],
    ) {
        let id = self.ip_id(d.src_ip);
        // Windows scales its window by 256, the servers by 128, once the handshake is over.
        let window = match (d.ttl == WINDOWS_TTL, flags & SYN != 0) {
            (true, true) => 64_240,
            (true, false) => 1_026,
            (false, true) => 65_160,
            (false, false) => 502,
        };
        let mut buf = std::mem::take(&mut self.buf);
        wire::tcp(&mut buf, &d, id, seq, ack, flags, window, options, payload);
        self.buf = buf;
        self.emit(t);
    }

    fn datagram(&mut self, t: u64, d: Dir, payload: &[u8]) {
        let id = self.ip_id(d.src_ip);
        let mut buf = std::mem::take(&mut self.buf);
        wire::udp(&mut buf, &d, id, payload);
        self.buf = buf;
        self.emit(t);
    }

    // ----------------------------------------------------------------------------- TCP

    /// The three-way handshake from workstation `host` to `server:port` at `t`.
    fn connect(&mut self, host: u8, server: [u8; 4], port: u16, t: u64) -> Conn {
        let next = self
            .next_port
            .entry(host)
            .or_insert(49_700 + u16::from(host) * 37);
        *next += 1 + (self.rng.below(3) as u16);
        let up = Dir {
            src_mac: host_mac(host),
            dst_mac: GATEWAY_MAC,
            src_ip: host_ip(host),
            dst_ip: server,
            src_port: *next,
            dst_port: port,
            ttl: WINDOWS_TTL,
        };
        let down = up.reverse(server_ttl(server));
        let rtt = (18 + self.rng.below(60)) * MS + self.rng.below(999);
        let mut c = Conn {
            up,
            down,
            cseq: self.rng.next_u32(),
            sseq: self.rng.next_u32(),
            t,
            rtt,
        };
        use TcpOptionElement::*;
        let syn_opts = [
            MaximumSegmentSize(MSS as u16),
            Noop,
            WindowScale(8),
            Noop,
            Noop,
            SelectiveAcknowledgementPermitted,
        ];
        let synack_opts = [
            MaximumSegmentSize(MSS as u16),
            Noop,
            Noop,
            SelectiveAcknowledgementPermitted,
            Noop,
            WindowScale(7),
        ];
        self.seg(c.t, c.up, c.cseq, 0, SYN, &syn_opts, &[]);
        c.cseq = c.cseq.wrapping_add(1);
        c.t += c.rtt;
        self.seg(c.t, c.down, c.sseq, c.cseq, SYN | ACK, &synack_opts, &[]);
        c.sseq = c.sseq.wrapping_add(1);
        c.t += 60 + self.rng.below(80);
        self.seg(c.t, c.up, c.cseq, c.sseq, ACK, &[], &[]);
        c.t += 200 + self.rng.below(400);
        c
    }

    /// The client sends `data` in full-sized segments. The server's reaction shows one
    /// round trip later: a bare ACK if `server_acks`, otherwise whatever the caller sends next.
    fn client_send(&mut self, c: &mut Conn, data: &[u8], server_acks: bool) {
        let chunks: Vec<&[u8]> = data.chunks(MSS).collect();
        let n = chunks.len();
        for (i, chunk) in chunks.into_iter().enumerate() {
            let flags = if i + 1 == n { ACK | PSH } else { ACK };
            self.seg(c.t, c.up, c.cseq, c.sseq, flags, &[], chunk);
            c.cseq = c.cseq.wrapping_add(chunk.len() as u32);
            c.t += 25 + self.rng.below(30);
        }
        c.t += c.rtt;
        if server_acks {
            self.seg(c.t, c.down, c.sseq, c.cseq, ACK, &[], &[]);
            c.t += 2 * MS + self.rng.below(30 * MS);
        } else {
            c.t += self.rng.below(4 * MS);
        }
    }

    /// The client sends `data` cut at `cuts`, and the segments reach the wire in `order`
    /// (indexes into the cut pieces). The server answers a segment that leaves a hole with
    /// a duplicate ACK of what it has, as TCP does.
    fn client_send_split(&mut self, c: &mut Conn, data: &[u8], cuts: &[usize], order: &[usize]) {
        let mut bounds = vec![0];
        bounds.extend_from_slice(cuts);
        bounds.push(data.len());
        let pieces: Vec<(usize, usize)> = bounds.windows(2).map(|w| (w[0], w[1])).collect();
        let mut received = vec![false; pieces.len()];
        let base = c.cseq;
        for &k in order {
            let (a, b) = pieces[k];
            let flags = if b == data.len() { ACK | PSH } else { ACK };
            self.seg(
                c.t,
                c.up,
                base.wrapping_add(a as u32),
                c.sseq,
                flags,
                &[],
                &data[a..b],
            );
            received[k] = true;
            let contiguous = received.iter().take_while(|&&r| r).count();
            if contiguous < pieces.len() && received[contiguous..].iter().any(|&r| r) {
                let have = base.wrapping_add(pieces[contiguous].0 as u32);
                self.seg(c.t + c.rtt, c.down, c.sseq, have, ACK, &[], &[]);
            }
            c.t += 300 + self.rng.below(900);
        }
        c.cseq = base.wrapping_add(data.len() as u32);
        c.t += c.rtt;
    }

    /// The server sends `data`; the client ACKs every second segment and the last.
    fn server_send(&mut self, c: &mut Conn, data: &[u8]) {
        let chunks: Vec<&[u8]> = data.chunks(MSS).collect();
        let n = chunks.len();
        for (i, chunk) in chunks.into_iter().enumerate() {
            let flags = if i + 1 == n { ACK | PSH } else { ACK };
            self.seg(c.t, c.down, c.sseq, c.cseq, flags, &[], chunk);
            c.sseq = c.sseq.wrapping_add(chunk.len() as u32);
            if i % 2 == 1 || i + 1 == n {
                let t = c.t + 40 + self.rng.below(60);
                self.seg(t, c.up, c.cseq, c.sseq, ACK, &[], &[]);
            }
            c.t += 10 + self.rng.below(20);
        }
        c.t += 150 + self.rng.below(3 * MS);
    }

    /// The client closes: FIN/ACK, the server's FIN/ACK a round trip later, the last ACK.
    fn client_close(&mut self, c: &mut Conn) {
        self.seg(c.t, c.up, c.cseq, c.sseq, FIN | ACK, &[], &[]);
        c.cseq = c.cseq.wrapping_add(1);
        c.t += c.rtt;
        self.seg(c.t, c.down, c.sseq, c.cseq, FIN | ACK, &[], &[]);
        c.sseq = c.sseq.wrapping_add(1);
        c.t += 50 + self.rng.below(100);
        self.seg(c.t, c.up, c.cseq, c.sseq, ACK, &[], &[]);
    }

    // --------------------------------------------------------------------------- sessions

    /// One DNS question from `host` at `t` and the resolver's answer; returns the answer's time.
    fn dns(&mut self, host: u8, t: u64, name: &str, qtype: u16) -> u64 {
        let zone = ZONES
            .iter()
            .find(|z| z.name == name)
            .expect("every name the story asks is in ZONES");
        let up = Dir {
            src_mac: host_mac(host),
            dst_mac: RESOLVER_MAC,
            src_ip: host_ip(host),
            dst_ip: RESOLVER,
            src_port: self.rng.range(49_152, 65_535) as u16,
            dst_port: 53,
            ttl: WINDOWS_TTL,
        };
        let id = self.rng.next_u16();
        let mut msg = Vec::new();
        wire::dns_query(&mut msg, id, name, qtype);
        self.datagram(t, up, &msg);

        let mut answers = Vec::new();
        if let Some(cname) = zone.cname {
            answers.push(Rdata::Cname(cname));
        }
        match qtype {
            QTYPE_A => answers.extend(zone.v4.iter().map(|a| Rdata::A(*a))),
            _ => answers.extend(zone.v6.iter().map(|a| Rdata::Aaaa(*a))),
        }
        if qtype == QTYPE_AAAA && zone.v6.is_empty() {
            answers.clear(); // NOERROR, no data
        }
        // Cached names come back at once; the others after a recursion.
        let delay = if self.rng.chance(0.4) {
            300 + self.rng.below(700)
        } else {
            8 * MS + self.rng.below(40 * MS)
        };
        wire::dns_response(&mut msg, id, name, qtype, 0, zone.ttl, &answers);
        self.datagram(t + delay, up.reverse(WINDOWS_TTL), &msg);
        t + delay
    }

    /// Resolve `name` the way Windows does (A, and with `aaaa` also AAAA in parallel);
    /// returns the first IPv4 address and when the answers were in.
    fn resolve(&mut self, host: u8, t: u64, name: &str, aaaa: bool) -> ([u8; 4], u64) {
        let mut done = self.dns(host, t, name, QTYPE_A);
        if aaaa {
            let t6 = t + 120 + self.rng.below(200);
            done = done.max(self.dns(host, t6, name, QTYPE_AAAA));
        }
        let zone = ZONES.iter().find(|z| z.name == name).expect("in ZONES");
        (zone.v4[0], done + 300 + self.rng.below(2 * MS))
    }

    /// A full TLS 1.3 session to `sni` at `server:443`: handshake, one request of `request`
    /// bytes and its `response`, then close_notify and FIN. With `split`, the ClientHello is
    /// cut at the given offsets and its pieces reach the wire in the given order.
    #[allow(clippy::too_many_arguments)]
    fn tls(
        &mut self,
        host: u8,
        t: u64,
        sni: &str,
        server: [u8; 4],
        browser: bool,
        split: Option<(&[usize], &[usize])>,
        request: usize,
        response: usize,
    ) -> u64 {
        let mut c = self.connect(host, server, 443, t);
        let mut hello = Vec::new();
        let alpn: &[&str] = if browser {
            &["h2", "http/1.1"]
        } else {
            &["http/1.1"]
        };
        wire::client_hello(&mut hello, &mut self.rng, sni, alpn, browser);
        match split {
            None => self.client_send(&mut c, &hello, false),
            Some((cuts, order)) => self.client_send_split(&mut c, &hello, cuts, order),
        }
        let mut flight = Vec::new();
        let cert_chain = 2400 + self.rng.below(1800) as usize;
        wire::server_flight(&mut flight, &mut self.rng, cert_chain);
        self.server_send(&mut c, &flight);
        let mut fin = Vec::new();
        wire::client_finished(&mut fin, &mut self.rng);
        wire::app_data(&mut fin, &mut self.rng, request);
        self.client_send(&mut c, &fin, true);
        let mut answer = Vec::new();
        wire::app_data(&mut answer, &mut self.rng, 249); // two session tickets
        wire::app_data(&mut answer, &mut self.rng, 249);
        wire::app_data(&mut answer, &mut self.rng, response);
        self.server_send(&mut c, &answer);
        c.t += 2 * SEC + self.rng.below(25 * SEC);
        let mut bye = Vec::new();
        wire::app_data(&mut bye, &mut self.rng, 19); // close_notify
        self.seg(c.t, c.up, c.cseq, c.sseq, ACK | PSH, &[], &bye);
        c.cseq = c.cseq.wrapping_add(bye.len() as u32);
        c.t += 30 + self.rng.below(50);
        self.client_close(&mut c);
        c.t
    }

    /// An HTTP/1.1 connection from `host` to `server:port` carrying `exchanges` (request,
    /// response) in turn, kept alive between them, closed by the client when idle.
    fn http(
        &mut self,
        host: u8,
        t: u64,
        server: [u8; 4],
        port: u16,
        exchanges: &[(Vec<u8>, Vec<u8>)],
    ) -> u64 {
        let mut c = self.connect(host, server, port, t);
        for (i, (request, response)) in exchanges.iter().enumerate() {
            if i > 0 {
                c.t += 80 * MS + self.rng.below(400 * MS);
            }
            self.client_send(&mut c, request, false);
            self.server_send(&mut c, response);
        }
        c.t += 3 * SEC + self.rng.below(5 * SEC);
        self.client_close(&mut c);
        c.t
    }

    /// A browser visit: resolve, then a TLS session.
    fn visit(&mut self, host: u8, t: u64, name: &str, split: Option<(&[usize], &[usize])>) -> u64 {
        let zone = ZONES.iter().find(|z| z.name == name).expect("in ZONES");
        let (ip, t) = self.resolve(host, t, name, !zone.v6.is_empty());
        let request = 300 + self.rng.below(500) as usize;
        let response = 600 + self.rng.below(9000) as usize;
        self.tls(host, t, name, ip, true, split, request, response)
    }

    /// A Windows service (no ALPN h2, no padding): resolve, then a TLS session.
    fn service(&mut self, host: u8, t: u64, name: &str) -> u64 {
        let (ip, t) = self.resolve(host, t, name, false);
        let request = 400 + self.rng.below(900) as usize;
        let response = 200 + self.rng.below(1500) as usize;
        self.tls(host, t, name, ip, false, None, request, response)
    }

    fn write(mut self, path: &Path) -> io::Result<(u64, u64)> {
        self.frames.sort_by_key(|f| (f.0, f.1));
        let mut w = PcapWriter::create(path)?;
        for (t, _, frame) in &self.frames {
            w.write(*t, frame)?;
        }
        let (packets, bytes) = (w.packets, w.file_bytes);
        w.finish()?;
        Ok((packets, bytes))
    }
}

fn response(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\n").into_bytes();
    for (k, v) in headers {
        out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
    out
}

fn hex(rng: &mut Rng, n: usize) -> String {
    (0..n)
        .map(|_| char::from(b"0123456789abcdef"[rng.below(16) as usize]))
        .collect()
}

/// Writes the capture to `path`; returns (packets, file bytes).
pub fn write(path: &Path) -> io::Result<(u64, u64)> {
    let mut o = Office::new();

    // 08:55 The first workstations come up: network connectivity check, settings, sign-in.
    let (ip, t) = o.resolve(21, at(8, 55, 2, 114_000), "www.msftconnecttest.com", false);
    let ncsi =
        b"GET /connecttest.txt HTTP/1.1\r\nConnection: Close\r\nUser-Agent: Microsoft NCSI\r\n\
                 Host: www.msftconnecttest.com\r\n\r\n"
            .to_vec();
    let ok = response(
        "200 OK",
        &[
            ("Content-Type", "text/plain"),
            ("Cache-Control", "max-age=30, must-revalidate"),
        ],
        b"Microsoft Connect Test",
    );
    o.http(21, t, ip, 80, &[(ncsi, ok)]);
    o.service(
        21,
        at(8, 55, 10, 402_000),
        "settings-win.data.microsoft.com",
    );
    // Sign-in: the ClientHello cut in three, the third piece overtaking the second.
    o.visit(
        34,
        at(8, 56, 30, 77_000),
        "login.microsoftonline.com",
        Some((&[60, 130], &[0, 2, 1])),
    );
    o.visit(34, at(8, 57, 5, 640_000), "outlook.office365.com", None);
    // A search: the ClientHello cut in two, the second piece first.
    o.visit(
        45,
        at(8, 58, 40, 5_000),
        "www.google.com",
        Some((&[125], &[1, 0])),
    );
    o.service(45, at(9, 1, 12, 930_000), "update.googleapis.com");
    o.visit(57, at(9, 3, 20, 310_000), "mfa.gov.kz", None);

    // 09:04 The intranet news page on port 8080.
    let (ip, t) = o.resolve(57, at(9, 4, 2, 550_000), "portal.mfa.gov.kz", false);
    let get = format!(
        "GET /portal/news?lang=ru HTTP/1.1\r\nHost: portal.mfa.gov.kz:8080\r\nConnection: keep-alive\r\n\
         User-Agent: {EDGE_UA}\r\nAccept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n\
         Accept-Encoding: gzip, deflate\r\nAccept-Language: ru-RU,ru;q=0.9,kk;q=0.8,en;q=0.7\r\n\r\n"
    );
    let mut page = b"<!DOCTYPE html><html lang=\"ru\"><head><meta charset=\"utf-8\"><title>\xd0\x9d\xd0\xbe\xd0\xb2\xd0\xbe\xd1\x81\xd1\x82\xd0\xb8</title></head><body>".to_vec();
    for i in 0..24 {
        page.extend_from_slice(
            format!(
                "<div class=\"item\"><a href=\"/portal/news/{}\">{}</a></div>\n",
                4410 + i,
                hex(&mut o.rng, 48)
            )
            .as_bytes(),
        );
    }
    page.extend_from_slice(b"</body></html>");
    let ok = response(
        "200 OK",
        &[
            ("Server", "nginx"),
            ("Content-Type", "text/html; charset=utf-8"),
            ("Connection", "keep-alive"),
        ],
        &page,
    );
    o.http(57, t, ip, 8080, &[(get.into_bytes(), ok)]);

    o.visit(63, at(9, 5, 45, 880_000), "tengrinews.kz", None);
    o.visit(63, at(9, 7, 10, 120_000), "gov.kz", None);

    // 09:08 CryptoAPI refreshes its certificate trust lists: two GETs on one connection.
    let (ip, t) = o.resolve(88, at(9, 8, 30, 260_000), "ctldl.windowsupdate.com", false);
    let cab = |name: &str, tag: &str| {
        format!(
            "GET /msdownload/update/v3/static/trustedr/en/{name}?{tag} HTTP/1.1\r\nConnection: Keep-Alive\r\n\
             Accept: */*\r\nIf-Modified-Since: Tue, 07 Jan 2025 18:02:11 GMT\r\nUser-Agent: Microsoft-CryptoAPI/10.0\r\n\
             Host: ctldl.windowsupdate.com\r\n\r\n"
        )
        .into_bytes()
    };
    let first = cab("disallowedcertstl.cab", &hex(&mut o.rng, 16));
    let second = cab("pinrulesstl.cab", &hex(&mut o.rng, 16));
    let not_modified = b"HTTP/1.1 304 Not Modified\r\nCache-Control: public,max-age=900\r\nLast-Modified: Tue, 07 Jan 2025 18:02:11 GMT\r\n\
                         ETag: \"0a3c7e1e261db1:0\"\r\nAge: 412\r\nConnection: keep-alive\r\n\r\n"
        .to_vec();
    let mut cabinet = b"MSCF\0\0\0\0".to_vec();
    let mut blob = vec![0u8; 3_180];
    o.rng.fill(&mut blob);
    cabinet.extend_from_slice(&blob);
    let cab_ok = response(
        "200 OK",
        &[
            ("Content-Type", "application/vnd.ms-cab-compressed"),
            ("Last-Modified", "Mon, 13 Jan 2025 21:40:05 GMT"),
            ("Connection", "keep-alive"),
        ],
        &cabinet,
    );
    o.http(88, t, ip, 80, &[(first, not_modified), (second, cab_ok)]);
    o.visit(88, at(9, 10, 0, 540_000), "microsoft.com", None);

    // 09:12 The victim reads mail and opens the attachment; the document fetches the HTA.
    o.visit(57, at(9, 12, 40, 90_000), "outlook.office365.com", None);
    let (ip, t) = o.resolve(57, at(9, 14, 3, 218_000), "diagnostic-resolver.com", false);
    let get = format!(
        "GET /kb5034441.hta HTTP/1.1\r\nAccept: */*\r\nAccept-Language: ru-RU\r\nUA-CPU: AMD64\r\n\
         Accept-Encoding: gzip, deflate\r\nUser-Agent: {MSHTA_UA}\r\nHost: diagnostic-resolver.com\r\n\
         Connection: Keep-Alive\r\n\r\n"
    );
    let hta = format!(
        "<html><head><title>KB5034441</title>\r\n<HTA:APPLICATION ID=\"kb5034441\" APPLICATIONNAME=\"Update\" \
         BORDER=\"none\" SHOWINTASKBAR=\"no\" WINDOWSTATE=\"minimize\"/>\r\n</head><body>\r\n\
         <script language=\"VBScript\">\r\n' Stand-in for the HATVIBE loader, made by ioc-sensor's capture \
         generator. It does nothing.\r\nDim k : k = \"{}\"\r\nwindow.close\r\n</script></body></html>\r\n",
        hex(&mut o.rng, 2_400)
    );
    let ok = response(
        "200 OK",
        &[
            ("Server", "nginx"),
            ("Content-Type", "application/hta"),
            ("Connection", "keep-alive"),
        ],
        hta.as_bytes(),
    );
    o.http(57, t, ip, 80, &[(get.into_bytes(), ok)]);

    o.visit(21, at(9, 16, 40, 660_000), "www.google.com", None);

    // 09:20 HATVIBE reports to its C2 by address.
    let body = format!(
        "id={}&s=1&v=2&d={}",
        hex(&mut o.rng, 12),
        hex(&mut o.rng, 64)
    );
    let post = format!(
        "POST /index.php HTTP/1.1\r\nAccept: */*\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         UA-CPU: AMD64\r\nAccept-Encoding: gzip, deflate\r\nUser-Agent: {MSHTA_UA}\r\nHost: 45.136.198.184\r\n\
         Content-Length: {}\r\nConnection: Keep-Alive\r\nCache-Control: no-cache\r\n\r\n{body}",
        body.len()
    );
    let ok = response(
        "200 OK",
        &[
            ("Server", "Apache"),
            ("Content-Type", "text/html; charset=UTF-8"),
        ],
        b"0",
    );
    o.http(
        57,
        at(9, 20, 17, 403_000),
        C2,
        80,
        &[(post.into_bytes(), ok)],
    );

    o.visit(112, at(9, 22, 0, 310_000), "egov.kz", None);
    o.visit(34, at(9, 25, 30, 750_000), "teams.microsoft.com", None);

    // 09:31 CHERRYSPY (Python, OpenSSL: no padding, ALPN http/1.1) calls its C2 over TLS.
    let (ip, t) = o.resolve(57, at(9, 31, 5, 12_000), "lookup.ink", false);
    o.tls(57, t, "lookup.ink", ip, false, None, 420, 180);

    // The rest of the morning.
    o.visit(45, at(9, 40, 12, 200_000), "www.inform.kz", None);
    o.visit(63, at(9, 48, 51, 30_000), "login.microsoftonline.com", None);
    o.service(88, at(9, 55, 3, 870_000), "update.googleapis.com");
    o.visit(21, at(10, 5, 27, 450_000), "tengrinews.kz", None);
    o.visit(112, at(10, 12, 9, 990_000), "mfa.gov.kz", None);
    o.visit(34, at(10, 20, 44, 640_000), "www.microsoft.com", None);
    o.service(57, at(10, 28, 16, 5_000), "settings-win.data.microsoft.com");

    o.write(path)
}
