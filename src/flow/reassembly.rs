//! TCP stream prefix reassembly, one direction at a time.
//!
//! Segments are delivered to the caller in sequence order, each byte once:
//! - in-order segments are passed through without a copy;
//! - retransmissions and overlaps deliver only bytes not delivered before (the first copy
//!   wins, as most stacks do);
//! - segments ahead of a hole are copied and held until the hole is filled; when more than
//!   [`MAX_PENDING_SEGMENTS`] or [`MAX_PENDING_BYTES`] are held, the hole is given up: the
//!   caller is told ([`Delivery::Gap`]) and delivery resumes at the first held segment;
//! - a stream seen without its SYN starts at the first segment seen (mid-stream pickup).
//!
//! The caller stops feeding a direction once nothing more can be learnt from it, which is
//! what makes this a *prefix* reassembler: memory per direction is bounded by the limits
//! above plus what the application parser buffers.

/// Most out-of-order segments held per direction.
pub const MAX_PENDING_SEGMENTS: usize = 32;
/// Most out-of-order bytes held per direction: a ClientHello or request head fits with room.
pub const MAX_PENDING_BYTES: usize = 64 * 1024;

/// What the reassembler hands to the application layer.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery<'a> {
    /// The next bytes of the stream.
    Data(&'a [u8]),
    /// Bytes are missing before what comes next.
    Gap,
}

/// Reassembly state of one direction.
#[derive(Debug, Default)]
pub struct Reassembly {
    next_seq: Option<u32>,
    pending: Vec<(u32, Vec<u8>)>,
    pending_bytes: usize,
    /// True when the direction was picked up without its SYN.
    pub midstream: bool,
    /// Holes given up.
    pub gaps: u32,
}

#[inline]
fn seq_diff(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b) as i32
}

impl Reassembly {
    /// True when a segment fed now would start the direction mid-stream (no SYN seen).
    pub fn picks_up_midstream(&self, syn: bool) -> bool {
        self.midstream || (self.next_seq.is_none() && !syn)
    }

    /// Feed one segment. `syn` marks a SYN (its sequence number is the ISN).
    pub fn segment(
        &mut self,
        seq: u32,
        syn: bool,
        payload: &[u8],
        mut deliver: impl FnMut(Delivery<'_>),
    ) {
        let data_seq = if syn { seq.wrapping_add(1) } else { seq };
        if syn && self.next_seq.is_none() {
            self.next_seq = Some(data_seq);
        }
        if payload.is_empty() {
            return;
        }
        let next = *self.next_seq.get_or_insert_with(|| {
            self.midstream = true;
            data_seq
        });
        let ahead = seq_diff(data_seq, next);
        if ahead > 0 {
            if self.pending.len() >= MAX_PENDING_SEGMENTS
                || self.pending_bytes + payload.len() > MAX_PENDING_BYTES
            {
                if self.pending.is_empty() {
                    // Nothing held can fill the hole (this one segment is larger than the
                    // limit): give the hole up and resume at this segment.
                    self.gaps += 1;
                    deliver(Delivery::Gap);
                    self.next_seq = Some(data_seq);
                } else {
                    self.give_up_hole(&mut deliver);
                }
                // Now next_seq is at or past the lowest held segment: no recursion loop.
                self.segment(data_seq, false, payload, deliver);
                return;
            }
            self.pending_bytes += payload.len();
            self.pending.push((data_seq, payload.to_vec()));
            return;
        }
        let skip = ahead.unsigned_abs() as usize;
        if skip < payload.len() {
            deliver(Delivery::Data(&payload[skip..]));
            self.next_seq = Some(next.wrapping_add((payload.len() - skip) as u32));
        }
        self.drain(&mut deliver);
    }

    /// Deliver held segments that have become contiguous.
    fn drain(&mut self, deliver: &mut impl FnMut(Delivery<'_>)) {
        while let Some(next) = self.next_seq {
            let Some(i) = self
                .pending
                .iter()
                .position(|(s, _)| seq_diff(*s, next) <= 0)
            else {
                return;
            };
            let (seq, data) = self.pending.swap_remove(i);
            self.pending_bytes -= data.len();
            let skip = seq_diff(next, seq) as usize;
            if skip < data.len() {
                deliver(Delivery::Data(&data[skip..]));
                self.next_seq = Some(next.wrapping_add((data.len() - skip) as u32));
            }
        }
    }

    /// Stop waiting for the current hole: resume at the lowest held segment.
    fn give_up_hole(&mut self, deliver: &mut impl FnMut(Delivery<'_>)) {
        let Some(next) = self.next_seq else { return };
        let Some(lowest) = self
            .pending
            .iter()
            .map(|(s, _)| *s)
            .min_by_key(|s| seq_diff(*s, next))
        else {
            return;
        };
        self.gaps += 1;
        deliver(Delivery::Gap);
        self.next_seq = Some(lowest);
        self.drain(deliver);
    }

    /// Drop held segments (the caller has no more use for this direction).
    pub fn release(&mut self) {
        self.pending = Vec::new();
        self.pending_bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(r: &mut Reassembly, segs: &[(u32, bool, &[u8])]) -> (Vec<u8>, usize) {
        let mut out = Vec::new();
        let mut gaps = 0;
        for (seq, syn, data) in segs {
            r.segment(*seq, *syn, data, |d| match d {
                Delivery::Data(b) => out.extend_from_slice(b),
                Delivery::Gap => gaps += 1,
            });
        }
        (out, gaps)
    }

    #[test]
    fn out_of_order_and_retransmitted_segments() {
        let mut r = Reassembly::default();
        let (out, gaps) = run(
            &mut r,
            &[
                (99, true, b""),
                (106, false, b"world"),
                (100, false, b"hello "),
                (100, false, b"HELLO "),
                (108, false, b"RLD!"),
            ],
        );
        assert_eq!(out, b"hello world!");
        assert_eq!(gaps, 0);
        assert!(!r.midstream);
    }

    #[test]
    fn first_copy_wins_on_overlap() {
        let mut r = Reassembly::default();
        let (out, _) = run(
            &mut r,
            &[(0, true, b""), (1, false, b"abc"), (2, false, b"XYZd")],
        );
        assert_eq!(out, b"abcZd");
    }

    #[test]
    fn sequence_wraparound() {
        let mut r = Reassembly::default();
        let (out, _) = run(
            &mut r,
            &[
                (u32::MAX - 1, true, b""),
                (u32::MAX, false, b"ab"),
                (1, false, b"cd"),
            ],
        );
        assert_eq!(out, b"abcd");
    }

    #[test]
    fn a_hole_that_never_fills_is_given_up() {
        let mut r = Reassembly::default();
        let mut segs: Vec<(u32, bool, &[u8])> = vec![(0, true, b"")];
        for i in 0..=MAX_PENDING_SEGMENTS as u32 {
            segs.push((11 + i * 4, false, b"data"));
        }
        let (out, gaps) = run(&mut r, &segs);
        assert_eq!(gaps, 1);
        assert_eq!(out.len(), (MAX_PENDING_SEGMENTS + 1) * 4);
        assert!(r.pending.is_empty());
    }

    #[test]
    fn a_segment_half_the_sequence_space_away_is_not_an_overflow() {
        // Found by the tcp_stream fuzz target: 2^31 bytes behind is i32::MIN.
        let mut r = Reassembly::default();
        let (out, _) = run(
            &mut r,
            &[
                (0, true, b""),
                (1, false, b"ab"),
                (3u32.wrapping_add(1 << 31), false, b"cd"),
            ],
        );
        assert_eq!(out, b"ab");
    }

    #[test]
    fn a_segment_larger_than_the_hold_limit_ahead_of_a_hole() {
        // Found while writing the fuzz harness: a 70 kB segment (IPv6 jumbogram / TSO, length
        // field 0) after a hole made segment() call itself forever.
        let mut r = Reassembly::default();
        let big = vec![b'x'; MAX_PENDING_BYTES + 1];
        let (out, gaps) = run(&mut r, &[(0, true, b""), (100, false, &big[..])]);
        assert_eq!(gaps, 1);
        assert_eq!(out.len(), big.len());
    }

    #[test]
    fn midstream_pickup() {
        let mut r = Reassembly::default();
        let (out, _) = run(
            &mut r,
            &[(5000, false, b"GET / "), (5006, false, b"HTTP/1.1")],
        );
        assert_eq!(out, b"GET / HTTP/1.1");
        assert!(r.midstream);
    }
}
