//! Input layouts of the structured fuzz targets, shared with the seeding program (`seed.rs`):
//! each `carve_*` reads a layout from fuzz bytes (never failing: a short tail ends it), each
//! `encode_*` writes real data in that layout, so seeds taken from captures mean the same
//! thing to the fuzzer as they did on the wire.
//!
//! Layouts (all integers big-endian):
//! - `decode`:       `pick:1 frame..` — `LINKTYPES[pick % LINKTYPES.len()]`;
//! - `quic_initial`: `(len:2 datagram[len])*` — the client's datagrams of one flow, in order;
//! - `quic_frames`:  `pick:1 dcid_len:1 dcid[..] (len:2 plaintext[len])*` — Initial payloads
//!   (frames) that the harness seals with the real Initial keys, one packet per datagram;
//! - `defrag`:       `(ctl:1 offset:2 len:2 payload[len])*` — ctl bit 0 = more fragments,
//!   bits 1-2 = datagram id, bit 3 = IPv6, bits 4-7 = seconds elapsed / 4 before this fragment;
//!   offset is in 8-byte units (13 bits used), as on the wire;
//! - `tcp_stream`:   `mode:1 (ctl:1 seq:4 len:2 payload[len])*` — mode bit 0 = DNS port;
//!   ctl bit 0 = SYN;
//! - `inspector`:    `(ctl:1 len:2 frame[len])*` — a worker's packet sequence: ctl bits 0-3
//!   pick the link type (`LINKTYPES[.. % 11]`), bits 4-7 the packet time's step from the
//!   previous packet (`TIME_STEPS_US`: forward, far forward past every idle timeout, and back);
//! - `feed`:         `pick:1 file..` — `FEED_PATHS[pick % FEED_PATHS.len()]` is the file name
//!   (it decides Suricata datasets).

use aes::cipher::{BlockEncrypt, KeyInit};
use aes_gcm::aead::AeadInPlace;
use hkdf::Hkdf;
use ioc_sensor::decode::link::linktype::*;
use sha2::Sha256;

/// Every link type `decode::link::network_layer` knows, for the `decode` target.
pub const LINKTYPES: [i32; 11] = [
    NULL, ETHERNET, RAW_12, RAW_14, RAW, LOOP, LINUX_SLL, NFLOG, IPV4, IPV6, LINUX_SLL2,
];

/// File names the `feed` target loads its bytes under.
pub const FEED_PATHS: [&str; 4] = ["feed.txt", "feed.dataset", "feed.csv", "feed.json"];

/// QUIC versions the `quic_frames` target seals packets for.
pub const QUIC_VERSIONS: [u32; 4] = [0x0000_0001, 0x6b33_43cf, 0xff00_001d, 0xff00_001b];

/// Steps of packet time between two packets of the `inspector` target, in microseconds.
pub const TIME_STEPS_US: [i64; 16] = [
    0,
    1,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    5_000_000,
    11_000_000,
    61_000_000,
    301_000_000,
    601_000_000,
    -1,
    -1_000_000,
    -700_000_000,
    i64::MAX / 4,
];

/// One packet of the `inspector` target.
pub struct FrameRecord<'a> {
    /// Index into [`LINKTYPES`].
    pub link: u8,
    /// Index into [`TIME_STEPS_US`].
    pub step: u8,
    /// The frame.
    pub frame: &'a [u8],
}

/// The `inspector` layout: packets in order.
pub fn carve_frames(data: &[u8]) -> impl Iterator<Item = FrameRecord<'_>> {
    let mut c = Carver(data);
    std::iter::from_fn(move || {
        let ctl = c.u8()?;
        let frame = c.chunk()?;
        Some(FrameRecord {
            link: (ctl & 0x0f) % LINKTYPES.len() as u8,
            step: ctl >> 4,
            frame,
        })
    })
}

/// Append one packet in the `inspector` layout.
pub fn encode_frame(out: &mut Vec<u8>, f: &FrameRecord<'_>) {
    out.push((f.link & 0x0f) | (f.step << 4));
    encode_chunk(out, f.frame);
}

/// A cursor over fuzz bytes.
pub struct Carver<'a>(pub &'a [u8]);

impl<'a> Carver<'a> {
    /// `n` bytes, or None at the end (what is left is dropped).
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            self.0 = &[];
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    /// One byte.
    pub fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    /// A big-endian u16.
    pub fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
    /// A big-endian u32.
    pub fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// A u16 length, then up to that many bytes (a short tail is taken whole).
    pub fn chunk(&mut self) -> Option<&'a [u8]> {
        let len = usize::from(self.u16()?);
        let n = len.min(self.0.len());
        self.take(n)
    }
}

/// `(len:2 bytes[len])*`: the chunks, the last one possibly short.
pub fn chunks(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut c = Carver(data);
    std::iter::from_fn(move || c.chunk())
}

/// Append one `len:2 bytes[len]` chunk (bytes beyond 65535 are cut).
pub fn encode_chunk(out: &mut Vec<u8>, bytes: &[u8]) {
    let bytes = &bytes[..bytes.len().min(0xffff)];
    out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// One fragment of the `defrag` layout.
#[derive(Debug, Clone, Copy)]
pub struct FragRecord<'a> {
    /// More fragments follow.
    pub more: bool,
    /// Datagram id (0..4).
    pub id: u32,
    /// IPv6 addresses rather than IPv4.
    pub v6: bool,
    /// Microseconds elapsed since the previous fragment.
    pub advance_us: i64,
    /// Byte offset (a multiple of 8).
    pub offset: u16,
    /// Payload.
    pub payload: &'a [u8],
}

/// The fragments of a `defrag` input.
pub fn carve_fragments(data: &[u8]) -> impl Iterator<Item = FragRecord<'_>> {
    let mut c = Carver(data);
    std::iter::from_fn(move || {
        let ctl = c.u8()?;
        let offset = (c.u16()? & 0x1fff) * 8;
        let payload = c.chunk()?;
        Some(FragRecord {
            more: ctl & 1 != 0,
            id: u32::from((ctl >> 1) & 3),
            v6: ctl & 8 != 0,
            advance_us: i64::from(ctl >> 4) * 4_000_000,
            offset,
            payload,
        })
    })
}

/// Append one fragment in the `defrag` layout.
pub fn encode_fragment(out: &mut Vec<u8>, f: &FragRecord<'_>) {
    let secs = (f.advance_us / 4_000_000).clamp(0, 15) as u8;
    out.push(u8::from(f.more) | ((f.id as u8 & 3) << 1) | (u8::from(f.v6) << 3) | (secs << 4));
    out.extend_from_slice(&(f.offset / 8).to_be_bytes());
    encode_chunk(out, f.payload);
}

/// One segment of the `tcp_stream` layout.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    /// SYN flag.
    pub syn: bool,
    /// Sequence number.
    pub seq: u32,
    /// Payload.
    pub payload: &'a [u8],
}

/// The DNS-port flag and the segments of a `tcp_stream` input.
pub fn carve_segments(data: &[u8]) -> (bool, impl Iterator<Item = Segment<'_>>) {
    let mut c = Carver(data);
    let dns_port = c.u8().is_some_and(|m| m & 1 != 0);
    let segs = std::iter::from_fn(move || {
        let ctl = c.u8()?;
        let seq = c.u32()?;
        let payload = c.chunk()?;
        Some(Segment {
            syn: ctl & 1 != 0,
            seq,
            payload,
        })
    });
    (dns_port, segs)
}

/// Append one segment in the `tcp_stream` layout (after the mode byte).
pub fn encode_segment(out: &mut Vec<u8>, s: &Segment<'_>) {
    out.push(u8::from(s.syn));
    out.extend_from_slice(&s.seq.to_be_bytes());
    encode_chunk(out, s.payload);
}

/// A `quic_frames` input: version pick, DCID and the plaintext payloads.
pub struct QuicFrames<'a> {
    /// QUIC version (one of [`QUIC_VERSIONS`]).
    pub version: u32,
    /// Packet-number length, 1 to 4.
    pub pn_len: usize,
    /// Destination connection ID (at most 20 bytes).
    pub dcid: &'a [u8],
    /// Remaining bytes: `(len:2 plaintext[len])*`.
    pub rest: &'a [u8],
}

/// Read the head of a `quic_frames` input.
pub fn carve_quic_frames(data: &[u8]) -> Option<QuicFrames<'_>> {
    let mut c = Carver(data);
    let pick = c.u8()?;
    let dcid_len = usize::from(c.u8()? % 21);
    let dcid = c.take(dcid_len)?;
    Some(QuicFrames {
        version: QUIC_VERSIONS[usize::from(pick & 3)],
        pn_len: usize::from((pick >> 2) & 3) + 1,
        dcid,
        rest: c.0,
    })
}

/// A client Initial packet of `version` for `dcid` with packet number `pn` around the frames
/// in `plain`, protected as RFC 9001 5 says (RFC 9369 for version 2): what a client sends.
/// Short payloads are padded with PADDING frames so that the header-protection sample exists.
pub fn seal_initial(version: u32, dcid: &[u8], pn: u32, pn_len: usize, plain: &[u8]) -> Vec<u8> {
    let v2 = version == 0x6b33_43cf;
    let salt: [u8; 20] = match version {
        0x0000_0001 => hex20("38762cf7f55934b34d179ae6a4c80cadccbb7f0a"),
        0x6b33_43cf => hex20("0dede3def700a6db819381be6e269dcbf9bd2ed9"),
        0xff00_001b | 0xff00_001c => hex20("c3eef712c72ebb5a11a7d2432bb46365bef9f502"),
        _ => hex20("afbfec289993d24c9e9786f19c6111e04390a899"),
    };
    let (kl, il, hl): (&[u8], &[u8], &[u8]) = if v2 {
        (b"quicv2 key", b"quicv2 iv", b"quicv2 hp")
    } else {
        (b"quic key", b"quic iv", b"quic hp")
    };
    let (_, initial) = Hkdf::<Sha256>::extract(Some(&salt), dcid);
    let mut secret = [0u8; 32];
    expand_label(&initial, b"client in", &mut secret);
    let client = Hkdf::<Sha256>::from_prk(&secret).expect("32-byte PRK");
    let (mut key, mut iv, mut hp) = ([0u8; 16], [0u8; 12], [0u8; 16]);
    expand_label(&client, kl, &mut key);
    expand_label(&client, il, &mut iv);
    expand_label(&client, hl, &mut hp);

    let mut payload = plain[..plain.len().min(16_000)].to_vec();
    payload.resize(payload.len().max(4), 0); // sample = 16 bytes from pn_offset + 4
    let type_bits: u8 = if v2 { 1 } else { 0 };
    let mut pkt = vec![0xc0 | (type_bits << 4) | (pn_len as u8 - 1)];
    pkt.extend_from_slice(&version.to_be_bytes());
    pkt.push(dcid.len() as u8);
    pkt.extend_from_slice(dcid);
    pkt.push(0); // SCID length
    pkt.push(0); // token length
    let length = (pn_len + payload.len() + 16) as u16;
    pkt.extend_from_slice(&(0x4000 | length).to_be_bytes());
    let pn_offset = pkt.len();
    pkt.extend_from_slice(&pn.to_be_bytes()[4 - pn_len..]);
    let header_len = pkt.len();
    let mut nonce = iv;
    for (n, p) in nonce[4..].iter_mut().zip(u64::from(pn).to_be_bytes()) {
        *n ^= p;
    }
    let aead = aes_gcm::Aes128Gcm::new(&key.into());
    let tag = aead
        .encrypt_in_place_detached(aes_gcm::Nonce::from_slice(&nonce), &pkt, &mut payload)
        .expect("payload within AES-GCM limits");
    pkt.extend_from_slice(&payload);
    pkt.extend_from_slice(&tag);
    let mut mask = aes::Block::clone_from_slice(&pkt[pn_offset + 4..pn_offset + 20]);
    aes::Aes128::new(&hp.into()).encrypt_block(&mut mask);
    pkt[0] ^= mask[0] & 0x0f;
    for (b, m) in pkt[pn_offset..header_len].iter_mut().zip(&mask[1..]) {
        *b ^= m;
    }
    pkt
}

fn expand_label(prk: &Hkdf<Sha256>, label: &[u8], out: &mut [u8]) {
    let len = (out.len() as u16).to_be_bytes();
    let label_len = [(6 + label.len()) as u8];
    prk.expand_multi_info(&[&len, &label_len, b"tls13 ", label, &[0]], out)
        .expect("short output");
}

fn hex20(s: &str) -> [u8; 20] {
    let mut out = [0; 20];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex");
    }
    out
}

/// A CRYPTO frame (type 0x06) carrying `data` at `offset`.
pub fn crypto_frame(out: &mut Vec<u8>, offset: u32, data: &[u8]) {
    out.push(0x06);
    out.extend_from_slice(&(0x8000_0000 | offset).to_be_bytes()); // 4-byte varint
    out.extend_from_slice(&(0x8000_0000 | data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
}

/// A reader that hands out its bytes `step` at a time (standard input in small pieces).
pub struct Trickle {
    data: Vec<u8>,
    at: usize,
    step: usize,
}

impl Trickle {
    /// A reader of `data`, at most `step` bytes per read.
    pub fn new(data: &[u8], step: usize) -> Self {
        Trickle {
            data: data.to_vec(),
            at: 0,
            step: step.max(1),
        }
    }
}

impl std::io::Read for Trickle {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.step.min(out.len()).min(self.data.len() - self.at);
        out[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// A short, stable file name for a seed: a hash of its bytes.
pub fn seed_name(bytes: &[u8]) -> String {
    // FNV-1a, 64 bits: stable across runs and Rust versions.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ioc_sensor::proto::quic::{QuicClientHello, QuicProgress};

    /// The sealing above is what the sensor opens: a ClientHello in two CRYPTO frames, in two
    /// Initials out of order, is read back for every version.
    #[test]
    fn sealed_initials_open() {
        let hello = [
            &[1u8, 0, 0, 0x3f][..],
            &[3, 3],
            &[0; 32],
            &[0, 0, 2, 0x13, 0x01, 1, 0],
            &[0, 0x14, 0, 0, 0, 0x10, 0, 0x0e, 0, 0, 0x0b],
            b"example.com",
        ]
        .concat();
        for v in QUIC_VERSIONS {
            for pn_len in 1..=4 {
                let mut q = QuicClientHello::default();
                let (mut a, mut b) = (Vec::new(), Vec::new());
                crypto_frame(&mut a, 0, &hello[..10]);
                crypto_frame(&mut b, 10, &hello[10..]);
                let dcid = [7u8; 8];
                let p1 = seal_initial(v, &dcid, 1, pn_len, &b);
                let p0 = seal_initial(v, &dcid, 0, pn_len, &a);
                assert_eq!(q.datagram(&p1), QuicProgress::NeedMore, "{v:x} {pn_len}");
                match q.datagram(&p0) {
                    QuicProgress::Done { hello, .. } => {
                        assert_eq!(hello.sni, Some(&b"example.com"[..]))
                    }
                    other => panic!("{v:x} {pn_len}: {other:?}"),
                }
            }
        }
    }
}
