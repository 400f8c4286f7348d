//! DNS messages (RFC 1035, also mDNS and LLMNR, which share the format): question names,
//! answer owner names, names in CNAME/DNAME/NS/PTR answers, and A/AAAA addresses.
//!
//! Wire grammar used here (RFC 1035 4.1):
//! ```text
//! header    id:16 flags:16 qdcount:16 ancount:16 nscount:16 arcount:16
//! question  qname qtype:16 qclass:16
//! rr        name type:16 class:16 ttl:32 rdlength:16 rdata[rdlength]
//! name      (len:8 label[len])* 0   |   ... pointer:16 (top two bits set)
//! ```
//!
//! Limits and invariants:
//! - names are read into a fixed [`Name`] buffer of [`MAX_NAME_LEN`] bytes: longer names are
//!   cut there and flagged `truncated` (as Suricata's `rrname_truncated`), never allocated;
//! - compression pointers are followed wherever they point (resolvers accept forward pointers),
//!   at most [`MAX_POINTER_HOPS`] per name and [`MAX_LABELS`] labels per name: a pointer loop
//!   ends there, and no name costs more than 256 steps;
//! - label bytes are kept as they are (any byte value): output escapes them, matching
//!   lowercases them;
//! - records after the first malformed one are not read; what came before is reported
//!   (as tshark and Suricata do); at most [`MAX_RECORDS`] records per section are read.
//!
//! Nothing here allocates or panics on any input.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Longest name kept, in presentation bytes (labels joined with dots): as Suricata, which
/// keeps 1025 bytes, we keep more than DNS allows (253) so over-long names are still seen.
pub const MAX_NAME_LEN: usize = 1025;
/// Most compression pointers followed in one name: a 255-byte name has at most 127 labels,
/// each of which could be reached through one pointer. This is what makes a pointer loop end.
pub const MAX_POINTER_HOPS: usize = 128;
/// Most labels in one name: a name of 255 bytes on the wire has at most 127. With the
/// pointer limit, it bounds the work per name to 256 steps whatever the message holds.
pub const MAX_LABELS: usize = 128;
/// Most records read per section: bounds the work on a message that claims 65535 records.
pub const MAX_RECORDS: usize = 512;
/// Size of the fixed header.
pub const HEADER_LEN: usize = 12;

/// Record types we name in output.
pub mod rrtype {
    /// IPv4 address.
    pub const A: u16 = 1;
    /// Name server.
    pub const NS: u16 = 2;
    /// Canonical name.
    pub const CNAME: u16 = 5;
    /// Start of authority.
    pub const SOA: u16 = 6;
    /// Pointer.
    pub const PTR: u16 = 12;
    /// Mail exchange.
    pub const MX: u16 = 15;
    /// Text.
    pub const TXT: u16 = 16;
    /// IPv6 address.
    pub const AAAA: u16 = 28;
    /// Service.
    pub const SRV: u16 = 33;
    /// Delegation name.
    pub const DNAME: u16 = 39;
    /// EDNS options pseudo-record.
    pub const OPT: u16 = 41;
    /// Service binding.
    pub const SVCB: u16 = 64;
    /// HTTPS binding.
    pub const HTTPS: u16 = 65;
    /// Any type.
    pub const ANY: u16 = 255;

    /// The mnemonic Suricata logs for a type.
    pub fn name(t: u16) -> std::borrow::Cow<'static, str> {
        let s = match t {
            A => "A",
            NS => "NS",
            CNAME => "CNAME",
            SOA => "SOA",
            PTR => "PTR",
            MX => "MX",
            TXT => "TXT",
            AAAA => "AAAA",
            SRV => "SRV",
            DNAME => "DNAME",
            OPT => "OPT",
            SVCB => "SVCB",
            HTTPS => "HTTPS",
            ANY => "ANY",
            _ => return std::borrow::Cow::Owned(t.to_string()),
        };
        std::borrow::Cow::Borrowed(s)
    }
}

/// Why a message could not be read (fully).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsError {
    /// Shorter than the 12-byte header.
    ShortHeader,
    /// A name or record runs past the end of the message.
    Truncated,
    /// A label type that does not exist (0x40, 0x80). (A pointer past the message's end is
    /// `Truncated`; pointers forward are followed.)
    BadName,
    /// More pointers than [`MAX_POINTER_HOPS`] (a pointer loop, or worse).
    TooManyPointers,
    /// More labels than [`MAX_LABELS`]: longer than any name DNS allows.
    TooManyLabels,
}

/// A name read from a message: presentation bytes (labels joined by `.`), not escaped.
#[derive(Clone)]
pub struct Name {
    buf: [u8; MAX_NAME_LEN],
    len: usize,
    /// True when this is not the whole name: longer than [`MAX_NAME_LEN`], or the message
    /// ended or was damaged inside it.
    pub truncated: bool,
}

impl Default for Name {
    fn default() -> Self {
        Name {
            buf: [0; MAX_NAME_LEN],
            len: 0,
            truncated: false,
        }
    }
}

impl Name {
    /// The name's bytes; empty for the root.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    fn clear(&mut self) {
        self.len = 0;
        self.truncated = false;
    }

    /// Append labels as they lie in a message (each after its length byte), joined by dots
    /// and after a dot when the name already holds some.
    fn push_labels(&mut self, wire: &[u8]) {
        let Some((&first, _)) = wire.split_first() else {
            return;
        };
        // Each length byte becomes the dot before its label; the first one only when labels
        // came before (from the other side of a pointer).
        let skip = usize::from(self.len == 0);
        let start = self.len;
        self.push(&wire[skip..]);
        let mut at = 1 + first as usize;
        while at < wire.len() {
            if let Some(byte) = self.buf[..self.len].get_mut(start + at - skip) {
                *byte = b'.';
            }
            at += 1 + wire[at] as usize;
        }
        if skip == 0 {
            if let Some(byte) = self.buf[..self.len].get_mut(start) {
                *byte = b'.';
            }
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        let room = MAX_NAME_LEN - self.len;
        let take = bytes.len().min(room);
        self.buf[self.len..self.len + take].copy_from_slice(&bytes[..take]);
        self.len += take;
        if take < bytes.len() {
            self.truncated = true;
        }
    }
}

/// The fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Transaction id.
    pub id: u16,
    /// Flags word (QR, opcode, AA, TC, RD, RA, Z, rcode).
    pub flags: u16,
    /// Question count as claimed.
    pub qdcount: u16,
    /// Answer count as claimed.
    pub ancount: u16,
}

impl Header {
    /// True for a response (QR bit).
    pub fn is_response(&self) -> bool {
        self.flags & 0x8000 != 0
    }
    /// Response code (low 4 bits).
    pub fn rcode(&self) -> u16 {
        self.flags & 0x000F
    }
}

/// Data of an answer record, as far as we read it.
pub enum RData<'n> {
    /// A or AAAA.
    Addr(IpAddr),
    /// CNAME, DNAME, NS, PTR: the target name.
    Name(&'n Name),
    /// Anything else.
    Other,
}

/// Receives what [`parse`] finds, in message order.
pub trait Visitor {
    /// A question.
    fn question(&mut self, name: &Name, qtype: u16);
    /// An answer-section record.
    fn answer(&mut self, name: &Name, rtype: u16, ttl: u32, rdata: RData<'_>);
}

/// Read a message, calling `visitor` for each question and answer. The error, if any, says
/// why reading stopped; everything before it has been reported.
pub fn parse(msg: &[u8], visitor: &mut impl Visitor) -> Result<Header, DnsError> {
    parse_with(msg, visitor, &mut NameBuffers::default())
}

/// Two name buffers [`parse_with`] reads into: a caller that parses many messages keeps one
/// and spares zeroing 2 KiB per message.
#[derive(Clone, Default)]
pub struct NameBuffers {
    name: Name,
    target: Name,
}

/// [`parse`] with caller-owned name buffers.
pub fn parse_with(
    msg: &[u8],
    visitor: &mut impl Visitor,
    buffers: &mut NameBuffers,
) -> Result<Header, DnsError> {
    let header = read_header(msg)?;
    let NameBuffers { name, target } = buffers;
    let mut pos = HEADER_LEN;
    for _ in 0..(header.qdcount as usize).min(MAX_RECORDS) {
        pos = match read_name(msg, pos, name) {
            Ok(next) => next,
            Err(e) => {
                // What was read before the damage is logged (flagged), as tshark shows it;
                // it is not a whole name, so it is never matched.
                if !name.as_bytes().is_empty() {
                    name.truncated = true;
                    visitor.question(name, 0);
                }
                return Err(e);
            }
        };
        let fixed = msg.get(pos..pos + 4).ok_or(DnsError::Truncated)?;
        visitor.question(name, be16(fixed, 0));
        pos += 4;
    }
    for _ in 0..(header.ancount as usize).min(MAX_RECORDS) {
        pos = read_name(msg, pos, name)?;
        let fixed = msg.get(pos..pos + 10).ok_or(DnsError::Truncated)?;
        let (rtype, ttl, rdlen) = (be16(fixed, 0), be32(fixed, 4), be16(fixed, 8) as usize);
        let start = pos + 10;
        let rdata = msg.get(start..start + rdlen).ok_or(DnsError::Truncated)?;
        match rtype {
            rrtype::A if rdlen == 4 => {
                let a = Ipv4Addr::new(rdata[0], rdata[1], rdata[2], rdata[3]);
                visitor.answer(name, rtype, ttl, RData::Addr(a.into()));
            }
            rrtype::AAAA if rdlen == 16 => {
                let mut b = [0u8; 16];
                b.copy_from_slice(rdata);
                visitor.answer(name, rtype, ttl, RData::Addr(Ipv6Addr::from(b).into()));
            }
            rrtype::CNAME | rrtype::DNAME | rrtype::NS | rrtype::PTR => {
                match read_name(msg, start, target) {
                    Ok(_) => visitor.answer(name, rtype, ttl, RData::Name(target)),
                    Err(_) => visitor.answer(name, rtype, ttl, RData::Other),
                }
            }
            _ => visitor.answer(name, rtype, ttl, RData::Other),
        }
        pos = start + rdlen;
    }
    Ok(header)
}

/// Read the fixed header.
pub fn read_header(msg: &[u8]) -> Result<Header, DnsError> {
    if msg.len() < HEADER_LEN {
        return Err(DnsError::ShortHeader);
    }
    Ok(Header {
        id: be16(msg, 0),
        flags: be16(msg, 2),
        qdcount: be16(msg, 4),
        ancount: be16(msg, 6),
    })
}

/// Read the name at `pos` into `out`; returns the position after the name *in place* (after
/// the first pointer, if any).
///
/// Labels stored one after another (all of a query's name, the part of an answer's name
/// before its pointer) are found by their length bytes and copied in one piece, each length
/// byte after the first then overwritten with a dot: one copy per run instead of two per
/// label. What a damaged name leaves in `out` is what copying labels one by one left: every
/// whole label before the damage, cut at [`MAX_NAME_LEN`] like any name (a unit test
/// compares the two readings).
pub fn read_name(msg: &[u8], mut pos: usize, out: &mut Name) -> Result<usize, DnsError> {
    out.clear();
    let mut end_in_place = None;
    let (mut hops, mut labels) = (0, 0);
    loop {
        let run = pos;
        let mut damage = None;
        let mut len = 0;
        while damage.is_none() {
            len = match msg.get(pos) {
                Some(&len) => len as usize,
                None => {
                    damage = Some(DnsError::Truncated);
                    break;
                }
            };
            if len == 0 || len & 0xC0 != 0 {
                break;
            }
            labels += 1;
            if labels > MAX_LABELS {
                damage = Some(DnsError::TooManyLabels);
            } else if pos + 1 + len > msg.len() {
                damage = Some(DnsError::Truncated);
            } else {
                pos += 1 + len;
            }
        }
        out.push_labels(msg.get(run..pos).unwrap_or_default());
        if let Some(damage) = damage {
            return Err(damage);
        }
        match len & 0xC0 {
            0x00 => return Ok(end_in_place.unwrap_or(pos + 1)),
            0xC0 => pos = follow_pointer(msg, pos, len, &mut hops, &mut end_in_place)?,
            _ => return Err(DnsError::BadName),
        }
    }
}

/// Where the compression pointer at `pos` (whose first byte is `first`) leads, counting it in
/// `hops`; the first pointer of a name also sets where the name ends in place.
#[inline]
fn follow_pointer(
    msg: &[u8],
    pos: usize,
    first: usize,
    hops: &mut usize,
    end_in_place: &mut Option<usize>,
) -> Result<usize, DnsError> {
    let high = first & 0x3F;
    let low = *msg.get(pos + 1).ok_or(DnsError::Truncated)? as usize;
    *hops += 1;
    if *hops > MAX_POINTER_HOPS {
        return Err(DnsError::TooManyPointers);
    }
    end_in_place.get_or_insert(pos + 2);
    Ok((high << 8) | low)
}

#[inline]
fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

#[inline]
fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect {
        questions: Vec<(String, u16)>,
        answers: Vec<(String, u16, String)>,
    }
    impl Visitor for Collect {
        fn question(&mut self, name: &Name, qtype: u16) {
            self.questions
                .push((String::from_utf8_lossy(name.as_bytes()).into(), qtype));
        }
        fn answer(&mut self, name: &Name, rtype: u16, _ttl: u32, rdata: RData<'_>) {
            let data = match rdata {
                RData::Addr(a) => a.to_string(),
                RData::Name(n) => String::from_utf8_lossy(n.as_bytes()).into(),
                RData::Other => String::new(),
            };
            self.answers
                .push((String::from_utf8_lossy(name.as_bytes()).into(), rtype, data));
        }
    }

    /// A response for `www.example.com` with a CNAME to `example.com` (compressed) and an A.
    /// Offsets: 12 question name, 29 qtype, 33 answer 1 (pointer to 12), 45 rdata (pointer 16)
    fn response() -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0];
        m.extend_from_slice(b"\x03www\x07example\x03com\x00"); // 12..29
        m.extend_from_slice(&[0, 1, 0, 1]);
        m.extend_from_slice(&[0xC0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 2, 0xC0, 16]); // CNAME example.com
        m.extend_from_slice(&[0xC0, 16, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 7]);
        m
    }

    #[test]
    fn reads_questions_cnames_and_addresses() {
        let mut c = Collect::default();
        let h = parse(&response(), &mut c).unwrap();
        assert!(h.is_response());
        assert_eq!(h.id, 0x1234);
        assert_eq!(c.questions, [("www.example.com".to_string(), 1)]);
        assert_eq!(
            c.answers,
            [
                ("www.example.com".to_string(), 5, "example.com".to_string()),
                ("example.com".to_string(), 1, "192.0.2.7".to_string())
            ]
        );
    }

    #[test]
    fn pointer_loops_end_and_forward_pointers_are_followed() {
        let mut m = vec![0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1]); // points at itself
        assert_eq!(
            parse(&m, &mut Collect::default()),
            Err(DnsError::TooManyPointers)
        );
        let mut m = vec![0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(&[1, b'a', 0xC0, 12, 0, 1, 0, 1]); // a label, then back to it: a loop
        let mut c = Collect::default();
        assert_eq!(parse(&m, &mut c), Err(DnsError::TooManyLabels));
        let mut m = vec![0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(&[1, b'a', 0xC0, 20, 0, 1, 0, 1, 3, b'c', b'o', b'm', 0]); // forward
        let mut c = Collect::default();
        parse(&m, &mut c).unwrap();
        assert_eq!(c.questions, [("a.com".to_string(), 1)]);
    }

    #[test]
    fn long_names_are_cut_and_flagged() {
        let mut m = vec![0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        for _ in 0..17 {
            m.push(63);
            m.extend_from_slice(&[b'x'; 63]);
        }
        m.extend_from_slice(&[0, 0, 1, 0, 1]);
        let mut name = Name::default();
        read_name(&m, 12, &mut name).unwrap();
        assert!(name.truncated);
        assert_eq!(name.as_bytes().len(), MAX_NAME_LEN);
    }

    #[test]
    fn every_prefix_of_a_message_is_safe() {
        let m = response();
        for cut in 0..m.len() {
            let mut c = Collect::default();
            let _ = parse(&m[..cut], &mut c);
        }
        assert_eq!(
            parse(&m[..5], &mut Collect::default()),
            Err(DnsError::ShortHeader)
        );
        let mut c = Collect::default();
        assert_eq!(parse(&m[..40], &mut c), Err(DnsError::Truncated));
        assert_eq!(
            c.questions.len(),
            1,
            "the question before the cut is still reported"
        );
    }

    /// The reading of names before runs of labels were copied at once: label by label.
    fn read_name_label_by_label(
        msg: &[u8],
        mut pos: usize,
        out: &mut Name,
    ) -> Result<usize, DnsError> {
        out.clear();
        let mut end_in_place = None;
        let (mut hops, mut labels) = (0, 0);
        loop {
            let len = *msg.get(pos).ok_or(DnsError::Truncated)? as usize;
            match len & 0xC0 {
                0x00 if len == 0 => return Ok(end_in_place.unwrap_or(pos + 1)),
                0x00 => {
                    labels += 1;
                    if labels > MAX_LABELS {
                        return Err(DnsError::TooManyLabels);
                    }
                    let label = msg.get(pos + 1..pos + 1 + len).ok_or(DnsError::Truncated)?;
                    if out.len > 0 {
                        out.push(b".");
                    }
                    out.push(label);
                    pos += 1 + len;
                }
                0xC0 => pos = follow_pointer(msg, pos, len, &mut hops, &mut end_in_place)?,
                _ => return Err(DnsError::BadName),
            }
        }
    }

    #[test]
    fn names_read_in_runs_read_as_label_by_label() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let (mut runs, mut by_label) = (Name::default(), Name::default());
        let mut seen: Vec<((Option<DnsError>, bool), usize)> = Vec::new();
        for _ in 0..20_000 {
            // Labels of every size (some past 63: reserved label types), pointers to anywhere
            // in the message, ends and cuts anywhere; long runs of long labels reach the
            // name's size limit and the label limit.
            let mut m = vec![0u8; HEADER_LEN];
            let long = next(4) == 0;
            while m.len() < 3000 && next(if long { 200 } else { 12 }) != 0 {
                match next(if long { 64 } else { 16 }) {
                    0 => {
                        // Most often back into the message (a loop, or a suffix already read).
                        let to = next(m.len() as u64 + 8) as u16;
                        m.extend_from_slice(&(0xC000 | to).to_be_bytes());
                    }
                    1 => m.push(next(256) as u8),
                    _ => {
                        let len = if long { 1 + next(63) } else { 1 + next(70) };
                        m.push(len as u8);
                        m.extend((0..len).map(|i| b'a' + (i % 26) as u8));
                    }
                }
            }
            m.push(0);
            if next(2) == 0 {
                m.truncate(HEADER_LEN + next(m.len() as u64 - HEADER_LEN as u64 + 1) as usize);
            }
            for start in [HEADER_LEN, next(m.len() as u64 + 2) as usize] {
                let got = read_name(&m, start, &mut runs);
                let want = read_name_label_by_label(&m, start, &mut by_label);
                assert_eq!(got, want, "message {m:?} from {start}");
                assert_eq!(runs.as_bytes(), by_label.as_bytes(), "message {m:?}");
                assert_eq!(runs.truncated, by_label.truncated, "message {m:?}");
                let outcome = (got.err(), runs.truncated);
                match seen.iter_mut().find(|(o, _)| *o == outcome) {
                    Some((_, n)) => *n += 1,
                    None => seen.push((outcome, 1)),
                }
            }
        }
        // Whole names, names cut at the size limit, and every kind of damage were compared.
        for outcome in [
            (None, false),
            (None, true),
            (Some(DnsError::Truncated), false),
            (Some(DnsError::BadName), false),
            (Some(DnsError::TooManyPointers), false),
            (Some(DnsError::TooManyLabels), true),
            (Some(DnsError::Truncated), true),
        ] {
            let times = seen
                .iter()
                .find(|(o, _)| *o == outcome)
                .map_or(0, |(_, n)| *n);
            assert!(times >= 20, "{outcome:?} {times} times: {seen:?}");
        }
    }
}
