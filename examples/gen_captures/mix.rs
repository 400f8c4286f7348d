//! Streamed synthetic mixes for the whole-process benchmarks, written in constant memory.
//!
//! A pool of concurrent flows (2 048 for the realistic mix, 8 192 for the small one) is kept
//! alive; at every step one flow, chosen at random, sends its next packet (a flow moving bulk
//! data sends a burst of up to 8), and a flow that has finished is replaced by a new one. The
//! clock advances as on a 1 Gbit/s link. Every frame is Ethernet II / IPv4 / TCP or UDP with
//! correct lengths and checksums; TCP flows have real handshakes, sequence and acknowledgment
//! numbers, timestamps and FIN teardown.
//!
//! - **realistic**: 40 % of flows are DNS query/response pairs, 22 % short TLS sessions
//!   (ClientHello with SNI, server flight, a few records), 8 % HTTP/1.1 (some keep-alive),
//!   12 % QUIC-looking UDP/443 (version 1 Initial packets, then short-header packets; the
//!   bytes are random and do not decrypt), and 18 % bulk TCP (HTTPS or HTTP downloads in
//!   1448-byte segments, a quarter with a 536-byte MSS) which carry most bytes. Names are 60 %
//!   well-known sites and 40 % invented (20 000 of them); servers come from 60 000 addresses.
//! - **small**: a DNS query flood with random names (a quarter answered NXDOMAIN) and short
//!   TCP flows: SYN, SYN/ACK, ACK, one small HTTP request, its ACK, FIN, FIN, ACK.
//!
//! One flow in every 1 000 (realistic) or 20 000 (small) uses a name or address from
//! [`names::planted_name`] / [`names::planted_addr`], which `feed` puts in the benchmark feed.

use std::fs::File;
use std::io::{self, BufWriter};
use std::path::Path;

use etherparse::TcpOptionElement::{
    self, MaximumSegmentSize, Noop, SelectiveAcknowledgementPermitted, Timestamp, WindowScale,
};

use super::names::{self, POPULAR};
use super::pcapfile::PcapWriter;
use super::rng::Rng;
use super::wire::{
    self, Dir, Rdata, ACK, FIN, PSH, QTYPE_A, QTYPE_AAAA, QTYPE_HTTPS, RCODE_NXDOMAIN, SYN,
};

#[derive(Clone, Copy, PartialEq)]
pub enum Kind {
    Realistic,
    Small,
}

/// 2025-01-14 12:00:00 UTC.
const START_US: u64 = (1_736_812_800 + 12 * 3600) * 1_000_000;
/// Random bytes that payloads are cut from.
const NOISE_LEN: usize = 1 << 18;
const GATEWAY_MAC: [u8; 6] = [0x00, 0x1c, 0x73, 0x5e, 0x00, 0x01];
const RESOLVERS: [[u8; 4]; 2] = [[10, 1, 255, 2], [10, 1, 255, 3]];

#[derive(Clone, Copy, PartialEq)]
enum FlowKind {
    Dns,
    Tls,
    Http,
    Quic,
    /// Small mix: a flood query.
    Flood,
    /// Small mix: a short TCP flow.
    Short,
}

#[derive(Clone, Copy, PartialEq)]
enum Phase {
    Syn,
    SynAck,
    Ack,
    Request,
    RequestAck,
    Flight,
    Finished,
    Data,
    FinClient,
    FinServer,
    LastAck,
    Query,
    Response,
    QuicInitial,
    QuicServer,
    QuicClient,
    QuicData,
}

#[derive(Clone, Copy)]
enum Name {
    Popular(u16),
    Pool(u32),
    Planted(u8),
    /// A flood name, made from this seed.
    Flood(u64),
}

#[derive(Clone, Copy)]
struct Flow {
    kind: FlowKind,
    phase: Phase,
    up: Dir,
    down_ttl: u8,
    name: Name,
    cseq: u32,
    sseq: u32,
    ts_client: u32,
    ts_server: u32,
    mss: u16,
    /// Segments (or QUIC packets) left in the current server burst.
    left: u32,
    /// Segments sent in the current burst, for ACK-every-second-segment.
    sent: u32,
    /// Size of the last segment of the current burst.
    last_len: u16,
    /// Server segments after the TLS handshake.
    bulk: u32,
    /// HTTP requests after the first on a keep-alive connection.
    more_requests: u8,
    /// The client ACKs every segment (1) or every second one (2, delayed ACK).
    ack_every: u8,
    ack_due: bool,
    dns_id: u16,
    qtype: u16,
    nxdomain: bool,
    /// QUIC: the client's first destination connection ID, then the server's.
    cid: [u8; 8],
}

impl Flow {
    fn sends_bulk(&self) -> bool {
        matches!(self.phase, Phase::Data | Phase::Flight | Phase::QuicData)
    }
}

/// A full TLS 1.3 application-data record on the wire: 5-byte header, 16 KiB of data, the
/// content type byte and a 16-byte tag.
const TLS_RECORD: usize = 5 + 16_401;

/// How a burst of server segments is filled.
#[derive(Clone, Copy)]
enum Framing {
    /// Random bytes.
    Noise,
    /// The first segment starts with the head prepared in scratch, then random bytes.
    Head,
    /// TLS application-data records.
    TlsRecords,
}

/// Where a frame's payload comes from.
enum Payload {
    Empty,
    Noise(usize),
    Scratch,
}

struct Gen {
    kind: Kind,
    seed: u64,
    rng: Rng,
    w: PcapWriter<BufWriter<File>>,
    now_ns: u64,
    buf: Vec<u8>,
    scratch: Vec<u8>,
    name: String,
    noise: Vec<u8>,
    /// The names under which the flood asks random labels.
    flood_parents: Vec<String>,
    flows_started: u64,
    /// Frames by size: <=100, <=400, <=700, <=1400, larger.
    sizes: [u64; 5],
}

impl Gen {
    fn emit(&mut self) -> io::Result<()> {
        let len = self.buf.len() as u64;
        // About 1 Gbit/s: 8 ns a byte on average, jittered.
        self.now_ns += 1 + len * 4 + self.rng.below(len * 8);
        self.w.write(START_US + self.now_ns / 1000, &self.buf)?;
        let bucket = match len {
            0..=100 => 0,
            101..=400 => 1,
            401..=700 => 2,
            701..=1400 => 3,
            _ => 4,
        };
        self.sizes[bucket] += 1;
        Ok(())
    }

    fn now_ms(&self) -> u32 {
        (self.now_ns / 1_000_000) as u32
    }

    fn write_name(&mut self, name: Name) {
        self.name.clear();
        match name {
            Name::Popular(i) => self.name.push_str(POPULAR[i as usize]),
            Name::Pool(i) => names::pool_name(self.seed, u64::from(i), &mut self.name),
            Name::Planted(i) => names::planted_name(self.seed, u64::from(i), &mut self.name),
            Name::Flood(h) => {
                let mut rng = Rng::new(h);
                names::flood_name(&mut rng, &self.flood_parents, &mut self.name);
            }
        }
    }

    /// The `k`th address of `name`'s servers.
    fn addr_for(&self, name: Name, k: u64) -> [u8; 4] {
        let index = match name {
            Name::Popular(i) => u64::from(i) * 4 + k % 4,
            Name::Pool(i) => 256 + (u64::from(i) * 3 + k % 3) % (names::POOL_ADDRS - 256),
            Name::Planted(i) => 256 + u64::from(i) * 7919 + k % 2,
            Name::Flood(h) => h % names::POOL_ADDRS,
        };
        names::pool_addr(self.seed, index)
    }

    fn pick_name(&mut self) -> Name {
        if self.rng.chance(0.6) {
            // Skewed toward the head of the list, as real popularity is.
            let n = POPULAR.len() as u64;
            let head = self.rng.below(n) + 1;
            Name::Popular(self.rng.below(head) as u16)
        } else {
            Name::Pool(self.rng.below(names::POOL_NAMES) as u32)
        }
    }

    fn client(&mut self, server: [u8; 4], port: u16) -> Dir {
        let x = self.rng.below(16) as u8;
        let y = self.rng.range(1, 254) as u8;
        Dir {
            src_mac: [0x3c, 0x52, 0x82, 0x01, x, y],
            dst_mac: GATEWAY_MAC,
            src_ip: [10, 1, x, y],
            dst_ip: server,
            src_port: self.rng.range(34_000, 60_999) as u16,
            dst_port: port,
            ttl: 64,
        }
    }

    fn new_flow(&mut self) -> Flow {
        self.flows_started += 1;
        let planted_every = if self.kind == Kind::Realistic {
            1_000
        } else {
            20_000
        };
        let planted = if self.flows_started.is_multiple_of(planted_every) {
            Some(
                (self.flows_started / planted_every)
                    % (names::PLANTED_NAMES + names::PLANTED_ADDRS),
            )
        } else {
            None
        };
        let r = self.rng.below(100);
        let kind = match (self.kind, planted) {
            (Kind::Realistic, Some(p)) if p < names::PLANTED_NAMES && p % 2 == 0 => FlowKind::Dns,
            (Kind::Realistic, Some(_)) => FlowKind::Tls,
            (Kind::Small, Some(p)) if p < names::PLANTED_NAMES => FlowKind::Flood,
            (Kind::Small, Some(_)) => FlowKind::Short,
            (Kind::Realistic, None) => match r {
                0..=39 => FlowKind::Dns,
                40..=61 | 82..=93 => FlowKind::Tls,
                62..=69 | 94..=99 => FlowKind::Http,
                _ => FlowKind::Quic,
            },
            (Kind::Small, None) => {
                if r < 80 {
                    FlowKind::Flood
                } else {
                    FlowKind::Short
                }
            }
        };
        let bulk_flow = self.kind == Kind::Realistic && planted.is_none() && r >= 82;
        let mut name = match planted {
            Some(p) if p < names::PLANTED_NAMES => Name::Planted(p as u8),
            _ if kind == FlowKind::Flood => Name::Flood(self.rng.next_u64()),
            _ => self.pick_name(),
        };
        let mut server = if matches!(kind, FlowKind::Dns | FlowKind::Flood) {
            RESOLVERS[self.rng.below(2) as usize]
        } else {
            let k = self.rng.next_u64();
            self.addr_for(name, k)
        };
        if let Some(p) = planted.filter(|&p| p >= names::PLANTED_NAMES) {
            server = names::planted_addr(self.seed, p - names::PLANTED_NAMES);
            if kind == FlowKind::Short {
                name = Name::Pool(self.rng.below(names::POOL_NAMES) as u32);
            }
        }
        let (port, phase) = match kind {
            FlowKind::Dns | FlowKind::Flood => (53, Phase::Query),
            FlowKind::Quic => (443, Phase::QuicInitial),
            FlowKind::Tls => (443, Phase::Syn),
            FlowKind::Http | FlowKind::Short => (80, Phase::Syn),
        };
        let mut up = self.client(server, port);
        if port == 53 {
            up.dst_mac = [0x00, 0x50, 0x56, 0xa1, 0xff, server[3]];
        }
        let mss = if bulk_flow && self.rng.chance(0.25) {
            536
        } else {
            1448
        };
        let bulk = if bulk_flow {
            let e = self.rng.range(3, 8);
            (1u32 << e) + self.rng.below(1 << e) as u32
        } else {
            self.rng.below(5) as u32
        };
        let qtype = match self.rng.below(10) {
            0..=6 => QTYPE_A,
            7 | 8 => QTYPE_AAAA,
            _ => QTYPE_HTTPS,
        };
        Flow {
            kind,
            phase,
            up,
            down_ttl: 40 + self.rng.below(24) as u8,
            name,
            cseq: self.rng.next_u32(),
            sseq: self.rng.next_u32(),
            ts_client: self.rng.next_u32(),
            ts_server: self.rng.next_u32(),
            mss,
            left: 0,
            sent: 0,
            last_len: 0,
            bulk,
            more_requests: if kind == FlowKind::Http && self.rng.chance(0.3) {
                1
            } else {
                0
            },
            ack_every: if self.rng.chance(0.4) { 1 } else { 2 },
            ack_due: false,
            dns_id: self.rng.next_u16(),
            qtype: if kind == FlowKind::Flood {
                QTYPE_A
            } else {
                qtype
            },
            nxdomain: if kind == FlowKind::Flood {
                self.rng.chance(0.25)
            } else {
                self.rng.chance(0.04)
            },
            cid: self.rng.bytes::<8>(),
        }
    }

    fn payload<'a>(noise: &'a [u8], scratch: &'a [u8], p: &Payload, len: usize) -> &'a [u8] {
        match *p {
            Payload::Empty => &[],
            Payload::Noise(off) => &noise[off..off + len],
            Payload::Scratch => scratch,
        }
    }

    /// A TCP segment of `f` in one direction; timestamps when the mix uses them.
    fn tcp(
        &mut self,
        f: &Flow,
        from_client: bool,
        flags: u8,
        payload: Payload,
        len: usize,
    ) -> io::Result<()> {
        let d = if from_client {
            f.up
        } else {
            f.up.reverse(f.down_ttl)
        };
        let (seq, ack) = if from_client {
            (f.cseq, f.sseq)
        } else {
            (f.sseq, f.cseq)
        };
        let now = self.now_ms();
        let (mine, theirs) = if from_client {
            (f.ts_client.wrapping_add(now), f.ts_server.wrapping_add(now))
        } else {
            (f.ts_server.wrapping_add(now), f.ts_client.wrapping_add(now))
        };
        let syn_opts;
        let opts: &[TcpOptionElement] = if self.kind == Kind::Small {
            if flags & SYN != 0 {
                syn_opts = [MaximumSegmentSize(1460), Noop, Noop, Noop, Noop, Noop];
                &syn_opts[..1]
            } else {
                &[]
            }
        } else if flags & SYN != 0 {
            let ecr = if flags & ACK != 0 { theirs } else { 0 };
            syn_opts = [
                MaximumSegmentSize(f.mss + 12),
                SelectiveAcknowledgementPermitted,
                Timestamp(mine, ecr),
                Noop,
                WindowScale(7),
                Noop,
            ];
            &syn_opts[..5]
        } else {
            syn_opts = [Noop, Noop, Timestamp(mine, theirs), Noop, Noop, Noop];
            &syn_opts[..3]
        };
        let window = match (from_client, flags & SYN != 0) {
            (true, true) => 64_240,
            (false, true) => 65_160,
            (true, false) => 2_048,
            (false, false) => 509,
        };
        let id = self.rng.next_u16();
        let data = Self::payload(&self.noise, &self.scratch, &payload, len);
        wire::tcp_fast(&mut self.buf, &d, id, seq, ack, flags, window, opts, data);
        self.emit()
    }

    fn udp(&mut self, f: &Flow, from_client: bool, payload: Payload, len: usize) -> io::Result<()> {
        let d = if from_client {
            f.up
        } else {
            f.up.reverse(f.down_ttl)
        };
        let id = self.rng.next_u16();
        let data = Self::payload(&self.noise, &self.scratch, &payload, len);
        wire::udp_fast(&mut self.buf, &d, id, data);
        self.emit()
    }

    fn noise(&mut self, len: usize) -> Payload {
        Payload::Noise(self.rng.below((NOISE_LEN - len) as u64) as usize)
    }

    /// Scratch = `head` followed by noise up to `len` bytes.
    fn fill_scratch_to(&mut self, len: usize) {
        let have = self.scratch.len();
        if have < len {
            let off = self.rng.below((NOISE_LEN - len) as u64) as usize;
            self.scratch
                .extend_from_slice(&self.noise[off..off + len - have]);
        }
    }

    fn start_burst(&mut self, f: &mut Flow, segments: u32) {
        f.left = segments;
        f.sent = 0;
        // Never shorter than the head (HTTP response header, TLS ServerHello) it may carry.
        f.last_len = self.rng.range(256, u64::from(f.mss)) as u16;
        // A TLS record header must not be the last thing in the burst.
        if (1..=5).contains(&(Self::burst_bytes(f, segments) % TLS_RECORD)) {
            f.last_len = if f.last_len + 6 <= f.mss {
                f.last_len + 6
            } else {
                f.last_len - 6
            };
        }
    }

    /// The next server segment of a burst, framed as `framing` says.
    fn burst_segment(&mut self, f: &mut Flow, framing: Framing) -> io::Result<()> {
        let len = if f.left == 1 {
            usize::from(f.last_len)
        } else {
            usize::from(f.mss)
        };
        let flags = if f.left == 1 { ACK | PSH } else { ACK };
        match framing {
            Framing::Head if f.sent == 0 => {
                self.fill_scratch_to(len);
                self.scratch.truncate(len);
                self.tcp(f, false, flags, Payload::Scratch, len)?;
            }
            Framing::TlsRecords => {
                // Application-data records of the largest size, the last one shorter: write
                // the parts of their 5-byte headers that fall into this segment.
                let off = f.sent as usize * usize::from(f.mss);
                let total = Self::burst_bytes(f, f.sent + f.left);
                self.scratch.clear();
                self.fill_scratch_to(len);
                let mut r = off.saturating_sub(4) / TLS_RECORD;
                while r * TLS_RECORD < off + len {
                    let start = r * TLS_RECORD;
                    let body = (total - start - 5).min(TLS_RECORD - 5) as u16;
                    let [hi, lo] = body.to_be_bytes();
                    for (i, b) in [23, 3, 3, hi, lo].into_iter().enumerate() {
                        if (off..off + len).contains(&(start + i)) {
                            self.scratch[start + i - off] = b;
                        }
                    }
                    r += 1;
                }
                self.tcp(f, false, flags, Payload::Scratch, len)?;
            }
            _ => {
                let p = self.noise(len);
                self.tcp(f, false, flags, p, len)?;
            }
        }
        f.sseq = f.sseq.wrapping_add(len as u32);
        f.left -= 1;
        f.sent += 1;
        f.ack_due = f.sent.is_multiple_of(u32::from(f.ack_every)) || f.left == 0;
        Ok(())
    }

    fn burst_bytes(f: &Flow, segments: u32) -> usize {
        (segments.saturating_sub(1) as usize) * usize::from(f.mss) + usize::from(f.last_len)
    }

    /// Sends the next packet of `f`. Returns true when the flow is over.
    fn step(&mut self, f: &mut Flow) -> io::Result<bool> {
        if f.ack_due {
            f.ack_due = false;
            self.tcp(f, true, ACK, Payload::Empty, 0)?;
            return Ok(false);
        }
        match f.phase {
            Phase::Syn => {
                self.tcp(f, true, SYN, Payload::Empty, 0)?;
                f.cseq = f.cseq.wrapping_add(1);
                f.phase = Phase::SynAck;
            }
            Phase::SynAck => {
                self.tcp(f, false, SYN | ACK, Payload::Empty, 0)?;
                f.sseq = f.sseq.wrapping_add(1);
                f.phase = Phase::Ack;
            }
            Phase::Ack => {
                self.tcp(f, true, ACK, Payload::Empty, 0)?;
                f.phase = Phase::Request;
            }
            Phase::Request => {
                self.write_name(f.name);
                self.scratch.clear();
                if f.kind == FlowKind::Tls {
                    wire::client_hello(
                        &mut self.scratch,
                        &mut self.rng,
                        &self.name,
                        &["h2", "http/1.1"],
                        true,
                    );
                } else if f.kind == FlowKind::Short {
                    self.scratch.extend_from_slice(b"GET / HTTP/1.1\r\nHost: ");
                    self.scratch.extend_from_slice(self.name.as_bytes());
                    self.scratch.extend_from_slice(b"\r\n\r\n");
                } else {
                    let path = self.rng.next_u32();
                    self.scratch.extend_from_slice(
                        format!(
                            "GET /assets/{path:08x}.js HTTP/1.1\r\nHost: {}\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64; \
                             rv:133.0) Gecko/20100101 Firefox/133.0\r\nAccept: */*\r\nAccept-Language: en-US,en;q=0.5\r\n\
                             Accept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n\r\n",
                            self.name
                        )
                        .as_bytes(),
                    );
                }
                let n = self.scratch.len();
                self.tcp(f, true, ACK | PSH, Payload::Scratch, n)?;
                f.cseq = f.cseq.wrapping_add(n as u32);
                f.phase = match f.kind {
                    FlowKind::Short => Phase::RequestAck,
                    FlowKind::Tls => {
                        let segments = 2 + self.rng.below(3) as u32;
                        self.start_burst(f, segments);
                        Phase::Flight
                    }
                    _ => {
                        let segments = f.bulk.max(1);
                        self.start_burst(f, segments);
                        Phase::Data
                    }
                };
            }
            Phase::RequestAck => {
                self.tcp(f, false, ACK, Payload::Empty, 0)?;
                f.phase = Phase::FinClient;
            }
            Phase::Flight => {
                if f.sent == 0 {
                    let total = Self::burst_bytes(f, f.left);
                    self.scratch.clear();
                    wire::server_flight_head(
                        &mut self.scratch,
                        &mut self.rng,
                        total.saturating_sub(138),
                    );
                }
                self.burst_segment(f, Framing::Head)?;
                if f.left == 0 {
                    f.phase = Phase::Finished;
                }
            }
            Phase::Finished => {
                self.scratch.clear();
                wire::client_finished(&mut self.scratch, &mut self.rng);
                let request = self.rng.range(40, 640) as usize;
                self.scratch.extend_from_slice(&[23, 3, 3]);
                self.scratch
                    .extend_from_slice(&(request as u16).to_be_bytes());
                self.fill_scratch_to(64 + request);
                let n = self.scratch.len();
                self.tcp(f, true, ACK | PSH, Payload::Scratch, n)?;
                f.cseq = f.cseq.wrapping_add(n as u32);
                if f.bulk == 0 {
                    f.phase = Phase::FinClient;
                } else {
                    let segments = f.bulk;
                    self.start_burst(f, segments);
                    f.phase = Phase::Data;
                }
            }
            Phase::Data => {
                let http_head = f.kind == FlowKind::Http && f.sent == 0;
                if http_head {
                    let head = |body: usize| {
                        format!(
                            "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: application/octet-stream\r\n\
                             Content-Length: {body:<10}\r\nConnection: keep-alive\r\n\r\n"
                        )
                    };
                    // The length field is padded, so the header's length does not depend on it.
                    let body = Self::burst_bytes(f, f.left) - head(0).len();
                    self.scratch.clear();
                    self.scratch.extend_from_slice(head(body).as_bytes());
                }
                let framing = match f.kind {
                    FlowKind::Tls => Framing::TlsRecords,
                    _ if http_head => Framing::Head,
                    _ => Framing::Noise,
                };
                self.burst_segment(f, framing)?;
                if f.left == 0 {
                    if f.more_requests > 0 {
                        f.more_requests -= 1;
                        f.bulk = 1 + self.rng.below(4) as u32;
                        f.phase = Phase::Request;
                    } else {
                        f.phase = Phase::FinClient;
                    }
                }
            }
            Phase::FinClient => {
                self.tcp(f, true, FIN | ACK, Payload::Empty, 0)?;
                f.cseq = f.cseq.wrapping_add(1);
                f.phase = Phase::FinServer;
            }
            Phase::FinServer => {
                self.tcp(f, false, FIN | ACK, Payload::Empty, 0)?;
                f.sseq = f.sseq.wrapping_add(1);
                f.phase = Phase::LastAck;
            }
            Phase::LastAck => {
                self.tcp(f, true, ACK, Payload::Empty, 0)?;
                return Ok(true);
            }
            Phase::Query => {
                self.write_name(f.name);
                wire::dns_query(&mut self.scratch, f.dns_id, &self.name, f.qtype);
                let n = self.scratch.len();
                self.udp(f, true, Payload::Scratch, n)?;
                if f.kind == FlowKind::Flood && !f.nxdomain {
                    return Ok(true);
                }
                f.phase = Phase::Response;
            }
            Phase::Response => {
                self.write_name(f.name);
                let mut v4 = [[0u8; 4]; 4];
                let mut v6 = [[0u8; 16]; 2];
                let mut answers: Vec<Rdata> = Vec::with_capacity(4);
                if !f.nxdomain {
                    match f.qtype {
                        QTYPE_A => {
                            for (k, a) in v4
                                .iter_mut()
                                .enumerate()
                                .take(1 + self.rng.below(4) as usize)
                            {
                                *a = self.addr_for(f.name, k as u64);
                            }
                            let n = 1 + self.rng.below(4) as usize;
                            answers.extend(v4[..n].iter().map(|a| Rdata::A(*a)));
                        }
                        QTYPE_AAAA => {
                            for a in v6.iter_mut() {
                                a[0] = 0x2a;
                                self.rng.fill(&mut a[1..]);
                            }
                            let n = 1 + self.rng.below(2) as usize;
                            answers.extend(v6[..n].iter().map(|a| Rdata::Aaaa(*a)));
                        }
                        _ => {}
                    }
                }
                let rcode = if f.nxdomain { RCODE_NXDOMAIN } else { 0 };
                let ttl = self.rng.range(30, 3600) as u32;
                wire::dns_response(
                    &mut self.scratch,
                    f.dns_id,
                    &self.name,
                    f.qtype,
                    rcode,
                    ttl,
                    &answers,
                );
                let n = self.scratch.len();
                self.udp(f, false, Payload::Scratch, n)?;
                return Ok(true);
            }
            Phase::QuicInitial => {
                self.scratch.clear();
                let cid = f.cid;
                wire::quic_long(&mut self.scratch, &mut self.rng, 0, &cid, &[], 1250);
                self.udp(f, true, Payload::Scratch, 1250)?;
                f.cid = self.rng.bytes::<8>(); // the server's connection ID from now on
                f.phase = Phase::QuicServer;
            }
            Phase::QuicServer => {
                self.scratch.clear();
                let cid = f.cid;
                let initial = self.rng.range(120, 180) as usize;
                wire::quic_long(&mut self.scratch, &mut self.rng, 0, &[], &cid, initial);
                let rest = self.rng.range(1000, 1200 - initial as u64) as usize;
                wire::quic_long(&mut self.scratch, &mut self.rng, 2, &[], &cid, rest);
                let n = self.scratch.len();
                self.udp(f, false, Payload::Scratch, n)?;
                f.phase = Phase::QuicClient;
            }
            Phase::QuicClient => {
                self.scratch.clear();
                let cid = f.cid;
                let handshake = self.rng.range(60, 120) as usize;
                wire::quic_long(&mut self.scratch, &mut self.rng, 2, &cid, &[], handshake);
                let len = self.rng.range(40, 70) as usize;
                wire::quic_short(&mut self.scratch, &mut self.rng, &cid, len);
                let n = self.scratch.len();
                self.udp(f, true, Payload::Scratch, n)?;
                f.left = 4 + self.rng.below(36) as u32;
                f.sent = 0;
                f.phase = Phase::QuicData;
            }
            Phase::QuicData => {
                self.scratch.clear();
                f.sent += 1;
                f.left -= 1;
                if f.sent.is_multiple_of(3) || f.left == 0 {
                    // The client acknowledges.
                    let cid = f.cid;
                    let len = self.rng.range(34, 60) as usize;
                    wire::quic_short(&mut self.scratch, &mut self.rng, &cid, len);
                    self.udp(f, true, Payload::Scratch, len)?;
                } else {
                    let len = self.rng.range(1100, 1350) as usize;
                    self.scratch.push(0x40 | (self.rng.next_u32() as u8 & 0x3F));
                    self.fill_scratch_to(len);
                    self.udp(f, false, Payload::Scratch, len)?;
                }
                if f.left == 0 {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }
}

/// Writes about `target` bytes of the `kind` mix to `path`; returns (packets, file bytes).
pub fn write(kind: Kind, target: u64, seed: u64, path: &Path) -> io::Result<(u64, u64)> {
    let mut rng = Rng::new(seed);
    let mut noise = vec![0u8; NOISE_LEN];
    rng.fill(&mut noise);
    let mut g = Gen {
        kind,
        seed,
        rng,
        w: PcapWriter::create(path)?,
        now_ns: 0,
        buf: Vec::with_capacity(2048),
        scratch: Vec::with_capacity(2048),
        name: String::with_capacity(256),
        noise,
        flood_parents: (0..64)
            .map(|i| {
                let mut name = String::new();
                names::pool_name(seed, i, &mut name);
                name
            })
            .collect(),
        flows_started: 0,
        sizes: [0; 5],
    };
    let pool = if kind == Kind::Realistic {
        2_048
    } else {
        8_192
    };
    let mut flows: Vec<Flow> = (0..pool).map(|_| g.new_flow()).collect();
    while g.w.file_bytes < target {
        let i = g.rng.below(pool) as usize;
        let mut burst = if flows[i].sends_bulk() {
            g.rng.range(1, 8)
        } else {
            1
        };
        loop {
            if g.step(&mut flows[i])? {
                flows[i] = g.new_flow();
                break;
            }
            burst -= 1;
            if burst == 0 || !flows[i].sends_bulk() || g.w.file_bytes >= target {
                break;
            }
        }
    }
    let total: u64 = g.sizes.iter().sum::<u64>().max(1);
    let pct = |n: u64| n as f64 * 100.0 / total as f64;
    eprintln!(
        "gen_captures: {} flows started; frames <=100 B {:.1} %, 101-400 {:.1} %, 401-700 {:.1} %, 701-1400 {:.1} %, >1400 {:.1} %",
        g.flows_started,
        pct(g.sizes[0]),
        pct(g.sizes[1]),
        pct(g.sizes[2]),
        pct(g.sizes[3]),
        pct(g.sizes[4])
    );
    let (packets, bytes) = (g.w.packets, g.w.file_bytes);
    g.w.finish()?;
    Ok((packets, bytes))
}
