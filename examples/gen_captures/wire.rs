//! Frames and application payloads: Ethernet II / IPv4 / TCP or UDP through
//! `etherparse::PacketBuilder` (lengths and checksums computed there), and the DNS, TLS and
//! QUIC bytes the scenarios put inside.

use etherparse::{IpHeaders, Ipv4Header, PacketBuilder, TcpHeader, TcpOptionElement};

use super::rng::Rng;

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;

/// One direction of a conversation: who sends, to whom, through which MACs.
#[derive(Clone, Copy)]
pub struct Dir {
    pub src_mac: [u8; 6],
    pub dst_mac: [u8; 6],
    pub src_ip: [u8; 4],
    pub dst_ip: [u8; 4],
    pub src_port: u16,
    pub dst_port: u16,
    pub ttl: u8,
}

impl Dir {
    /// The same conversation seen the other way.
    pub fn reverse(&self, ttl: u8) -> Dir {
        Dir {
            src_mac: self.dst_mac,
            dst_mac: self.src_mac,
            src_ip: self.dst_ip,
            dst_ip: self.src_ip,
            src_port: self.dst_port,
            dst_port: self.src_port,
            ttl,
        }
    }
}

fn ip_header(d: &Dir, ip_id: u16) -> IpHeaders {
    IpHeaders::Ipv4(
        Ipv4Header {
            source: d.src_ip,
            destination: d.dst_ip,
            time_to_live: d.ttl,
            identification: ip_id,
            dont_fragment: true,
            ..Default::default()
        },
        Default::default(),
    )
}

/// A TCP segment with the given `flags` (the ACK number is used only with [`ACK`]).
#[allow(clippy::too_many_arguments)]
pub fn tcp(
    buf: &mut Vec<u8>,
    d: &Dir,
    ip_id: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    options: &[TcpOptionElement],
    payload: &[u8],
) {
    let mut h = TcpHeader::new(d.src_port, d.dst_port, seq, window);
    h.fin = flags & FIN != 0;
    h.syn = flags & SYN != 0;
    h.psh = flags & PSH != 0;
    if flags & ACK != 0 {
        h.ack = true;
        h.acknowledgment_number = ack;
    }
    if !options.is_empty() {
        h.set_options(options).expect("TCP options fit in 40 bytes");
    }
    buf.clear();
    PacketBuilder::ethernet2(d.src_mac, d.dst_mac)
        .ip(ip_header(d, ip_id))
        .tcp_header(h)
        .write(buf, payload)
        .expect("a TCP segment below 64 KiB");
}

/// A UDP datagram.
pub fn udp(buf: &mut Vec<u8>, d: &Dir, ip_id: u16, payload: &[u8]) {
    buf.clear();
    PacketBuilder::ethernet2(d.src_mac, d.dst_mac)
        .ip(ip_header(d, ip_id))
        .udp(d.src_port, d.dst_port)
        .write(buf, payload)
        .expect("a UDP datagram below 64 KiB");
}

/// The same frame as [`tcp`], written by hand: the benchmark mixes write millions of small
/// frames a second and `PacketBuilder` moves its large header structs around on every one.
/// Debug builds check every frame against `PacketBuilder`'s.
#[allow(clippy::too_many_arguments)]
pub fn tcp_fast(
    buf: &mut Vec<u8>,
    d: &Dir,
    ip_id: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    options: &[TcpOptionElement],
    payload: &[u8],
) {
    let mut opts = [0u8; 40];
    let mut n = 0;
    for o in options {
        let bytes: &[u8] = match *o {
            TcpOptionElement::Noop => &[1],
            TcpOptionElement::MaximumSegmentSize(m) => &[2, 4, (m >> 8) as u8, m as u8],
            TcpOptionElement::WindowScale(s) => &[3, 3, s],
            TcpOptionElement::SelectiveAcknowledgementPermitted => &[4, 2],
            TcpOptionElement::Timestamp(a, b) => {
                let (a, b) = (a.to_be_bytes(), b.to_be_bytes());
                &[8, 10, a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3]]
            }
            TcpOptionElement::SelectiveAcknowledgement(..) => unimplemented!("SACK blocks"),
        };
        opts[n..n + bytes.len()].copy_from_slice(bytes);
        n += bytes.len();
    }
    let opt_len = n.div_ceil(4) * 4;
    let tcp_len = 20 + opt_len + payload.len();
    buf.clear();
    put_eth_ip(buf, d, ip_id, 6, tcp_len);
    let tcp_at = buf.len();
    buf.extend_from_slice(&d.src_port.to_be_bytes());
    buf.extend_from_slice(&d.dst_port.to_be_bytes());
    buf.extend_from_slice(&seq.to_be_bytes());
    buf.extend_from_slice(&(if flags & ACK != 0 { ack } else { 0 }).to_be_bytes());
    buf.push((((20 + opt_len) / 4) as u8) << 4);
    buf.push(flags);
    buf.extend_from_slice(&window.to_be_bytes());
    buf.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
    buf.extend_from_slice(&opts[..opt_len]);
    buf.extend_from_slice(payload);
    let sum = ones_sum(pseudo_sum(d, 6, tcp_len), &buf[tcp_at..]);
    buf[tcp_at + 16..tcp_at + 18].copy_from_slice(&(!fold(sum)).to_be_bytes());
    #[cfg(debug_assertions)]
    {
        let mut check = Vec::new();
        tcp(
            &mut check, d, ip_id, seq, ack, flags, window, options, payload,
        );
        assert_eq!(*buf, check, "tcp_fast differs from PacketBuilder");
    }
}

/// The same frame as [`udp`], written by hand (see [`tcp_fast`]).
pub fn udp_fast(buf: &mut Vec<u8>, d: &Dir, ip_id: u16, payload: &[u8]) {
    let udp_len = 8 + payload.len();
    buf.clear();
    put_eth_ip(buf, d, ip_id, 17, udp_len);
    let udp_at = buf.len();
    buf.extend_from_slice(&d.src_port.to_be_bytes());
    buf.extend_from_slice(&d.dst_port.to_be_bytes());
    buf.extend_from_slice(&(udp_len as u16).to_be_bytes());
    buf.extend_from_slice(&[0, 0]);
    buf.extend_from_slice(payload);
    let sum = !fold(ones_sum(pseudo_sum(d, 17, udp_len), &buf[udp_at..]));
    let sum = if sum == 0 { 0xFFFF } else { sum };
    buf[udp_at + 6..udp_at + 8].copy_from_slice(&sum.to_be_bytes());
    #[cfg(debug_assertions)]
    {
        let mut check = Vec::new();
        udp(&mut check, d, ip_id, payload);
        assert_eq!(*buf, check, "udp_fast differs from PacketBuilder");
    }
}

/// Ethernet II and an IPv4 header (DF set, no options) for `l4_len` bytes of `proto`.
fn put_eth_ip(buf: &mut Vec<u8>, d: &Dir, ip_id: u16, proto: u8, l4_len: usize) {
    buf.reserve(34 + l4_len);
    buf.extend_from_slice(&d.dst_mac);
    buf.extend_from_slice(&d.src_mac);
    buf.extend_from_slice(&[0x08, 0x00]);
    let ip_at = buf.len();
    buf.extend_from_slice(&[0x45, 0]);
    buf.extend_from_slice(&((20 + l4_len) as u16).to_be_bytes());
    buf.extend_from_slice(&ip_id.to_be_bytes());
    buf.extend_from_slice(&[0x40, 0, d.ttl, proto, 0, 0]);
    buf.extend_from_slice(&d.src_ip);
    buf.extend_from_slice(&d.dst_ip);
    let sum = !fold(ones_sum(0, &buf[ip_at..ip_at + 20]));
    buf[ip_at + 10..ip_at + 12].copy_from_slice(&sum.to_be_bytes());
}

fn pseudo_sum(d: &Dir, proto: u8, len: usize) -> u64 {
    let w = |b: [u8; 4]| u64::from(u32::from_be_bytes(b));
    w(d.src_ip) + w(d.dst_ip) + u64::from(proto) + len as u64
}

/// RFC 1071 sum over big-endian 32-bit words (an odd tail padded with zeros), not yet folded.
fn ones_sum(mut sum: u64, data: &[u8]) -> u64 {
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        sum += u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
    }
    let mut tail = [0u8; 4];
    let rest = words.remainder();
    tail[..rest.len()].copy_from_slice(rest);
    sum + u64::from(u32::from_be_bytes(tail))
}

fn fold(mut sum: u64) -> u16 {
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    sum as u16
}

// ---------------------------------------------------------------------------------------- DNS

pub const QTYPE_A: u16 = 1;
pub const QTYPE_CNAME: u16 = 5;
pub const QTYPE_AAAA: u16 = 28;
pub const QTYPE_HTTPS: u16 = 65;
pub const RCODE_NXDOMAIN: u16 = 3;

/// One resource record of an answer section.
pub enum Rdata<'a> {
    A([u8; 4]),
    Aaaa([u8; 16]),
    Cname(&'a str),
}

fn put_name(out: &mut Vec<u8>, name: &str) {
    let name = name.strip_suffix('.').unwrap_or(name).as_bytes();
    // Copy the dotted name one byte on, then turn each dot into the length of the label after it.
    let start = out.len();
    out.push(0);
    out.extend_from_slice(name);
    let mut len_at = start;
    for i in start + 1..out.len() {
        if out[i] == b'.' {
            out[len_at] = (i - len_at - 1) as u8;
            len_at = i;
        }
    }
    out[len_at] = (out.len() - len_at - 1) as u8;
    out.push(0);
}

fn put_header(out: &mut Vec<u8>, id: u16, flags: u16, ancount: u16) {
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&flags.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&ancount.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
}

/// A recursive query for `name`.
pub fn dns_query(out: &mut Vec<u8>, id: u16, name: &str, qtype: u16) {
    out.clear();
    put_header(out, id, 0x0100, 0);
    put_name(out, name);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
}

/// The resolver's answer: the question echoed, then `answers` in order. The first record's
/// owner is the question name; a CNAME makes its target the owner of the records after it
/// (both written as compression pointers, as resolvers do).
pub fn dns_response(
    out: &mut Vec<u8>,
    id: u16,
    name: &str,
    qtype: u16,
    rcode: u16,
    ttl: u32,
    answers: &[Rdata],
) {
    out.clear();
    put_header(out, id, 0x8180 | rcode, answers.len() as u16);
    put_name(out, name);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    let mut owner: u16 = 12;
    for rr in answers {
        out.extend_from_slice(&(0xC000 | owner).to_be_bytes());
        let rtype = match rr {
            Rdata::A(_) => QTYPE_A,
            Rdata::Aaaa(_) => QTYPE_AAAA,
            Rdata::Cname(_) => QTYPE_CNAME,
        };
        out.extend_from_slice(&rtype.to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes());
        out.extend_from_slice(&ttl.to_be_bytes());
        match rr {
            Rdata::A(a) => {
                out.extend_from_slice(&4u16.to_be_bytes());
                out.extend_from_slice(a);
            }
            Rdata::Aaaa(a) => {
                out.extend_from_slice(&16u16.to_be_bytes());
                out.extend_from_slice(a);
            }
            Rdata::Cname(target) => {
                let len_at = out.len();
                out.extend_from_slice(&[0, 0]);
                owner = out.len() as u16;
                put_name(out, target);
                let len = (out.len() - len_at - 2) as u16;
                out[len_at..len_at + 2].copy_from_slice(&len.to_be_bytes());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------- TLS

const TLS_HANDSHAKE: u8 = 22;
const TLS_CCS: u8 = 20;
const TLS_APPDATA: u8 = 23;

fn put_u16(out: &mut Vec<u8>, v: usize) {
    out.extend_from_slice(&(v as u16).to_be_bytes());
}

fn put_u24(out: &mut Vec<u8>, v: usize) {
    out.extend_from_slice(&(v as u32).to_be_bytes()[1..]);
}

fn put_ext(out: &mut Vec<u8>, kind: u16, body: &[u8]) {
    out.extend_from_slice(&kind.to_be_bytes());
    put_u16(out, body.len());
    out.extend_from_slice(body);
}

/// Appends one TLS record of `kind` holding `body`.
fn put_record(out: &mut Vec<u8>, kind: u8, legacy_version: u16, body: &[u8]) {
    out.push(kind);
    out.extend_from_slice(&legacy_version.to_be_bytes());
    put_u16(out, body.len());
    out.extend_from_slice(body);
}

/// A TLS 1.3 ClientHello as a browser sends it, in one record: SNI `sni`, ALPN `alpn`, an
/// X25519 key share, and (with `pad`) the padding extension that brings the handshake
/// message to 512 bytes, as Chrome does. Appended to `out`.
pub fn client_hello(out: &mut Vec<u8>, rng: &mut Rng, sni: &str, alpn: &[&str], pad: bool) {
    let mut ext = Vec::with_capacity(512);
    // server_name
    let mut sn = Vec::new();
    put_u16(&mut sn, sni.len() + 3);
    sn.push(0);
    put_u16(&mut sn, sni.len());
    sn.extend_from_slice(sni.as_bytes());
    put_ext(&mut ext, 0x0000, &sn);
    put_ext(&mut ext, 0x0017, &[]); // extended_master_secret
    put_ext(&mut ext, 0xff01, &[0]); // renegotiation_info
    put_ext(
        &mut ext,
        0x000a,
        &[0, 8, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18, 0x00, 0x19],
    ); // groups
    put_ext(&mut ext, 0x000b, &[1, 0]); // ec_point_formats: uncompressed
    put_ext(&mut ext, 0x0023, &[]); // session_ticket
    if !alpn.is_empty() {
        let mut list = Vec::new();
        for p in alpn {
            list.push(p.len() as u8);
            list.extend_from_slice(p.as_bytes());
        }
        let mut body = Vec::new();
        put_u16(&mut body, list.len());
        body.extend_from_slice(&list);
        put_ext(&mut ext, 0x0010, &body);
    }
    put_ext(&mut ext, 0x0005, &[1, 0, 0, 0, 0]); // status_request (OCSP)
    put_ext(
        &mut ext,
        0x000d,
        &[
            0, 16, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01, 0x05, 0x03, 0x08, 0x05, 0x05, 0x01, 0x08,
            0x06, 0x06, 0x01,
        ],
    ); // signature_algorithms
    put_ext(&mut ext, 0x0012, &[]); // signed_certificate_timestamp
    let mut ks = vec![0, 36, 0x00, 0x1d, 0, 32];
    ks.extend_from_slice(&rng.bytes::<32>());
    put_ext(&mut ext, 0x0033, &ks); // key_share: x25519
    put_ext(&mut ext, 0x002d, &[1, 1]); // psk_key_exchange_modes: psk_dhe_ke
    put_ext(&mut ext, 0x002b, &[4, 0x03, 0x04, 0x03, 0x03]); // supported_versions: 1.3, 1.2
    put_ext(&mut ext, 0x001b, &[2, 0x00, 0x02]); // compress_certificate: brotli

    let ciphers: [u16; 15] = [
        0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014,
        0x009c, 0x009d, 0x002f, 0x0035,
    ];
    let mut hello = Vec::with_capacity(600);
    hello.extend_from_slice(&0x0303u16.to_be_bytes());
    hello.extend_from_slice(&rng.bytes::<32>());
    hello.push(32);
    hello.extend_from_slice(&rng.bytes::<32>());
    put_u16(&mut hello, ciphers.len() * 2);
    for c in ciphers {
        hello.extend_from_slice(&c.to_be_bytes());
    }
    hello.extend_from_slice(&[1, 0]); // compression: null
                                      // 4 (handshake header) + hello + 2 (extensions length) + ext: pad the message to 512.
    let unpadded = 4 + hello.len() + 2 + ext.len();
    if pad && unpadded + 4 < 512 {
        put_ext(&mut ext, 0x0015, &vec![0; 512 - unpadded - 4]);
    }
    put_u16(&mut hello, ext.len());
    hello.extend_from_slice(&ext);

    let mut hs = Vec::with_capacity(hello.len() + 4);
    hs.push(1);
    put_u24(&mut hs, hello.len());
    hs.extend_from_slice(&hello);
    put_record(out, TLS_HANDSHAKE, 0x0301, &hs);
}

/// The server's first flight as seen on the wire in TLS 1.3: a ServerHello record, the
/// compatibility ChangeCipherSpec, then `encrypted` bytes of application-data records (the
/// encrypted extensions, certificate chain and Finished). Appended to `out`.
pub fn server_flight(out: &mut Vec<u8>, rng: &mut Rng, encrypted: usize) {
    let mut sh = Vec::with_capacity(128);
    sh.extend_from_slice(&0x0303u16.to_be_bytes());
    sh.extend_from_slice(&rng.bytes::<32>());
    sh.push(32);
    sh.extend_from_slice(&rng.bytes::<32>());
    sh.extend_from_slice(&0x1301u16.to_be_bytes());
    sh.push(0);
    let mut ext = Vec::new();
    put_ext(&mut ext, 0x002b, &[0x03, 0x04]);
    let mut ks = vec![0x00, 0x1d, 0, 32];
    ks.extend_from_slice(&rng.bytes::<32>());
    put_ext(&mut ext, 0x0033, &ks);
    put_u16(&mut sh, ext.len());
    sh.extend_from_slice(&ext);
    let mut hs = vec![2];
    put_u24(&mut hs, sh.len());
    hs.extend_from_slice(&sh);
    put_record(out, TLS_HANDSHAKE, 0x0303, &hs);
    put_record(out, TLS_CCS, 0x0303, &[1]);
    app_data(out, rng, encrypted);
}

/// The client's ChangeCipherSpec and encrypted Finished. Appended to `out`.
pub fn client_finished(out: &mut Vec<u8>, rng: &mut Rng) {
    put_record(out, TLS_CCS, 0x0303, &[1]);
    app_data(out, rng, 53);
}

/// `len` bytes of encrypted application data, in records of at most 16 KiB + overhead.
pub fn app_data(out: &mut Vec<u8>, rng: &mut Rng, mut len: usize) {
    while len > 0 {
        let n = len.min(16_401);
        let start = out.len();
        out.extend_from_slice(&[TLS_APPDATA, 0x03, 0x03]);
        put_u16(out, n);
        out.resize(start + 5 + n, 0);
        rng.fill(&mut out[start + 5..]);
        len -= n;
    }
}

// --------------------------------------------------------------------------------------- QUIC

/// A QUIC version 1 long-header packet of `total` bytes: the first byte (`0xc0 | type << 4`
/// with random reserved and packet-number-length bits, as header protection leaves them),
/// version, connection IDs, an empty token for Initial packets, the length, and random bytes
/// standing in for the protected packet number and payload. Appended to `out`.
pub fn quic_long(
    out: &mut Vec<u8>,
    rng: &mut Rng,
    packet_type: u8,
    dcid: &[u8],
    scid: &[u8],
    total: usize,
) {
    let start = out.len();
    out.push(0xC0 | (packet_type << 4) | (rng.next_u32() as u8 & 0x0F));
    out.extend_from_slice(&1u32.to_be_bytes());
    out.push(dcid.len() as u8);
    out.extend_from_slice(dcid);
    out.push(scid.len() as u8);
    out.extend_from_slice(scid);
    if packet_type == 0 {
        out.push(0); // token length
    }
    let rest = total.saturating_sub(out.len() - start + 2).max(20);
    out.extend_from_slice(&(0x4000 | rest as u16).to_be_bytes());
    let body = out.len();
    out.resize(body + rest, 0);
    rng.fill(&mut out[body..]);
}

/// A QUIC short-header (1-RTT) packet of `total` bytes to connection ID `dcid`.
pub fn quic_short(out: &mut Vec<u8>, rng: &mut Rng, dcid: &[u8], total: usize) {
    let start = out.len();
    out.push(0x40 | (rng.next_u32() as u8 & 0x3F));
    out.extend_from_slice(dcid);
    let body = out.len();
    out.resize(start + total.max(dcid.len() + 21), 0);
    rng.fill(&mut out[body..]);
}

/// The start of a TLS 1.3 server flight whose remaining `encrypted` bytes follow in later
/// segments: ServerHello, ChangeCipherSpec, and the 5-byte header of the application-data
/// record that holds them. Appended to `out`.
pub fn server_flight_head(out: &mut Vec<u8>, rng: &mut Rng, encrypted: usize) {
    server_flight(out, rng, 0);
    out.push(TLS_APPDATA);
    out.extend_from_slice(&0x0303u16.to_be_bytes());
    put_u16(out, encrypted.min(16_401));
}
