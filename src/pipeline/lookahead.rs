//! Packets held back a few places before their inspection, so that the memory their
//! inspection reads is asked for while the packets before them are inspected.
//!
//! On traffic that opens flows faster than they end (a DNS flood, a scan, many short
//! connections) the flow table holds far more flows than the cache, and each packet waits
//! for memory: for the flow table's index line, then for the flow it names, and for a new
//! flow the indicator filter lines of its two addresses. Each packet read for replay is
//! decoded at once and its flow key hashed, and the index line is asked for then
//! ([`Inspector::flow_ahead`]); [`DEPTH`]` / 2` packets later, when that line has come in,
//! the flow itself is asked for, or, when the index holds no such flow, its addresses' filter
//! lines ([`Inspector::prefetch_flow`]); [`STATE_BACK`] packets after it was held, when the
//! flow has come in, the TCP state that the flow names, or that a new connection will take
//! ([`Inspector::prefetch_tcp_state`]: a short connection's packets come thousands of packets
//! apart, so its state is as cold as its flow); the packet is inspected [`DEPTH`] packets
//! later.
//! Packets leave in the order they came, so flows see their packets in order and the output
//! is the same as without holding back.
//!
//! Holding back costs writing each packet's decoding into its slot and a second probe of the
//! index, which buy nothing when the flows fit in the cache: on the realistic mix, whose
//! 36 000 flows are mostly long transfers, holding back every packet was 12 % slower. [`Churn`]
//! turns it on only while at least one packet in [`CHURN`] opens a flow (the flood opens one
//! per 3 packets, the mix one per 40). Replay only: packets must stay where they are while
//! held, which mapped and loaded files guarantee and a stream's reused buffer does not.
//! Measured in docs/performance.md.

use super::split::Handling;
use crate::decode;
#[cfg(doc)]
use crate::inspect::Inspector;
use crate::inspect::{FlowAhead, PacketRef};

/// Packets held back.
pub const DEPTH: usize = 8;
/// Packets after a packet is held that its TCP state is asked for: [`DEPTH`]` / 4` after its
/// flow (which names the state), and as many again before the packet is inspected.
const STATE_BACK: usize = DEPTH * 3 / 4;

/// What to ask for ahead of a held packet's inspection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    /// Its flow (the index line it needs was asked for when the packet was held).
    Flow,
    /// The TCP state its flow names, or that a new connection will take.
    TcpState,
}
/// Packets between two looks at how fast flows are opened.
const WINDOW: u64 = 4096;
/// Holding back is on while at least one packet in this many opened a flow in the last
/// window: the flood opens one per 3 packets, the realistic mix one per 40.
const CHURN: u64 = 16;

/// A packet held back.
pub struct Held<'a> {
    /// The packet.
    pub p: PacketRef<'a>,
    /// The packet decoded.
    pub decoded: Result<decode::Packet<'a>, decode::Skip>,
    /// As its walker said when handed over ([`super::split`]), or as its endpoints said
    /// (`super::replay`); `None` when not known before it is decoded.
    pub handling: Option<Handling>,
    /// Its flow, found ahead, when it is to be inspected.
    pub flow: Option<FlowAhead>,
}

/// Whether holding back is on: looked at every [`WINDOW`] packets from the flows the
/// inspector opened. One per worker, kept across files.
#[derive(Default)]
pub struct Churn {
    on: bool,
    packets: u64,
    flows_at_window: u64,
}

impl Churn {
    /// True while packets are to be held back.
    #[inline]
    pub fn on(&self) -> bool {
        self.on
    }

    /// Count a packet (`flows`: the flows the inspector has opened so far); every [`WINDOW`]
    /// packets, look again at how fast flows are opened. True when holding back has just been
    /// turned off (what is held must then go).
    #[inline]
    pub fn count(&mut self, flows: impl FnOnce() -> u64) -> bool {
        self.packets += 1;
        if !self.packets.is_multiple_of(WINDOW) {
            return false;
        }
        let flows = flows();
        let opened = flows - self.flows_at_window;
        self.flows_at_window = flows;
        let was = self.on;
        self.on = opened * CHURN >= WINDOW;
        was && !self.on
    }
}

/// Slots of the ring: at least the packets held and the one that came out last, which the
/// caller reads where it lies; a power of two, so that positions wrap with a mask. A packet
/// is written once, into its slot, and never copied out.
const SLOTS: usize = (DEPTH + 1).next_power_of_two();

impl Held<'_> {
    /// A slot not holding a packet.
    const VACANT: Held<'static> = Held {
        p: PacketRef {
            ts_us: 0,
            linktype: 0,
            data: &[],
            file: None,
        },
        decoded: Err(decode::Skip::NotIp),
        handling: None,
        flow: None,
    };
}

/// Up to [`DEPTH`] packets held back, oldest first. Local to one file or chunk: the packets
/// borrow its bytes.
pub struct Lookahead<'a> {
    ring: [Held<'a>; SLOTS],
    /// Position of the oldest packet held.
    first: usize,
    held: usize,
}

impl Default for Lookahead<'_> {
    fn default() -> Self {
        Lookahead {
            ring: [Held::VACANT; SLOTS],
            first: 0,
            held: 0,
        }
    }
}

impl<'a> Lookahead<'a> {
    /// True when no packet is held.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.held == 0
    }

    /// The slot the next packet is to be written to, in place, before [`Self::push`].
    #[inline(always)]
    pub fn vacant(&mut self) -> &mut Held<'a> {
        &mut self.ring[(self.first + self.held) % SLOTS]
    }

    /// Hold back the packet written to [`Self::vacant`]: `ask` is called for the packet
    /// [`DEPTH`]` / 2` places before it with [`Ask::Flow`] and for the one [`STATE_BACK`]
    /// places before it with [`Ask::TcpState`], and the oldest packet comes out (to be
    /// inspected now, where it lies, before the slot is written again) once [`DEPTH`] are
    /// held.
    #[inline]
    pub fn push(&mut self, mut ask: impl FnMut(Ask, &Held<'a>)) -> Option<&Held<'a>> {
        self.held += 1;
        if let Some(packet) = self.back(DEPTH / 2) {
            ask(Ask::Flow, packet);
        }
        if let Some(packet) = self.back(STATE_BACK) {
            ask(Ask::TcpState, packet);
        }
        if self.held <= DEPTH {
            return None;
        }
        self.pop()
    }

    /// The packet held `back` places before the newest, if any.
    #[inline(always)]
    fn back(&self, back: usize) -> Option<&Held<'a>> {
        let at = self.held.checked_sub(1 + back)?;
        Some(&self.ring[(self.first + at) % SLOTS])
    }

    /// The oldest packet held, taken out (read it where it lies, before the next packet is
    /// written).
    #[inline]
    pub fn pop(&mut self) -> Option<&Held<'a>> {
        if self.held == 0 {
            return None;
        }
        let out = self.first;
        self.first = (self.first + 1) % SLOTS;
        self.held -= 1;
        Some(&self.ring[out])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A held packet told apart by its time.
    fn packet(ts_us: i64) -> Held<'static> {
        Held {
            p: PacketRef {
                ts_us,
                linktype: 1,
                data: &[],
                file: None,
            },
            decoded: Err(decode::Skip::NotIp),
            handling: None,
            flow: None,
        }
    }

    #[test]
    fn packets_come_out_in_the_order_they_went_in_after_depth_more() {
        let mut held = Lookahead::default();
        let mut out = Vec::new();
        for ts in 0..100 {
            *held.vacant() = packet(ts);
            let mut asked = Vec::new();
            if let Some(now) = held.push(|ask, packet| asked.push((ask, packet.p.ts_us))) {
                out.push(now.p.ts_us);
            }
            assert_eq!(out.len() as i64, (ts + 1 - DEPTH as i64).max(0), "at {ts}");
            // Each packet's flow is asked for, then its state, before it comes out.
            let mut expected = Vec::new();
            for (ask, back) in [(Ask::Flow, DEPTH / 2), (Ask::TcpState, STATE_BACK)] {
                if ts >= back as i64 {
                    expected.push((ask, ts - back as i64));
                }
            }
            assert_eq!(asked, expected, "at {ts}");
        }
        assert!(!held.is_empty());
        while let Some(now) = held.pop() {
            out.push(now.p.ts_us);
        }
        assert!(held.is_empty());
        assert_eq!(out, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn holding_back_follows_how_fast_flows_are_opened() {
        let mut churn = Churn::default();
        let mut flows = 0;
        // One flow per 4 packets: on at the end of the first window.
        for n in 1..=WINDOW {
            flows += u64::from(n % 4 == 0);
            assert!(!churn.count(|| flows));
            assert_eq!(churn.on(), n == WINDOW);
        }
        // One per 32: off at the end of the next, and the caller is told once.
        let mut turned_off = 0;
        for n in 1..=2 * WINDOW {
            flows += u64::from(n % 32 == 0);
            turned_off += u32::from(churn.count(|| flows));
        }
        assert!(!churn.on());
        assert_eq!(turned_off, 1);
    }
}
