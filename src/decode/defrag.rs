//! IPv4 and IPv6 fragment reassembly, done before a flow table sees the packet: by the capture
//! thread before dispatch (a fragment without ports cannot be sent to its flow's worker until
//! it is whole), by the only worker of a run, or by each worker of a file replay.
//!
//! Policy and limits, each counted when it applies ([`DefragStats`]):
//! - overlapping or duplicate fragments: the *first* copy of a byte wins, as most stacks do
//!   (later copies cannot rewrite what was already seen);
//! - at most [`MAX_PENDING`] datagrams and [`MAX_PENDING_BYTES`] bytes in progress: past
//!   that, new datagrams are refused;
//! - at most [`MAX_FRAGMENTS`] fragments per datagram and 65 535 bytes per datagram;
//! - a datagram not completed within [`TIMEOUT_US`] of packet time (or by the end of input)
//!   is given up; if its first fragment arrived, the bytes up to the first hole are still
//!   inspected as a packet, so a C2 address or a name in the first fragment is not missed.
//!
//! Why not etherparse's `IpDefragPool`: it lets later fragments overwrite earlier bytes (the
//! overlap evasion stacks defend against), holds any number of datagrams, and takes strict
//! slices that reject snap-length-truncated frames.
//!
//! A reassembled datagram is handed out as a fresh IP packet (a minimal IPv4 or IPv6 header
//! and the payload); the VLAN ids and tunnel of its fragments are not kept.

use std::net::IpAddr;

use etherparse::LaxIpSlice;
use hashbrown::HashMap;

/// Most datagrams being reassembled at once.
pub const MAX_PENDING: usize = 4096;
/// Most bytes held for datagrams being reassembled.
pub const MAX_PENDING_BYTES: usize = 32 * 1024 * 1024;
/// Most fragments per datagram (a 64 KiB datagram in 1280-byte IPv6 fragments needs 52).
pub const MAX_FRAGMENTS: u16 = 128;
/// Time a datagram may take to complete (Linux `ipfrag_time` is 30 s).
pub const TIMEOUT_US: i64 = 30 * 1_000_000;

/// One fragment, as decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fragment<'a> {
    /// Identification (16 bits in IPv4, 32 in IPv6).
    pub id: u32,
    /// Offset of this fragment's payload in the datagram, in bytes.
    pub offset: u16,
    /// More fragments follow.
    pub more: bool,
    /// The fragment's payload.
    pub payload: &'a [u8],
}

impl<'a> Fragment<'a> {
    /// The fragment fields of a fragmented IP packet.
    pub fn of(ip: &LaxIpSlice<'a>) -> Option<Fragment<'a>> {
        let payload = ip.payload().payload;
        match ip {
            LaxIpSlice::Ipv4(v4) => {
                let h = v4.header();
                Some(Fragment {
                    id: u32::from(h.identification()),
                    offset: h.fragments_offset().byte_offset(),
                    more: h.more_fragments(),
                    payload,
                })
            }
            LaxIpSlice::Ipv6(v6) => v6
                .extensions()
                .clone()
                .into_iter()
                .find_map(|ext| match ext {
                    etherparse::Ipv6ExtensionSlice::Fragment(f) => Some(Fragment {
                        id: f.identification(),
                        offset: f.fragment_offset().byte_offset(),
                        more: f.more_fragments(),
                        payload,
                    }),
                    _ => None,
                }),
        }
    }
}

/// What reassembly did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DefragStats {
    /// Fragments seen.
    pub fragments: u64,
    /// Datagrams completed.
    pub reassembled: u64,
    /// Fragments whose bytes overlapped bytes already held (first copy kept).
    pub overlaps: u64,
    /// Datagrams given up unfinished (after [`TIMEOUT_US`], or at the end of input); their
    /// first bytes, when they arrived, are still inspected.
    pub timed_out: u64,
    /// Fragments refused: too many datagrams or bytes pending.
    pub refused_full: u64,
    /// Fragments refused: beyond 65 535 bytes, too many fragments, or a second different end.
    pub invalid: u64,
}

impl DefragStats {
    /// Add another reassembler's counters.
    pub fn merge(&mut self, o: &DefragStats) {
        self.fragments += o.fragments;
        self.reassembled += o.reassembled;
        self.overlaps += o.overlaps;
        self.timed_out += o.timed_out;
        self.refused_full += o.refused_full;
        self.invalid += o.invalid;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    src: IpAddr,
    dst: IpAddr,
    id: u32,
    proto: u8,
}

#[derive(Debug)]
struct Datagram {
    data: Vec<u8>,
    /// Byte ranges held, sorted and disjoint.
    ranges: Vec<(u32, u32)>,
    end: Option<u32>,
    first_ts_us: i64,
    fragments: u16,
    /// Datagrams begun before this one: those given up together go out in this order, the
    /// order of their first fragments, whatever the table's per-process hash order.
    arrival: u64,
}

/// Reassembles fragments into datagrams, within the limits above.
#[derive(Debug, Default)]
pub struct Defragmenter {
    pending: HashMap<Key, Datagram, foldhash::fast::RandomState>,
    /// Datagrams begun so far.
    begun: u64,
    bytes: usize,
    next_sweep_us: i64,
    out: Vec<u8>,
    /// Partial datagrams given up by the last sweep inside [`Defragmenter::add`], for the
    /// caller to take with [`Defragmenter::take_expired`].
    expired_partial: Vec<(i64, Vec<u8>)>,
    /// Counters.
    pub stats: DefragStats,
}

impl Defragmenter {
    /// Add a fragment of the datagram `src` → `dst` carrying `proto`. When it completes the
    /// datagram, returns the whole IP packet (valid until the next call).
    pub fn add(
        &mut self,
        ts_us: i64,
        src: IpAddr,
        dst: IpAddr,
        proto: u8,
        frag: &Fragment<'_>,
    ) -> Option<&[u8]> {
        self.stats.fragments += 1;
        if ts_us >= self.next_sweep_us {
            self.next_sweep_us = ts_us.saturating_add(TIMEOUT_US / 10);
            self.expired_partial.clear();
            let mut parts = std::mem::take(&mut self.expired_partial);
            self.expire(ts_us, |ts, bytes| parts.push((ts, bytes.to_vec())));
            self.expired_partial = parts;
        }
        let start = u32::from(frag.offset);
        let end = start + frag.payload.len() as u32;
        if end > 65_535 {
            self.stats.invalid += 1;
            return None;
        }
        let key = Key {
            src,
            dst,
            id: frag.id,
            proto,
        };
        if !self.pending.contains_key(&key)
            && (self.pending.len() >= MAX_PENDING || self.bytes + end as usize > MAX_PENDING_BYTES)
        {
            self.stats.refused_full += 1;
            return None;
        }
        let begun = &mut self.begun;
        let d = self.pending.entry(key).or_insert_with(|| {
            *begun += 1;
            Datagram {
                data: Vec::new(),
                ranges: Vec::new(),
                end: None,
                first_ts_us: ts_us,
                fragments: 0,
                arrival: *begun,
            }
        });
        d.fragments += 1;
        let conflicting_end = match d.end {
            Some(e) => end > e || (!frag.more && end != e),
            None => !frag.more && d.ranges.last().is_some_and(|r| r.1 > end),
        };
        if d.fragments > MAX_FRAGMENTS || conflicting_end {
            self.stats.invalid += 1;
            return None;
        }
        if !frag.more {
            d.end = Some(end);
        }
        if d.data.len() < end as usize {
            self.bytes += end as usize - d.data.len();
            d.data.resize(end as usize, 0);
        }
        // Copy only the bytes no earlier fragment gave: the first copy wins.
        let mut cursor = start;
        let mut overlapped = false;
        for &(rs, re) in d.ranges.iter() {
            if re <= cursor || rs >= end {
                continue;
            }
            overlapped = true;
            if rs > cursor {
                d.data[cursor as usize..rs as usize].copy_from_slice(
                    &frag.payload[(cursor - start) as usize..(rs - start) as usize],
                );
            }
            cursor = cursor.max(re);
        }
        if cursor < end {
            d.data[cursor as usize..end as usize]
                .copy_from_slice(&frag.payload[(cursor - start) as usize..]);
        }
        if overlapped {
            self.stats.overlaps += 1;
        }
        merge_range(&mut d.ranges, (start, end));
        let complete = d
            .end
            .is_some_and(|e| d.ranges.len() == 1 && d.ranges[0] == (0, e));
        if !complete {
            return None;
        }
        let d = self.pending.remove(&key)?;
        self.bytes -= d.data.len();
        self.stats.reassembled += 1;
        write_packet(&mut self.out, src, dst, proto, &d.data);
        Some(&self.out)
    }

    /// Give up datagrams older than [`TIMEOUT_US`] at `now_us`. Each one whose first bytes
    /// arrived is handed to `on_partial` as a packet of those bytes (with its first time), so
    /// its flow is still seen: its addresses, ports and whatever its payload starts with.
    pub fn expire(&mut self, now_us: i64, mut on_partial: impl FnMut(i64, &[u8])) {
        self.next_sweep_us = now_us.saturating_add(TIMEOUT_US / 10);
        self.give_up_where(
            |d| now_us.saturating_sub(d.first_ts_us) > TIMEOUT_US,
            &mut on_partial,
        );
    }

    /// End of input: give up every datagram still in progress (see [`Defragmenter::expire`]).
    pub fn drain(&mut self, mut on_partial: impl FnMut(i64, &[u8])) {
        self.give_up_where(|_| true, &mut on_partial);
    }

    /// Give up the datagrams for which `expired` holds, in the order they were begun: the
    /// partial datagrams then reach the flow table in the same order in every run (in hash
    /// order, two runs of one capture could end its flows differently).
    fn give_up_where(
        &mut self,
        expired: impl Fn(&Datagram) -> bool,
        on_partial: &mut impl FnMut(i64, &[u8]),
    ) {
        let mut keys: Vec<(u64, Key)> = self
            .pending
            .iter()
            .filter(|(_, d)| expired(d))
            .map(|(k, d)| (d.arrival, *k))
            .collect();
        keys.sort_unstable_by_key(|&(arrival, _)| arrival);
        for (_, key) in keys {
            self.give_up(key, on_partial);
        }
    }

    fn give_up(&mut self, key: Key, on_partial: &mut impl FnMut(i64, &[u8])) {
        let Some(d) = self.pending.remove(&key) else {
            return;
        };
        self.bytes -= d.data.len();
        self.stats.timed_out += 1;
        if let Some(&(0, end)) = d.ranges.first() {
            write_packet(
                &mut self.out,
                key.src,
                key.dst,
                key.proto,
                &d.data[..end as usize],
            );
            on_partial(d.first_ts_us, &self.out);
        }
    }

    /// Add a fragment, and take the datagrams now ready to inspect as raw IP packets: partial
    /// ones that timed out (their first bytes are still worth inspecting), then the fragment's
    /// own datagram if it is now whole.
    pub fn add_and_take_ready(
        &mut self,
        ts_us: i64,
        src: IpAddr,
        dst: IpAddr,
        proto: u8,
        frag: &Fragment<'_>,
    ) -> Vec<(i64, Vec<u8>)> {
        let whole = self.add(ts_us, src, dst, proto, frag).map(<[u8]>::to_vec);
        let mut ready = self.take_expired();
        ready.extend(whole.map(|bytes| (ts_us, bytes)));
        ready
    }

    /// Partial datagrams given up while adding fragments (see [`Defragmenter::expire`]).
    pub fn take_expired(&mut self) -> Vec<(i64, Vec<u8>)> {
        std::mem::take(&mut self.expired_partial)
    }

    /// Datagrams in progress.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

fn merge_range(ranges: &mut Vec<(u32, u32)>, (mut s, mut e): (u32, u32)) {
    ranges.retain(|&(rs, re)| {
        if re < s || rs > e {
            true
        } else {
            s = s.min(rs);
            e = e.max(re);
            false
        }
    });
    let at = ranges.partition_point(|r| r.0 < s);
    ranges.insert(at, (s, e));
}

/// A minimal IP header for `payload` (no options, no extension headers).
fn write_packet(out: &mut Vec<u8>, src: IpAddr, dst: IpAddr, proto: u8, payload: &[u8]) {
    out.clear();
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let total = (20 + payload.len()).min(65_535) as u16;
            out.extend_from_slice(&[0x45, 0]);
            out.extend_from_slice(&total.to_be_bytes());
            out.extend_from_slice(&[0, 0, 0, 0, 64, proto, 0, 0]);
            out.extend_from_slice(&s.octets());
            out.extend_from_slice(&d.octets());
        }
        _ => {
            let to16 = |a: IpAddr| match a {
                IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
                IpAddr::V6(v6) => v6.octets(),
            };
            out.extend_from_slice(&[0x60, 0, 0, 0]);
            out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
            out.extend_from_slice(&[proto, 64]);
            out.extend_from_slice(&to16(src));
            out.extend_from_slice(&to16(dst));
        }
    }
    out.extend_from_slice(payload);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frag(offset: u16, more: bool, payload: &[u8]) -> Fragment<'_> {
        Fragment {
            id: 7,
            offset,
            more,
            payload,
        }
    }

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn datagrams_given_up_together_go_out_in_the_order_they_began() {
        // Each reassembler hashes with its own random seed: the order must not follow it.
        for _ in 0..4 {
            let mut d = Defragmenter::default();
            for n in 0..40u8 {
                let payload = [n; 8];
                let first = Fragment {
                    id: 1000 - u32::from(n),
                    ..frag(0, true, &payload)
                };
                d.add(i64::from(n), A, B, 17, &first);
            }
            let mut given_up = Vec::new();
            d.expire(20 + TIMEOUT_US, |_, packet| given_up.push(packet[20]));
            assert_eq!(given_up, (0..20).collect::<Vec<u8>>(), "expired, in order");
            d.drain(|_, packet| given_up.push(packet[20]));
            assert_eq!(
                given_up,
                (0..40).collect::<Vec<u8>>(),
                "then the rest, in order"
            );
        }
    }

    #[test]
    fn out_of_order_fragments_reassemble() {
        let mut d = Defragmenter::default();
        assert!(d.add(1, A, B, 17, &frag(8, false, b"world")).is_none());
        let out = d
            .add(2, A, B, 17, &frag(0, true, b"hello, w"))
            .unwrap()
            .to_vec();
        assert_eq!(&out[20..], b"hello, wworld");
        let (ip, _) = LaxIpSlice::from_slice(&out).unwrap();
        assert_eq!(ip.payload().ip_number.0, 17);
        assert!(!ip.payload().fragmented);
        assert_eq!(d.pending(), 0);
        assert_eq!(d.stats.reassembled, 1);
    }

    #[test]
    fn overlapping_bytes_keep_the_first_copy() {
        let mut d = Defragmenter::default();
        d.add(1, A, B, 6, &frag(0, true, b"AAAAAAAA"));
        d.add(1, A, B, 6, &frag(0, true, b"XXXXXXXXYYYYYYYY")); // rewrites 0..8, adds 8..16
        let out = d
            .add(1, A, B, 6, &frag(16, false, b"end"))
            .unwrap()
            .to_vec();
        assert_eq!(&out[20..], b"AAAAAAAAYYYYYYYYend");
        assert_eq!(d.stats.overlaps, 1);
    }

    #[test]
    fn never_completed_datagrams_time_out_and_limits_hold() {
        let mut d = Defragmenter::default();
        d.add(0, A, B, 17, &frag(0, true, &[7; 8]));
        d.add(TIMEOUT_US + 10, A, B, 17, &frag(1000, true, &[0; 8]));
        assert_eq!(d.stats.timed_out, 1);
        let expired = d.take_expired();
        assert_eq!(expired.len(), 1, "the first fragment is still handed out");
        assert_eq!(&expired[0].1[20..], &[7; 8]);
        let mut drained = 0;
        d.drain(|_, _| drained += 1);
        assert_eq!(
            drained, 0,
            "a datagram without its first fragment gives nothing"
        );
        assert!(d.add(0, A, B, 17, &frag(65_530, false, &[0; 16])).is_none());
        assert_eq!(d.stats.invalid, 1);
        let mut d = Defragmenter::default();
        for id in 0..(MAX_PENDING as u32 + 10) {
            d.add(
                0,
                A,
                B,
                17,
                &Fragment {
                    id,
                    offset: 8,
                    more: true,
                    payload: &[0; 8],
                },
            );
        }
        assert_eq!(d.pending(), MAX_PENDING);
        assert_eq!(d.stats.refused_full, 10);
    }

    #[test]
    fn tiny_and_conflicting_fragments() {
        let mut d = Defragmenter::default();
        d.add(0, A, B, 6, &frag(16, false, &[2, 3]));
        assert!(
            d.add(0, A, B, 6, &frag(16, false, &[2, 3, 4])).is_none(),
            "a second, different end"
        );
        assert_eq!(d.stats.invalid, 1);
        // A one-byte first fragment (tiny-fragment evasion) still reassembles.
        d.add(0, A, B, 6, &frag(0, true, &[1]));
        let out = d
            .add(0, A, B, 6, &frag(1, true, &[9; 15]))
            .expect("0..1, 1..16 and 16..18 make the datagram")
            .to_vec();
        assert_eq!(out[20], 1);
        assert_eq!(&out[21..36], &[9; 15]);
        assert_eq!(&out[36..], &[2, 3]);
        assert_eq!(d.pending(), 0);
    }
}
