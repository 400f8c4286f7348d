//! QUIC client Initial packets: the TLS ClientHello they carry (SNI, ECH).
//!
//! A QUIC client opens a connection with Initial packets (RFC 9000 17.2.2) whose CRYPTO frames
//! carry the TLS ClientHello. Initial packets are encrypted, but with keys that anyone can
//! derive from the Destination Connection ID in the packet (RFC 9001 5.2), so a passive
//! observer can read them:
//!
//! ```text
//! long header  1 fixed:1 type:2 reserved:2 pn_len-1:2  version:32
//!              dcid_len:8 dcid[0..20] scid_len:8 scid[0..20]
//!              token_len:varint token[token_len]                      (Initial only)
//!              length:varint packet_number[1..4] payload[length - pn_len] (16-byte AEAD tag last)
//! keys         initial   = HKDF-Extract(salt(version), dcid)          (SHA-256)
//!              client    = HKDF-Expand-Label(initial, "client in", "", 32)
//!              key/iv/hp = HKDF-Expand-Label(client, "quic key"/"quic iv"/"quic hp", "", 16/12/16)
//! header       mask = AES-128-ECB(hp, 16-byte sample at pn_offset + 4)
//!              byte0 ^= mask[0] & 0x0f; packet_number ^= mask[1..=pn_len]
//! payload      AES-128-GCM(key, nonce = iv ^ packet number, aad = unprotected header)
//! frames       PADDING 0x00 | PING 0x01 | ACK 0x02/0x03 | CRYPTO 0x06 offset:varint len:varint data
//! ```
//!
//! Versions read: 1 (RFC 9001), 2 (RFC 9369: its own salt, Initial type bits `0b01`, labels
//! "quicv2 key"/"quicv2 iv"/"quicv2 hp") and the IETF drafts 27 to 32 (0xff00001b..0xff000020;
//! drafts 27-28 use the draft-23 salt, 29-32 the draft-29 salt, as Wireshark does). Other
//! versions, Google QUIC among them, are not QUIC here.
//!
//! A datagram may hold several coalesced packets (RFC 9000 12.2): 0-RTT and Handshake packets
//! are skipped by their length field, a short-header packet or unknown bytes end the datagram.
//! In each Initial the frames are read up to the first frame that is none of the four above
//! (what was gathered before it is kept). CRYPTO data from any number of packets and
//! datagrams, in any order, is gathered by offset; once the bytes from offset 0 hold a whole
//! handshake message of type ClientHello, its body is read by [`tls::client_hello_body`].
//!
//! Keys follow the connection IDs: the first Initial fixes a key set; an Initial with another
//! DCID that opens under keys derived from that DCID starts a new key set (the client's answer
//! to a Retry, or a new connection on the same ports) with an empty CRYPTO stream, and may be
//! reported again; one that does not is tried with the current keys (the client moved to the
//! server's connection ID after the server's first Initial, keys unchanged, RFC 9001 5.2).
//!
//! Limits and invariants:
//! - CRYPTO data is gathered up to [`MAX_CRYPTO_BYTES`]; a frame reaching past that, or one
//!   that would leave more than [`MAX_CRYPTO_RANGES`] separate pieces, is dropped and counted
//!   ([`QuicClientHello::dropped_crypto_frames`]); absurd offsets never allocate;
//! - where CRYPTO frames overlap, the bytes that arrived first are kept (as QUIC stacks do);
//! - at most [`MAX_PACKETS_PER_DATAGRAM`] packets are looked at per datagram, which bounds the
//!   key derivations and trial decryptions one datagram can cause;
//! - the fixed bit is not required inside [`QuicClientHello::datagram`] (the AEAD tag decides);
//!   [`looks_like_client_initial`] requires it;
//! - allocation: the CRYPTO buffer (grown up to the bound) and one decryption buffer (grown to
//!   the largest packet), both per flow and reused; nothing else per call;
//! - nothing here panics on any input.

use std::ops::Range;

use aes::cipher::{BlockEncrypt, KeyInit};
use aes::Aes128;
use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes128Gcm, Nonce, Tag};
use hkdf::Hkdf;
use sha2::Sha256;

use crate::proto::tls::{self, ClientHello};

/// QUIC version 1 (RFC 9000).
pub const VERSION_1: u32 = 0x0000_0001;
/// QUIC version 2 (RFC 9369).
pub const VERSION_2: u32 = 0x6b33_43cf;
/// draft-ietf-quic-transport-29, the draft most widely deployed before version 1.
pub const VERSION_DRAFT_29: u32 = 0xff00_001d;
/// Drafts read: 27 to 32 (0xff00001b..=0xff000020), the ones still seen in old captures.
const DRAFTS_READ: std::ops::RangeInclusive<u32> = 0xff00_001b..=0xff00_0020;

/// Initial salt of version 1 (RFC 9001 5.2).
const SALT_V1: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad,
    0xcc, 0xbb, 0x7f, 0x0a,
];
/// Initial salt of version 2 (RFC 9369 3.3.1).
const SALT_V2: [u8; 20] = [
    0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb,
    0xf9, 0xbd, 0x2e, 0xd9,
];
/// Initial salt of drafts 29 to 32 (draft-ietf-quic-tls-29 5.2).
const SALT_DRAFT_29: [u8; 20] = [
    0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0,
    0x43, 0x90, 0xa8, 0x99,
];
/// Initial salt of drafts 23 to 28 (draft-ietf-quic-tls-23 5.2); used here for 27 and 28.
const SALT_DRAFT_23: [u8; 20] = [
    0xc3, 0xee, 0xf7, 0x12, 0xc7, 0x2e, 0xbb, 0x5a, 0x11, 0xa7, 0xd2, 0x43, 0x2b, 0xb4, 0x63, 0x65,
    0xbe, 0xf9, 0xf5, 0x02,
];

/// Most CRYPTO bytes gathered per key set: the same bound as [`tls::MAX_CLIENT_HELLO`] (real
/// ClientHellos reach ~8 KiB with post-quantum key shares); it bounds the memory per flow.
pub const MAX_CRYPTO_BYTES: usize = 64 * 1024;
/// Most separate pieces of CRYPTO data held while waiting for the gaps between them: a
/// ClientHello spans a few packets of a few (shuffled, as Chrome sends them) frames each.
pub const MAX_CRYPTO_RANGES: usize = 32;
/// Most packets looked at in one datagram: a client coalesces one packet per encryption level
/// (Initial, 0-RTT, Handshake); eight leaves room and bounds the work per datagram.
pub const MAX_PACKETS_PER_DATAGRAM: usize = 8;
/// Longest connection ID in versions 1 and 2 (RFC 9000 17.2).
const MAX_CID_LEN: usize = 20;
/// Bytes of ciphertext sampled for header protection (RFC 9001 5.4.2).
const SAMPLE_LEN: usize = 16;
/// The sample starts this far after the packet number offset, as if it were 4 bytes long.
const SAMPLE_OFFSET: usize = 4;
/// AES-128-GCM tag length.
const TAG_LEN: usize = 16;
/// TLS handshake type of a ClientHello.
const HANDSHAKE_CLIENT_HELLO: u8 = 1;
/// TLS handshake message header: type:8 length:24.
const HANDSHAKE_HEADER_LEN: usize = 4;

/// Per-flow state, created by the caller only for UDP flows whose first client datagram looks
/// like a QUIC long-header Initial ([`looks_like_client_initial`]).
#[derive(Default)]
pub struct QuicClientHello {
    /// Keys of the current key set, fixed by the first Initial that opened.
    keys: Option<InitialKeys>,
    /// The current key set's ClientHello was reported or given up: its packets are skipped.
    finished: bool,
    /// CRYPTO data of the current key set.
    crypto: Assembler,
    /// Decryption buffer, reused.
    scratch: Vec<u8>,
}

/// What one datagram told us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuicProgress<'a> {
    /// The datagram does not start with a long-header packet of a version read here.
    NotQuic,
    /// QUIC, but the ClientHello is not complete yet (or was already reported).
    NeedMore,
    /// An Initial that cannot be read (cut short, does not decrypt, broken frames), or CRYPTO
    /// data that cannot be a ClientHello.
    Malformed,
    /// The ClientHello, complete.
    Done {
        /// Version of the packets that carried it.
        version: u32,
        /// What the ClientHello says.
        hello: ClientHello<'a>,
    },
}

impl QuicClientHello {
    /// Feed one UDP payload sent by the client. Returns `Done` once per key set (see the
    /// module docs: a Retry or a new connection on the same ports starts a new one); after
    /// that, datagrams of the same key set give `NeedMore` (or `NotQuic` for short headers).
    pub fn datagram(&mut self, payload: &[u8]) -> QuicProgress<'_> {
        let mut pos = 0;
        let mut malformed = false;
        let mut complete = None;
        for index in 0..MAX_PACKETS_PER_DATAGRAM {
            let rest = payload.get(pos..).unwrap_or_default();
            let header = match parse_long_header(rest) {
                Parsed::Packet(h) => h,
                Parsed::Stop if index == 0 => return QuicProgress::NotQuic,
                Parsed::Stop => break,
                Parsed::Malformed => {
                    malformed = true;
                    break;
                }
            };
            let packet = &rest[..header.len];
            pos += header.len;
            if header.kind != PacketType::Initial {
                continue;
            }
            if !self.initial(header.version, header.dcid, packet, header.pn_offset) {
                malformed = true;
            }
            if self.finished {
                continue;
            }
            match self.hello_state() {
                HelloState::Incomplete => {}
                HelloState::Complete(len) => {
                    complete = Some(len);
                    break;
                }
                HelloState::Bad => {
                    self.finished = true;
                    malformed = true;
                }
            }
        }
        if let Some(len) = complete {
            self.finished = true;
            let version = self.keys.as_ref().map_or(0, |k| k.version);
            let body = self
                .crypto
                .buf
                .get(HANDSHAKE_HEADER_LEN..HANDSHAKE_HEADER_LEN + len)
                .unwrap_or_default();
            return match tls::client_hello_body(body) {
                Some(hello) => QuicProgress::Done { version, hello },
                None => QuicProgress::Malformed,
            };
        }
        if malformed {
            QuicProgress::Malformed
        } else {
            QuicProgress::NeedMore
        }
    }

    /// CRYPTO frames dropped so far on this flow: beyond [`MAX_CRYPTO_BYTES`], or more than
    /// [`MAX_CRYPTO_RANGES`] pieces.
    pub fn dropped_crypto_frames(&self) -> u64 {
        self.crypto.dropped
    }

    /// Open one Initial packet and gather its CRYPTO frames. False when it cannot be opened
    /// or its frames are broken.
    fn initial(&mut self, version: u32, dcid: &[u8], packet: &[u8], pn_offset: usize) -> bool {
        if let Some(keys) = self.keys.as_mut().filter(|k| k.is_for(version, dcid)) {
            if self.finished {
                return true;
            }
            return match open(keys, &mut self.scratch, packet, pn_offset) {
                Some(plain) => walk_frames(&self.scratch[plain], &mut self.crypto),
                None => false,
            };
        }
        let Some(mut fresh) = InitialKeys::derive(version, dcid) else {
            return false;
        };
        if let Some(plain) = open(&mut fresh, &mut self.scratch, packet, pn_offset) {
            self.keys = Some(fresh);
            self.finished = false;
            self.crypto.reset();
            return walk_frames(&self.scratch[plain], &mut self.crypto);
        }
        if self.finished {
            return true; // most likely an ACK under the old keys and the server's CID
        }
        match self.keys.as_mut().filter(|k| k.version == version) {
            Some(keys) => match open(keys, &mut self.scratch, packet, pn_offset) {
                Some(plain) => walk_frames(&self.scratch[plain], &mut self.crypto),
                None => false,
            },
            None => false,
        }
    }

    /// Whether the CRYPTO bytes from offset 0 hold a whole ClientHello message.
    fn hello_state(&self) -> HelloState {
        let have = self.crypto.contiguous();
        let Some(&kind) = self.crypto.buf.first().filter(|_| have > 0) else {
            return HelloState::Incomplete;
        };
        if kind != HANDSHAKE_CLIENT_HELLO {
            return HelloState::Bad;
        }
        let Some(h) = self
            .crypto
            .buf
            .get(..HANDSHAKE_HEADER_LEN)
            .filter(|_| have >= HANDSHAKE_HEADER_LEN)
        else {
            return HelloState::Incomplete;
        };
        let len = u32::from_be_bytes([0, h[1], h[2], h[3]]) as usize;
        if HANDSHAKE_HEADER_LEN + len > MAX_CRYPTO_BYTES {
            HelloState::Bad
        } else if have < HANDSHAKE_HEADER_LEN + len {
            HelloState::Incomplete
        } else {
            HelloState::Complete(len)
        }
    }
}

/// Cheap test on the first bytes: long header, fixed bit, a version read here, Initial type,
/// a connection ID length that version allows. A server's Initial passes too (same type): which
/// side is the client is for the caller to know.
pub fn looks_like_client_initial(payload: &[u8]) -> bool {
    let (Some(&first), Some(v), Some(&dcid_len)) =
        (payload.first(), payload.get(1..5), payload.get(5))
    else {
        return false;
    };
    let version = u32::from_be_bytes([v[0], v[1], v[2], v[3]]);
    first & 0xc0 == 0xc0
        && initial_salt(version).is_some()
        && packet_type(version, first) == PacketType::Initial
        && usize::from(dcid_len) <= MAX_CID_LEN
}

/// Human version string for EVE, as Suricata writes `quic.version`: the version number in
/// lower-case hex without leading zeros, so "1" for version 1, "6b3343cf" for version 2 and
/// "ff00001d" for draft 29.
pub fn version_name(v: u32) -> String {
    format!("{v:x}")
}

/// The Initial salt of a version read here.
fn initial_salt(version: u32) -> Option<&'static [u8; 20]> {
    match version {
        VERSION_1 => Some(&SALT_V1),
        VERSION_2 => Some(&SALT_V2),
        0xff00_001b | 0xff00_001c => Some(&SALT_DRAFT_23),
        v if DRAFTS_READ.contains(&v) => Some(&SALT_DRAFT_29),
        _ => None,
    }
}

/// Long-header packet types (RFC 9000 17.2; version 2 renumbers them, RFC 9369 3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PacketType {
    Initial,
    ZeroRtt,
    Handshake,
    Retry,
}

/// The type of a long-header packet from its first byte.
fn packet_type(version: u32, first: u8) -> PacketType {
    match ((first >> 4) & 0x03, version == VERSION_2) {
        (0, false) | (1, true) => PacketType::Initial,
        (1, false) | (2, true) => PacketType::ZeroRtt,
        (2, false) | (3, true) => PacketType::Handshake,
        _ => PacketType::Retry,
    }
}

/// A long-header packet at the start of a buffer.
struct LongHeader<'a> {
    version: u32,
    kind: PacketType,
    dcid: &'a [u8],
    /// Offset of the (protected) packet number.
    pn_offset: usize,
    /// Length of the whole packet.
    len: usize,
}

enum Parsed<'a> {
    Packet(LongHeader<'a>),
    /// Not a long-header packet with a length field of a version read here.
    Stop,
    /// A long header of a version read here that is cut short or impossible.
    Malformed,
}

/// Read the long header at the start of `buf` (RFC 9000 17.2).
fn parse_long_header(buf: &[u8]) -> Parsed<'_> {
    let mut r = Reader::new(buf);
    let (Some(first), Some(v)) = (r.u8(), r.take(4)) else {
        return Parsed::Stop;
    };
    let version = u32::from_be_bytes([v[0], v[1], v[2], v[3]]);
    if first & 0x80 == 0 || initial_salt(version).is_none() {
        return Parsed::Stop;
    }
    let kind = packet_type(version, first);
    if kind == PacketType::Retry {
        return Parsed::Stop; // no length field; never sent by a client
    }
    let header = (|| {
        let dcid_len = usize::from(r.u8()?);
        let dcid = r.take(dcid_len).filter(|_| dcid_len <= MAX_CID_LEN)?;
        let scid_len = usize::from(r.u8()?);
        r.take(scid_len).filter(|_| scid_len <= MAX_CID_LEN)?;
        if kind == PacketType::Initial {
            let token_len = r.varint()?;
            r.take(usize::try_from(token_len).ok()?)?;
        }
        let length = usize::try_from(r.varint()?).ok()?;
        let pn_offset = r.pos;
        let len = pn_offset
            .checked_add(length)
            .filter(|&end| end <= buf.len())?;
        Some(LongHeader {
            version,
            kind,
            dcid,
            pn_offset,
            len,
        })
    })();
    header.map_or(Parsed::Malformed, Parsed::Packet)
}

/// Client Initial keys of one key set.
struct InitialKeys {
    version: u32,
    dcid: [u8; MAX_CID_LEN],
    dcid_len: usize,
    aead: Aes128Gcm,
    hp: Aes128,
    iv: [u8; 12],
    /// Largest packet number opened with these keys, for decoding truncated ones.
    largest_pn: Option<u64>,
}

impl InitialKeys {
    /// Keys for `dcid` under `version`; None for a version not read here.
    fn derive(version: u32, dcid: &[u8]) -> Option<InitialKeys> {
        let (key, iv, hp) = client_key_iv_hp(version, dcid)?;
        let mut stored = [0; MAX_CID_LEN];
        stored.get_mut(..dcid.len())?.copy_from_slice(dcid);
        Some(InitialKeys {
            version,
            dcid: stored,
            dcid_len: dcid.len(),
            aead: Aes128Gcm::new(&key.into()),
            hp: Aes128::new(&hp.into()),
            iv,
            largest_pn: None,
        })
    }

    fn is_for(&self, version: u32, dcid: &[u8]) -> bool {
        self.version == version && self.dcid.get(..self.dcid_len) == Some(dcid)
    }
}

/// Client Initial key, IV and header-protection key for `dcid` (RFC 9001 5.2, RFC 9369 3.3).
fn client_key_iv_hp(version: u32, dcid: &[u8]) -> Option<([u8; 16], [u8; 12], [u8; 16])> {
    let salt = initial_salt(version)?;
    let (key_label, iv_label, hp_label): (&[u8], &[u8], &[u8]) = if version == VERSION_2 {
        (b"quicv2 key", b"quicv2 iv", b"quicv2 hp")
    } else {
        (b"quic key", b"quic iv", b"quic hp")
    };
    let (_, initial) = Hkdf::<Sha256>::extract(Some(salt), dcid);
    let mut secret = [0; 32];
    expand_label(&initial, b"client in", &mut secret)?;
    let client = Hkdf::<Sha256>::from_prk(&secret).ok()?;
    let (mut key, mut iv, mut hp) = ([0; 16], [0; 12], [0; 16]);
    expand_label(&client, key_label, &mut key)?;
    expand_label(&client, iv_label, &mut iv)?;
    expand_label(&client, hp_label, &mut hp)?;
    Some((key, iv, hp))
}

/// HKDF-Expand-Label with an empty context (RFC 8446 7.1).
fn expand_label(prk: &Hkdf<Sha256>, label: &[u8], out: &mut [u8]) -> Option<()> {
    let len = u16::try_from(out.len()).ok()?.to_be_bytes();
    let label_len = [u8::try_from(b"tls13 ".len() + label.len()).ok()?];
    prk.expand_multi_info(&[&len, &label_len, b"tls13 ", label, &[0]], out)
        .ok()
}

/// Remove header protection from `packet` and decrypt it into `scratch`: the range of the
/// plaintext payload in `scratch`, or None when the packet is too short or does not open.
fn open(
    keys: &mut InitialKeys,
    scratch: &mut Vec<u8>,
    packet: &[u8],
    pn_offset: usize,
) -> Option<Range<usize>> {
    let sample_at = pn_offset + SAMPLE_OFFSET;
    let sample = packet.get(sample_at..sample_at + SAMPLE_LEN)?;
    let mut mask = aes::Block::clone_from_slice(sample);
    keys.hp.encrypt_block(&mut mask);
    scratch.clear();
    scratch.extend_from_slice(packet);
    let first = scratch.first_mut()?;
    *first ^= mask[0] & 0x0f;
    let pn_len = usize::from(*first & 0x03) + 1;
    let header_len = pn_offset + pn_len;
    let mut truncated = 0u64;
    for (byte, m) in scratch
        .get_mut(pn_offset..header_len)?
        .iter_mut()
        .zip(&mask[1..])
    {
        *byte ^= m;
        truncated = truncated << 8 | u64::from(*byte);
    }
    let pn = decode_packet_number(keys.largest_pn, truncated, pn_len as u32 * 8);
    let mut nonce = keys.iv;
    for (n, p) in nonce[4..].iter_mut().zip(pn.to_be_bytes()) {
        *n ^= p;
    }
    let (aad, rest) = scratch.split_at_mut(header_len);
    let payload_len = rest.len().checked_sub(TAG_LEN)?;
    let (ciphertext, tag) = rest.split_at_mut(payload_len);
    keys.aead
        .decrypt_in_place_detached(
            Nonce::from_slice(&nonce),
            aad,
            ciphertext,
            Tag::from_slice(tag),
        )
        .ok()?;
    keys.largest_pn = Some(keys.largest_pn.map_or(pn, |l| l.max(pn)));
    Some(header_len..header_len + payload_len)
}

/// The full packet number from its truncated form (RFC 9000 A.3), at most 2^62 - 1 (Initial
/// keys are public, so `largest` may have been pushed there by anyone).
fn decode_packet_number(largest: Option<u64>, truncated: u64, bits: u32) -> u64 {
    const MAX_PN: u64 = (1 << 62) - 1;
    let expected = largest.map_or(0, |l| l.min(MAX_PN) + 1);
    let window = 1u64 << bits;
    let half = window / 2;
    let candidate = (expected & !(window - 1)) | truncated;
    let pn = if candidate + half <= expected && candidate < MAX_PN + 1 - window {
        candidate + window
    } else if candidate > expected + half && candidate >= window {
        candidate - window
    } else {
        candidate
    };
    pn.min(MAX_PN)
}

/// Read the frames of an Initial payload, gathering CRYPTO data. False when a frame is cut
/// short; reading stops without error at a frame type not read here.
fn walk_frames(plain: &[u8], crypto: &mut Assembler) -> bool {
    let mut r = Reader::new(plain);
    let mut walk = || -> Option<()> {
        while !r.is_empty() {
            match r.varint()? {
                0x00 => r.skip_zeros(), // PADDING: the rest of its run in one step
                0x01 => {}              // PING
                kind @ (0x02 | 0x03) => {
                    // ACK: largest, delay, range count, first range, (gap, length)*, [ECN x3]
                    r.varint()?;
                    r.varint()?;
                    let ranges = r.varint()?;
                    r.varint()?;
                    for _ in 0..ranges {
                        r.varint()?;
                        r.varint()?;
                    }
                    if kind == 0x03 {
                        for _ in 0..3 {
                            r.varint()?;
                        }
                    }
                }
                0x06 => {
                    let offset = r.varint()?;
                    let len = usize::try_from(r.varint()?).ok()?;
                    crypto.insert(offset, r.take(len)?);
                }
                _ => break,
            }
        }
        Some(())
    };
    walk().is_some()
}

enum HelloState {
    Incomplete,
    /// Complete, with this body length.
    Complete(usize),
    Bad,
}

/// CRYPTO stream bytes gathered by offset, bounded by [`MAX_CRYPTO_BYTES`].
#[derive(Default)]
struct Assembler {
    /// Bytes by stream offset; gaps hold zeros.
    buf: Vec<u8>,
    /// Pieces held: sorted, disjoint, not touching, as `[start, end)`.
    ranges: [(u32, u32); MAX_CRYPTO_RANGES],
    count: usize,
    /// Frames dropped (kept across key sets).
    dropped: u64,
}

impl Assembler {
    fn reset(&mut self) {
        self.buf.clear();
        self.count = 0;
    }

    /// Bytes held without a gap from offset 0.
    fn contiguous(&self) -> usize {
        match self.ranges[..self.count].first() {
            Some(&(0, end)) => end as usize,
            _ => 0,
        }
    }

    /// Add `data` at stream `offset`, keeping bytes already held where they overlap.
    fn insert(&mut self, offset: u64, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let end = offset.checked_add(data.len() as u64);
        let Some((start, end)) = end
            .filter(|&e| e <= MAX_CRYPTO_BYTES as u64)
            .map(|e| (offset as u32, e as u32))
        else {
            self.dropped += 1;
            return;
        };
        // The pieces after the insert, merging every one that overlaps or touches [start, end).
        let mut merged = [(0u32, 0u32); MAX_CRYPTO_RANGES + 1];
        let mut n = 0;
        let (mut new_start, mut new_end) = (start, end);
        let mut placed = false;
        for &(s, e) in &self.ranges[..self.count] {
            if e < start {
                merged[n] = (s, e);
                n += 1;
            } else if s > end {
                if !placed {
                    merged[n] = (new_start, new_end);
                    n += 1;
                    placed = true;
                }
                merged[n] = (s, e);
                n += 1;
            } else {
                new_start = new_start.min(s);
                new_end = new_end.max(e);
            }
        }
        if !placed {
            merged[n] = (new_start, new_end);
            n += 1;
        }
        if n > MAX_CRYPTO_RANGES {
            self.dropped += 1;
            return;
        }
        if self.buf.len() < end as usize {
            self.buf.resize(end as usize, 0);
        }
        // Copy only into the gaps of [start, end) that no piece held covers.
        let mut at = start;
        for &(s, e) in &self.ranges[..self.count] {
            if e <= at || s >= end {
                continue;
            }
            if s > at {
                copy_piece(&mut self.buf, start, data, at, s);
            }
            at = at.max(e);
        }
        if at < end {
            copy_piece(&mut self.buf, start, data, at, end);
        }
        self.ranges[..n].copy_from_slice(&merged[..n]);
        self.count = n;
    }
}

/// Copy stream bytes `[from, to)` of `data`, which starts at stream offset `start`, into `buf`.
fn copy_piece(buf: &mut [u8], start: u32, data: &[u8], from: u32, to: u32) {
    let src = data.get((from - start) as usize..(to - start) as usize);
    if let (Some(src), Some(dst)) = (src, buf.get_mut(from as usize..to as usize)) {
        dst.copy_from_slice(src);
    }
}

/// A cursor over bytes that never reads past the end.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn u8(&mut self) -> Option<u8> {
        let b = *self.buf.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let out = self.buf.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(out)
    }

    /// Skip zero bytes up to the next other byte or the end: a run of PADDING frames, most
    /// of a client Initial (it pads its datagram to 1 200 bytes), read 8 bytes at a time
    /// instead of as one frame per byte.
    fn skip_zeros(&mut self) {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        let words = rest
            .chunks_exact(8)
            .take_while(|word| word.iter().all(|&b| b == 0))
            .count();
        let tail = &rest[8 * words..];
        let zeros = 8 * words + tail.iter().take_while(|&&b| b == 0).count();
        self.pos += zeros;
    }

    /// A variable-length integer (RFC 9000 16): 1, 2, 4 or 8 bytes by the top two bits.
    fn varint(&mut self) -> Option<u64> {
        let first = self.u8()?;
        let extra = (1usize << (first >> 6)) - 1;
        let mut v = u64::from(first & 0x3f);
        for &b in self.take(extra)? {
            v = v << 8 | u64::from(b);
        }
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::tls::tests::client_hello;

    fn hex(s: &str) -> Vec<u8> {
        let s: Vec<u8> = s.bytes().filter(|b| b.is_ascii_hexdigit()).collect();
        s.chunks(2)
            .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
            .collect()
    }

    const DCID: [u8; 8] = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];

    /// RFC 9001 A.2 (and RFC 9369 A.2): the CRYPTO frame of the client Initial, before padding.
    const A2_CRYPTO_FRAME: &str = "
        060040f1010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e868
        04fe3a47f06a2b69484c00000413011302010000c000000010000e00000b6578
        616d706c652e636f6dff01000100000a00080006001d00170018001000070005
        04616c706e000500050100000000003300260024001d00209370b2c9caa47fba
        baf4559fedba753de171fa71f50f1ce15d43e994ec74d748002b000302030400
        0d0010000e0403050306030203080408050806002d00020101001c0002400100
        3900320408ffffffffffffffff05048000ffff07048000ffff08011001048000
        75300901100f088394c8f03e51570806048000ffff";

    /// RFC 9001 A.2: the protected client Initial (1200 bytes), as hex.
    const A2_V1: &str = include_str!("testdata/rfc9001-a2-client-initial.hex");

    /// RFC 9369 A.2: the protected version 2 client Initial (1200 bytes), as hex.
    const A2_V2: &str = include_str!("testdata/rfc9369-a2-client-initial.hex");

    /// The A.2 plaintext payload: the CRYPTO frame padded to 1162 bytes.
    fn a2_payload() -> Vec<u8> {
        let mut p = hex(A2_CRYPTO_FRAME);
        p.resize(1162, 0);
        p
    }

    /// A protected client Initial (empty SCID and token), built as RFC 9001 5 describes.
    fn protect(version: u32, dcid: &[u8], pn: u64, pn_len: usize, payload: &[u8]) -> Vec<u8> {
        protect_as(version, dcid, dcid, pn, pn_len, payload)
    }

    /// As [`protect`], with `dcid` in the header but the keys of `key_dcid`.
    fn protect_as(
        version: u32,
        dcid: &[u8],
        key_dcid: &[u8],
        pn: u64,
        pn_len: usize,
        payload: &[u8],
    ) -> Vec<u8> {
        let type_bits = if version == VERSION_2 { 1 } else { 0 };
        let mut p = vec![0xc0 | type_bits << 4 | (pn_len as u8 - 1)];
        p.extend_from_slice(&version.to_be_bytes());
        p.push(dcid.len() as u8);
        p.extend_from_slice(dcid);
        p.extend_from_slice(&[0, 0]); // SCID length, token length
        p.extend_from_slice(&(0x4000 | (pn_len + payload.len() + TAG_LEN) as u16).to_be_bytes());
        let pn_offset = p.len();
        p.extend_from_slice(&pn.to_be_bytes()[8 - pn_len..]);
        let (key, iv, hp) = client_key_iv_hp(version, key_dcid).unwrap();
        let mut nonce = iv;
        for (n, b) in nonce[4..].iter_mut().zip(pn.to_be_bytes()) {
            *n ^= b;
        }
        let mut body = payload.to_vec();
        let tag = Aes128Gcm::new(&key.into())
            .encrypt_in_place_detached(Nonce::from_slice(&nonce), &p, &mut body)
            .unwrap();
        p.extend_from_slice(&body);
        p.extend_from_slice(&tag);
        let sample_at = pn_offset + SAMPLE_OFFSET;
        let mut mask = aes::Block::clone_from_slice(&p[sample_at..sample_at + SAMPLE_LEN]);
        Aes128::new(&hp.into()).encrypt_block(&mut mask);
        p[0] ^= mask[0] & 0x0f;
        for i in 0..pn_len {
            p[pn_offset + i] ^= mask[1 + i];
        }
        p
    }

    /// A CRYPTO frame.
    fn crypto_frame(offset: u64, data: &[u8]) -> Vec<u8> {
        let mut f = vec![0x06];
        f.extend_from_slice(&(0xc000_0000_0000_0000 | offset).to_be_bytes());
        f.extend_from_slice(&(0x4000 | data.len() as u16).to_be_bytes());
        f.extend_from_slice(data);
        f
    }

    /// Frames padded to a size that leaves room for the header-protection sample.
    fn padded(frames: &[Vec<u8>]) -> Vec<u8> {
        let mut p = frames.concat();
        p.resize(p.len().max(64), 0);
        p
    }

    fn sni<'a>(progress: &QuicProgress<'a>) -> Option<&'a [u8]> {
        match progress {
            QuicProgress::Done { hello, .. } => hello.sni,
            _ => None,
        }
    }

    #[test]
    fn rfc9001_keys_and_client_initial() {
        let (key, iv, hp) = client_key_iv_hp(VERSION_1, &DCID).unwrap();
        assert_eq!(key.to_vec(), hex("1f369613dd76d5467730efcbe3b1a22d"));
        assert_eq!(iv.to_vec(), hex("fa044b2f42a3fd3b46fb255c"));
        assert_eq!(hp.to_vec(), hex("9f50449e04a0e810283a1e9933adedd2"));
        let packet = hex(A2_V1);
        assert_eq!(packet.len(), 1200);
        assert_eq!(
            protect(VERSION_1, &DCID, 2, 4, &a2_payload()),
            packet,
            "test encoder"
        );
        assert!(looks_like_client_initial(&packet));
        let mut q = QuicClientHello::default();
        let progress = q.datagram(&packet);
        assert_eq!(sni(&progress), Some(&b"example.com"[..]));
        assert!(matches!(
            progress,
            QuicProgress::Done {
                version: VERSION_1,
                ..
            }
        ));
        assert_eq!(q.datagram(&packet), QuicProgress::NeedMore, "reported once");
        assert_eq!(version_name(VERSION_1), "1");
    }

    #[test]
    fn rfc9369_version_2_keys_and_client_initial() {
        let (key, iv, hp) = client_key_iv_hp(VERSION_2, &DCID).unwrap();
        assert_eq!(key.to_vec(), hex("8b1a0bc121284290a29e0971b5cd045d"));
        assert_eq!(iv.to_vec(), hex("91f73e2351d8fa91660e909f"));
        assert_eq!(hp.to_vec(), hex("45b95e15235d6f45a6b19cbcb0294ba9"));
        let packet = hex(A2_V2);
        assert_eq!(
            protect(VERSION_2, &DCID, 2, 4, &a2_payload()),
            packet,
            "test encoder"
        );
        assert!(looks_like_client_initial(&packet));
        let mut q = QuicClientHello::default();
        let progress = q.datagram(&packet);
        assert_eq!(sni(&progress), Some(&b"example.com"[..]));
        assert!(matches!(
            progress,
            QuicProgress::Done {
                version: VERSION_2,
                ..
            }
        ));
        assert_eq!(version_name(VERSION_2), "6b3343cf");
        // Version 1's Initial type bits are version 2's Retry.
        let mut as_v1_type = packet.clone();
        as_v1_type[0] &= !0x30;
        assert!(!looks_like_client_initial(&as_v1_type));
    }

    #[test]
    fn drafts_use_their_salts_and_others_are_not_quic() {
        let payload = padded(&[crypto_frame(0, &client_hello("d29.example", &[]))]);
        for (version, salt) in [
            (0xff00_001d, SALT_DRAFT_29),
            (0xff00_0020, SALT_DRAFT_29),
            (0xff00_001b, SALT_DRAFT_23),
        ] {
            assert_eq!(initial_salt(version), Some(&salt));
            let packet = protect(version, &DCID, 0, 1, &payload);
            assert!(looks_like_client_initial(&packet));
            let mut q = QuicClientHello::default();
            let progress = q.datagram(&packet);
            assert_eq!(sni(&progress), Some(&b"d29.example"[..]), "{version:x}");
        }
        assert_eq!(version_name(VERSION_DRAFT_29), "ff00001d");
        let mut draft34 = protect(VERSION_1, &DCID, 0, 1, &payload);
        draft34[1..5].copy_from_slice(&0xff00_0022u32.to_be_bytes());
        assert!(!looks_like_client_initial(&draft34));
        assert_eq!(
            QuicClientHello::default().datagram(&draft34),
            QuicProgress::NotQuic
        );
        let mut q = QuicClientHello::default();
        assert_eq!(q.datagram(b""), QuicProgress::NotQuic);
        assert_eq!(
            q.datagram(&[0x40, 1, 2, 3, 4, 5, 6]),
            QuicProgress::NotQuic,
            "short header"
        );
        assert!(!looks_like_client_initial(&[0xc0, 0, 0, 0, 1]));
        assert!(
            !looks_like_client_initial(&[0xc0, 0, 0, 0, 1, 21]),
            "DCID longer than 20"
        );
    }

    #[test]
    fn every_prefix_and_mutations_are_safe() {
        let packet = hex(A2_V1);
        for cut in 0..packet.len() {
            let mut q = QuicClientHello::default();
            let progress = q.datagram(&packet[..cut]);
            assert!(
                matches!(progress, QuicProgress::NotQuic | QuicProgress::Malformed),
                "cut {cut}: {progress:?}"
            );
        }
        // Flip bytes all over the packet (header and payload): never a panic, never a false hello.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..2000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut p = packet.clone();
            let at = (seed % 64) as usize;
            p[at] ^= (seed >> 32) as u8 | 1;
            let mut q = QuicClientHello::default();
            if let QuicProgress::Done { hello, .. } = q.datagram(&p) {
                assert_eq!(hello.sni, Some(&b"example.com"[..]), "byte {at}");
            }
        }
    }

    #[test]
    fn absurd_crypto_offset_is_dropped_without_allocating() {
        let mut frame = vec![0x06];
        frame.extend_from_slice(&u64::MAX.to_be_bytes()); // offset 2^62 - 1
        frame.extend_from_slice(&[0x01, 0xaa]);
        let mut q = QuicClientHello::default();
        assert_eq!(
            q.datagram(&protect(VERSION_1, &DCID, 0, 1, &padded(&[frame]))),
            QuicProgress::NeedMore
        );
        assert_eq!(q.dropped_crypto_frames(), 1);
        assert_eq!(q.crypto.buf.capacity(), 0);
        // Just past the bound is dropped too; up to it is held.
        let past = crypto_frame(MAX_CRYPTO_BYTES as u64 - 1, &[1, 2]);
        let last = crypto_frame(MAX_CRYPTO_BYTES as u64 - 1, &[1]);
        assert_eq!(
            q.datagram(&protect(VERSION_1, &DCID, 1, 1, &padded(&[past, last]))),
            QuicProgress::NeedMore
        );
        assert_eq!(q.dropped_crypto_frames(), 2);
        assert_eq!(q.crypto.buf.len(), MAX_CRYPTO_BYTES);
    }

    #[test]
    fn crypto_frames_out_of_order_within_and_across_packets() {
        let hs = client_hello("c2.example.net", &[]);
        let (a, b) = hs.split_at(30);
        let (b, c) = b.split_at(17);
        // Within one packet, in reverse order, with PING and PADDING between.
        let frames = [
            crypto_frame(47, c),
            vec![0x01, 0x00],
            crypto_frame(30, b),
            crypto_frame(0, a),
        ];
        let mut q = QuicClientHello::default();
        let progress = q.datagram(&protect(VERSION_1, &DCID, 0, 1, &padded(&frames)));
        assert_eq!(sni(&progress), Some(&b"c2.example.net"[..]));
        // Across datagrams: the end first, then an overlapping retransmission, then the start.
        let mut q = QuicClientHello::default();
        let late = protect(
            VERSION_1,
            &DCID,
            1,
            2,
            &padded(&[crypto_frame(30, &hs[30..])]),
        );
        assert_eq!(q.datagram(&late), QuicProgress::NeedMore);
        let overlap = protect(
            VERSION_1,
            &DCID,
            2,
            1,
            &padded(&[crypto_frame(20, &hs[20..40])]),
        );
        assert_eq!(q.datagram(&overlap), QuicProgress::NeedMore);
        let early = protect(
            VERSION_1,
            &DCID,
            0,
            1,
            &padded(&[crypto_frame(0, &hs[..20])]),
        );
        assert_eq!(sni(&q.datagram(&early)), Some(&b"c2.example.net"[..]));
        assert_eq!(q.dropped_crypto_frames(), 0);
    }

    #[test]
    fn overlapping_bytes_keep_the_first_copy_and_pieces_are_bounded() {
        let hs = client_hello("first.example", &[]);
        let mut forged = hs.clone();
        let at = forged.windows(5).position(|w| w == b"first").unwrap();
        forged[at..at + 5].copy_from_slice(b"forge");
        let mut q = QuicClientHello::default();
        let frames = [crypto_frame(10, &hs[10..]), crypto_frame(0, &forged)];
        assert_eq!(
            sni(&q.datagram(&protect(VERSION_1, &DCID, 0, 1, &padded(&frames)))),
            Some(&b"first.example"[..])
        );
        // Every other byte: the 33rd separate piece is dropped.
        let mut q = QuicClientHello::default();
        let frames: Vec<Vec<u8>> = (0..40u64)
            .map(|i| crypto_frame(100 + 2 * i, &[7]))
            .collect();
        assert_eq!(
            q.datagram(&protect(VERSION_1, &DCID, 0, 1, &padded(&frames))),
            QuicProgress::NeedMore
        );
        assert_eq!(q.crypto.count, MAX_CRYPTO_RANGES);
        assert_eq!(q.dropped_crypto_frames(), 8);
    }

    #[test]
    fn padding_runs_of_any_length_between_frames() {
        // The ClientHello split in two CRYPTO frames, with a run of PADDING before each and
        // one after the last (a PING between them): runs of every length around the 8-byte
        // steps in which they are skipped. A run skipped one byte too far eats the type byte
        // of the CRYPTO frame behind it.
        let hs = client_hello("pad.example", &[]);
        let (first, second) = hs.split_at(hs.len() / 2);
        for before in 0..=24 {
            for between in 0..=24 {
                let after = (before + between) % 19;
                let frames = [
                    vec![0; before],
                    crypto_frame(0, first),
                    vec![0x01],
                    vec![0; between],
                    crypto_frame(first.len() as u64, second),
                    vec![0; after],
                ];
                let packet = protect(VERSION_1, &DCID, 0, 1, &padded(&frames));
                let mut q = QuicClientHello::default();
                let progress = q.datagram(&packet);
                assert_eq!(
                    sni(&progress),
                    Some(&b"pad.example"[..]),
                    "{before} zeros before, {between} between, {after} after"
                );
            }
        }
        // A frame type after a run is still read: here one not read, which ends the walk
        // before the CRYPTO frame behind it.
        let frames = [vec![0; 11], vec![0x1c, 0, 0, 0], crypto_frame(0, &hs)];
        let packet = protect(VERSION_1, &DCID, 0, 1, &padded(&frames));
        assert_eq!(
            QuicClientHello::default().datagram(&packet),
            QuicProgress::NeedMore
        );
    }

    #[test]
    fn ack_frames_coalesced_packets_and_unknown_frames() {
        let hs = client_hello("ack.example", &[]);
        let ack = vec![0x02, 0x05, 0x00, 0x01, 0x00, 0x01, 0x02]; // largest 5, one extra range
        let ack_ecn = vec![0x03, 0x05, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03];
        let close = vec![0x1c, 0x00, 0x00, 0x00]; // CONNECTION_CLOSE: reading stops here
        let frames = [
            ack,
            ack_ecn,
            crypto_frame(0, &hs),
            close,
            crypto_frame(0, b"ignored"),
        ];
        let initial = protect(VERSION_1, &DCID, 0, 1, &padded(&frames));
        // A 0-RTT packet (type 1) before the Initial and a short-header packet after it.
        let mut datagram = vec![0xd0, 0, 0, 0, 1, 8];
        datagram.extend_from_slice(&DCID);
        datagram.extend_from_slice(&[0, 0x05, 1, 2, 3, 4, 5]);
        datagram.extend_from_slice(&initial);
        datagram.extend_from_slice(&[0x40, 9, 9, 9]);
        let mut q = QuicClientHello::default();
        let progress = q.datagram(&datagram);
        assert_eq!(sni(&progress), Some(&b"ack.example"[..]));
        // An ACK frame claiming 2^62 ranges ends at the end of the payload: malformed, no hang.
        let huge = vec![
            0x02, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00,
        ];
        let packet = protect(VERSION_1, &DCID, 0, 1, &padded(&[huge]));
        assert_eq!(
            QuicClientHello::default().datagram(&packet),
            QuicProgress::Malformed
        );
    }

    #[test]
    fn connection_ids_and_key_sets() {
        let hs = client_hello("one.example", &[]);
        let (a, b) = hs.split_at(40);
        let server_cid = [0x5e; 5];
        // The client moves to the server's CID for its second Initial: keys stay those of DCID.
        let mut q = QuicClientHello::default();
        assert_eq!(
            q.datagram(&protect(
                VERSION_1,
                &DCID,
                0,
                1,
                &padded(&[crypto_frame(0, a)])
            )),
            QuicProgress::NeedMore
        );
        let second = protect_as(
            VERSION_1,
            &server_cid,
            &DCID,
            1,
            1,
            &padded(&[crypto_frame(40, b)]),
        );
        assert_eq!(sni(&q.datagram(&second)), Some(&b"one.example"[..]));
        // After a Retry: a new DCID with its own keys starts again and is reported again.
        let retried = protect(
            VERSION_1,
            &server_cid,
            0,
            1,
            &padded(&[crypto_frame(0, &client_hello("two.example", &[]))]),
        );
        assert_eq!(sni(&q.datagram(&retried)), Some(&b"two.example"[..]));
        assert_eq!(q.datagram(&retried), QuicProgress::NeedMore);
        // A packet that opens under no key is malformed.
        let mut broken = retried.clone();
        *broken.last_mut().unwrap() ^= 1;
        let mut fresh = QuicClientHello::default();
        assert_eq!(fresh.datagram(&broken), QuicProgress::Malformed);
        // CRYPTO data that is not a ClientHello.
        let mut q = QuicClientHello::default();
        let not_hello = protect(
            VERSION_1,
            &DCID,
            0,
            1,
            &padded(&[crypto_frame(0, &[2, 0, 0, 1, 0])]),
        );
        assert_eq!(q.datagram(&not_hello), QuicProgress::Malformed);
    }

    #[test]
    fn packet_numbers_decode_near_the_largest() {
        assert_eq!(decode_packet_number(None, 2, 32), 2);
        assert_eq!(
            decode_packet_number(Some(0xa82f30ea), 0x9b32, 16),
            0xa82f9b32
        ); // RFC 9000 A.3
        assert_eq!(decode_packet_number(Some(255), 0x01, 8), 257);
        assert_eq!(decode_packet_number(Some(300), 0xff, 8), 255);
        let max = (1 << 62) - 1;
        assert_eq!(decode_packet_number(Some(max), 0xffff_ffff, 32), max);
        assert_eq!(decode_packet_number(Some(u64::MAX), 0, 8), max);
    }

    /// Real captures of the shared corpus: the SNI of every QUIC ClientHello sent to port 443,
    /// with state per 5-tuple created by the first datagram that looks like a client Initial,
    /// must be the `quic_sni` list of the capture's expected.json (tshark's reading), and as
    /// many hellos must be reported as tshark counts. In ndpi__quic-29 both counts are 2 for
    /// different packets: tshark reads frame 1 and the second ClientHello sent after a
    /// HelloRetryRequest (frame 5, CRYPTO offset 301); we read frame 1 and frame 3, the same
    /// ClientHello sent again after a QUIC Retry under new keys, which tshark takes for a
    /// retransmission. A ClientHello after HelloRetryRequest must repeat the SNI (RFC 8446
    /// 4.1.2) and is not read, as over TCP.
    #[test]
    fn corpus_captures_give_tsharks_quic_sni() {
        use crate::decode::{decode, Transport};
        use std::collections::{BTreeSet, HashMap};
        const FILES: [&str; 7] = [
            "arkime__quicietfooo.pcap",
            "ndpi__quic-29.pcap",
            "zeek__quic__quicv2-echo-443.pcap",
            "zeek__quic__quic-multiple-initial-fragmented-crypto.pcap",
            "zeek__quic__quic-39264-rand.pcap",
            "tcpdump__quic_handshake.pcap",
            "ndpi__sites.pcapng",
        ];
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
        assert!(
            dir.is_dir(),
            "{} not found: the test needs ../shared beside the repository",
            dir.display()
        );
        for name in FILES {
            let stem = name.rsplit_once('.').unwrap().0;
            let truth = dir.join(format!("{stem}.expected.json"));
            let truth: serde_json::Value =
                serde_json::from_slice(&std::fs::read(truth).unwrap()).unwrap();
            let want: BTreeSet<&str> = truth["quic_sni"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            let mut cap = pcap::Capture::from_file(dir.join(name)).unwrap();
            let linktype = cap.get_datalink().0;
            let mut flows = HashMap::new();
            let (mut got, mut hellos) = (BTreeSet::new(), 0);
            while let Ok(frame) = cap.next_packet() {
                let Ok(p) = decode(linktype, frame.data) else {
                    continue;
                };
                let Transport::Udp { payload } = p.transport else {
                    continue;
                };
                let key = (p.src, p.src_port, p.dst, p.dst_port);
                if p.dst_port != 443
                    || (!flows.contains_key(&key) && !looks_like_client_initial(payload))
                {
                    continue;
                }
                let state: &mut QuicClientHello = flows.entry(key).or_default();
                if let QuicProgress::Done { hello, .. } = state.datagram(payload) {
                    got.insert(String::from_utf8(hello.sni.unwrap().to_vec()).unwrap());
                    hellos += 1;
                }
            }
            let got: BTreeSet<&str> = got.iter().map(String::as_str).collect();
            assert_eq!(got, want, "{name}");
            assert_eq!(
                hellos,
                truth["stats"]["client_hellos_quic"].as_u64().unwrap(),
                "{name}"
            );
        }
    }
}
