//! Flows: the per-worker flow table, TCP stream prefix reassembly and the application layer
//! of each direction.
//!
//! A worker owns its [`FlowTable`]; nothing here is shared or locked. Flows are expired by
//! idle time measured in *packet* time (so a replay behaves like the live capture did), and
//! the tables together hold at most [`MAX_FLOWS`] flows: when one is full, a quarter of it is
//! ended (pending alerts written, counted as evicted) so that new flows are always inspected.
//! Which ones: those whose last packet came the longest ago, in the order the worker was
//! handed packets, not by packet time (which goes backwards when a directory's files are read
//! in name order or files are given out of date order); a replay ends the same flows every
//! time. One-packet flows of a flood go first, active flows last. They are found by two
//! passes over the flows in memory order, not by a lookup per flow: a pass streams through
//! memory, where a lookup per ended flow missed the cache (see [`FlowTable::make_room`]).
//! The flows sit densely in a slab behind a small index (see [`FlowTable`]). A TCP flow keeps
//! its reassembly state only while a direction can still tell something.

mod index;
pub mod key;
pub mod reassembly;
pub mod stream;
pub mod tcp_states;

use index::SlotIndex;
pub use key::{FlowKey, Side};
use reassembly::Reassembly;
use stream::Stream;
use tcp_states::TcpStateId;

/// Most flows tracked by all workers together by default (each worker gets its share; the
/// `--max-flows` option sets another limit): bounds memory (a flow without TCP buffers
/// takes 128 bytes in the table, about 200 with its index slots and the table's room to
/// grow; about 120 more while it alerts, reads QUIC or came through a tunnel).
pub const MAX_FLOWS: usize = 200_000;
/// Fewest flows a worker tracks, whatever the limit asked for (8 in fuzzing builds, so that
/// a fuzz input can fill a table).
#[cfg(not(fuzzing))]
pub const MIN_FLOWS_PER_WORKER: usize = 1024;
/// Fewest flows a worker tracks: 8 in fuzzing builds.
#[cfg(fuzzing)]
pub const MIN_FLOWS_PER_WORKER: usize = 8;
/// When the table is full, at least one flow in this many is made room for.
pub const EVICT_FRACTION: usize = 4;
/// How many flows ahead [`FlowTable::end_where`] asks for the index slots it will probe.
const END_AHEAD: usize = 8;
/// Idle timeout of TCP flows that have not been closed (Suricata's `tcp established` default
/// is 600 s; we keep less per flow than it does, and the same time).
pub const TCP_IDLE_US: i64 = 600 * 1_000_000;
/// Idle timeout of TCP flows after a FIN in both directions or an RST.
pub const TCP_CLOSED_US: i64 = 60 * 1_000_000;
/// Idle timeout of UDP and other flows (Suricata's `udp established` default).
pub const OTHER_IDLE_US: i64 = 300 * 1_000_000;
/// How often (in packet time) the table is swept for idle flows.
pub const SWEEP_INTERVAL_US: i64 = 10 * 1_000_000;

/// An address indicator hit waiting for the flow's application layer, so that its alert can
/// say what the flow carried.
#[derive(Debug, Clone)]
pub struct PendingAddressHit {
    /// Indicator entry.
    pub entry: u32,
    /// Which endpoint's address matched.
    pub side: Side,
    /// Packet time of the first packet of the flow.
    pub ts_us: i64,
    /// Side that sent that packet.
    pub sender: Side,
    /// VLAN ids of that packet.
    pub vlans: [u16; 2],
    /// How many of `vlans` are set.
    pub vlan_count: u8,
    /// Capture file of that packet.
    pub file: Option<std::sync::Arc<str>>,
    /// Tunnel of that packet.
    pub tunnel: Option<crate::decode::TunnelInfo>,
    /// The indicator set that matched (it may be replaced before the hit is written).
    pub set: std::sync::Arc<crate::intel::IndicatorSet>,
}

/// What few flows have, boxed on first need so that a flow holds one pointer for all of it:
/// what the flow has alerted on and the address hits waiting to be written, the outermost
/// tunnel of its first packet, and the QUIC reader of a UDP flow that looks like QUIC. Most
/// flows never alert, come through no tunnel and carry no QUIC: held in the flow itself these
/// would take about 100 bytes of every flow in the table, and boxed apart 32 (see [`Flow`]).
///
/// One alert per flow per indicator per match location, however often the name recurs.
#[derive(Debug, Default)]
pub struct FlowExtras(Option<Box<Extras>>);

#[derive(Debug, Default)]
struct Extras {
    done: Vec<(u8, u64)>,
    pending: Vec<PendingAddressHit>,
    tunnel: Option<crate::decode::TunnelInfo>,
    quic: Option<Box<QuicReading>>,
}

/// A QUIC reader and the client datagrams it was given.
#[derive(Default)]
struct QuicReading {
    hello: crate::proto::quic::QuicClientHello,
    datagrams: u8,
}

impl std::fmt::Debug for QuicReading {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "QuicReading({} datagrams)", self.datagrams)
    }
}

impl FlowExtras {
    /// The box, made on first need.
    fn boxed(&mut self) -> &mut Extras {
        self.0.get_or_insert_with(Box::default)
    }

    /// The QUIC reader is let go: so is the box, when it holds nothing else (a QUIC flow
    /// would otherwise keep an empty box of 104 bytes until it ends).
    fn end_quic(&mut self) {
        if let Some(extras) = self.0.as_mut() {
            extras.quic = None;
            let empty =
                extras.done.is_empty() && extras.pending.is_empty() && extras.tunnel.is_none();
            if empty {
                self.0 = None;
            }
        }
    }

    /// True when the flow has alerted.
    pub fn alerted(&self) -> bool {
        self.0.as_ref().is_some_and(|a| !a.done.is_empty())
    }

    /// True (and remembered) the first time this (location, indicator key) pair is seen in
    /// the flow.
    pub fn first_alert(&mut self, location: u8, key: u64) -> bool {
        let done = &mut self.boxed().done;
        if done.contains(&(location, key)) {
            return false;
        }
        done.push((location, key));
        true
    }

    /// True when address hits wait to be written.
    pub fn has_pending(&self) -> bool {
        self.0.as_ref().is_some_and(|a| !a.pending.is_empty())
    }

    /// The first address hit waiting.
    pub fn first_pending(&self) -> Option<&PendingAddressHit> {
        self.0.as_ref().and_then(|a| a.pending.first())
    }

    /// An address hit to write once the flow's application layer is known.
    pub fn push_pending(&mut self, hit: PendingAddressHit) {
        self.boxed().pending.push(hit);
    }

    /// Take the address hits waiting.
    pub fn take_pending(&mut self) -> Vec<PendingAddressHit> {
        self.0
            .as_mut()
            .map(|a| std::mem::take(&mut a.pending))
            .unwrap_or_default()
    }

    /// The outermost tunnel of the flow's first packet.
    pub fn tunnel(&self) -> Option<crate::decode::TunnelInfo> {
        self.0.as_ref().and_then(|a| a.tunnel)
    }

    /// Remember the outermost tunnel of the flow's first packet.
    pub fn set_tunnel(&mut self, tunnel: Option<crate::decode::TunnelInfo>) {
        if tunnel.is_some() {
            self.boxed().tunnel = tunnel;
        }
    }
}

/// Client datagrams of a UDP flow looked at for a QUIC ClientHello before giving up (a
/// ClientHello spans one to a few Initials; a Retry adds one round).
pub const MAX_QUIC_DATAGRAMS: u8 = 16;

/// Where a UDP flow is in reading QUIC (the reader itself is in the flow's [`FlowExtras`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QuicPhase {
    /// Nothing seen from the client yet.
    #[default]
    Untried,
    /// Reading Initials: the reader is in the flow's [`FlowExtras`] (taken out only while it
    /// reads a datagram, see [`Flow::quic_datagram`]).
    Reading,
    /// Not QUIC, or nothing more to read.
    Finished,
}

/// The application protocol a flow was recognised as, for its records' `app_proto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppLayer {
    /// DNS (over UDP or TCP).
    Dns,
    /// TLS.
    Tls,
    /// HTTP/1.x.
    Http,
    /// QUIC.
    Quic,
    /// Both directions of a TCP flow were recognised as none of the above.
    Failed,
}

impl AppLayer {
    /// The name EVE records give it (Suricata's).
    pub fn name(self) -> &'static str {
        match self {
            AppLayer::Dns => "dns",
            AppLayer::Tls => "tls",
            AppLayer::Http => "http",
            AppLayer::Quic => "quic",
            AppLayer::Failed => "failed",
        }
    }
}

/// What a TCP flow keeps while its directions can still tell something.
#[derive(Debug, Default)]
pub struct TcpState {
    /// Per side (indexed by [`Side::index`]): reassembly of what that side sends.
    pub reassembly: [Reassembly; 2],
    /// Per side: application layer of what that side sends.
    pub streams: [Stream; 2],
}

/// One flow's state: 80 bytes, so that with its key a flow fills exactly two cache lines of
/// the table (see [`FlowTable`]). What only some flows need is elsewhere: behind one pointer
/// ([`FlowExtras`]) or a 4-byte id (the TCP state, in [`tcp_states::TcpStates`]), and the
/// flow id is derived from the key when a record is written ([`FlowKey::flow_id`]).
#[derive(Debug)]
pub struct Flow {
    /// Packet time of the first packet.
    pub first_seen_us: i64,
    /// Packet time of the last packet.
    pub last_seen_us: i64,
    /// The table's packet count at the flow's last packet: the order of arrival, which
    /// eviction goes by.
    pub last_packet: u64,
    /// TCP reassembly and application state, in the worker's [`tcp_states::TcpStates`] (only
    /// TCP flows that still have something to tell need it).
    pub tcp: Option<TcpStateId>,
    /// Alerts, the first packet's tunnel, the QUIC reader: what few flows have.
    pub extras: FlowExtras,
    /// Packets per side.
    pub pkts: [u64; 2],
    /// Captured bytes per side.
    pub bytes: [u64; 2],
    /// True once both TCP directions told all they could (the state above is then freed).
    pub tcp_finished: bool,
    /// FIN seen per side.
    pub fin: [bool; 2],
    /// RST seen.
    pub rst: bool,
    /// The side that opened the flow (sent its first packet, or its SYN).
    pub initiator: Side,
    /// Application protocol recognised, for the flow record.
    pub app_proto: Option<AppLayer>,
    /// QUIC reading (UDP flows).
    pub quic: QuicPhase,
}

impl Flow {
    fn new(ts_us: i64) -> Flow {
        Flow {
            first_seen_us: ts_us,
            last_seen_us: ts_us,
            last_packet: 0,
            tcp: None,
            extras: FlowExtras::default(),
            pkts: [0; 2],
            bytes: [0; 2],
            tcp_finished: false,
            fin: [false; 2],
            rst: false,
            initiator: Side::A,
            app_proto: None,
            quic: QuicPhase::Untried,
        }
    }

    /// True when this datagram is for the QUIC reader: sent by the client, and the flow's
    /// first client datagram looked like a QUIC Initial. Gives up after
    /// [`MAX_QUIC_DATAGRAMS`] client datagrams.
    pub fn quic_wants(&mut self, payload: &[u8], from_client: bool) -> bool {
        match self.quic {
            QuicPhase::Finished => false,
            _ if !from_client => false,
            QuicPhase::Untried if crate::proto::quic::looks_like_client_initial(payload) => {
                self.quic = QuicPhase::Reading;
                self.extras.boxed().quic = Some(Box::default());
                true
            }
            QuicPhase::Untried => {
                self.quic = QuicPhase::Finished;
                false
            }
            QuicPhase::Reading => {
                let reading = self.extras.0.as_ref().and_then(|a| a.quic.as_ref());
                if reading.is_some_and(|r| r.datagrams < MAX_QUIC_DATAGRAMS) {
                    true
                } else {
                    self.quic = QuicPhase::Finished;
                    self.extras.end_quic();
                    false
                }
            }
        }
    }

    /// Give the QUIC reader one more client datagram (one [`Self::quic_wants`] said yes to),
    /// with what it tells and the flow's extras (for the alerts) to `on_progress`.
    pub fn quic_datagram(
        &mut self,
        payload: &[u8],
        on_progress: impl FnOnce(crate::proto::quic::QuicProgress<'_>, &mut FlowExtras),
    ) {
        // Out of the extras while it is read: what it returns borrows from it.
        let Some(mut reading) = self.extras.0.as_mut().and_then(|a| a.quic.take()) else {
            return;
        };
        reading.datagrams += 1;
        on_progress(reading.hello.datagram(payload), &mut self.extras);
        self.extras.boxed().quic = Some(reading);
    }

    fn idle_timeout_us(&self, proto: u8) -> i64 {
        if proto != 6 {
            OTHER_IDLE_US
        } else if self.rst || (self.fin[0] && self.fin[1]) {
            TCP_CLOSED_US
        } else {
            TCP_IDLE_US
        }
    }
}

/// A flow and its key in the table: 128 bytes on a 64-byte boundary, exactly two cache
/// lines, which a lookup asks for ahead (three or four lines before the flow was made small).
#[repr(align(64))]
struct Entry {
    key: FlowKey,
    /// The index's tag of the key (the high half of its table hash, in padding the key
    /// leaves): a flow is ended, and the last flow moved into its place, without hashing
    /// their keys again.
    tag: u32,
    flow: Flow,
}

impl Entry {
    /// The part of the key's table hash that the index files it under.
    #[inline(always)]
    fn index_hash(&self) -> u64 {
        u64::from(self.tag) << 32
    }
}

/// What is done with the flows a table ends (any `FnMut(&FlowKey, Flow)` is one).
pub trait OnEnded {
    /// `flow` is to end a few flows from now (8): ask for the memory that ending it will
    /// read (a full table ends a quarter of its flows at once, each far out of the cache).
    #[inline(always)]
    fn soon(&self, _flow: &Flow) {}

    /// `flow` has ended.
    fn ended(&mut self, key: &FlowKey, flow: Flow);
}

impl<F: FnMut(&FlowKey, Flow)> OnEnded for F {
    #[inline(always)]
    fn ended(&mut self, key: &FlowKey, flow: Flow) {
        self(key, flow)
    }
}

/// Result of looking a packet's flow up.
pub enum Lookup<'a> {
    /// A flow that existed.
    Existing(&'a mut Flow),
    /// A flow created by this packet.
    New(&'a mut Flow),
    /// The table is full: not tracked.
    Full,
}

/// The flows of one worker.
///
/// The flows sit densely in a slab (ending one moves the last into its place); an index of
/// slab positions by key hash (`index::SlotIndex`: 8-byte slots, at most half of them
/// full) finds them. A lookup reads one index slot and then the flow; a new flow is written
/// at the slab's end, which is warm. Memory follows the flows held: a hash map of the flows
/// themselves keeps a power of two of slots (up to twice the flows) and, while it grows, two
/// tables.
pub struct FlowTable {
    index: SlotIndex,
    /// Secret of [`FlowKey::table_hash`], random per table.
    seed: [u64; 2],
    slab: Vec<Entry>,
    /// Packets looked up so far.
    packets: u64,
    /// Scratch of [`FlowTable::make_room`]: each flow's `last_packet`.
    ages: Vec<u64>,
    next_sweep_us: i64,
    /// Flows created.
    pub created: u64,
    /// Packets whose flow could not be tracked because the table was full.
    pub untracked_packets: u64,
    /// Flows ended early to make room.
    pub evicted: u64,
    max_flows: usize,
}

impl Default for FlowTable {
    fn default() -> Self {
        FlowTable {
            index: SlotIndex::default(),
            seed: crate::mix::random_seed(),
            slab: Vec::new(),
            packets: 0,
            ages: Vec::new(),
            next_sweep_us: i64::MIN,
            created: 0,
            untracked_packets: 0,
            evicted: 0,
            max_flows: MAX_FLOWS,
        }
    }
}

impl FlowTable {
    /// A table for one of `workers` workers that track `max_flows` flows together: its
    /// share, and at least [`MIN_FLOWS_PER_WORKER`].
    pub fn for_worker_of(workers: usize, max_flows: usize) -> Self {
        // Not sized for its limit at once: growing costs less than a sparse table.
        FlowTable {
            // Slab positions are 32-bit in the index.
            max_flows: (max_flows / workers.max(1))
                .max(MIN_FLOWS_PER_WORKER)
                .min(u32::MAX as usize - 1),
            ..Default::default()
        }
    }

    /// The table's hash of `key` (for [`Self::lookup_hashed`] and the prefetches).
    #[inline]
    pub fn hash(&self, key: &FlowKey) -> u64 {
        key.table_hash(self.seed)
    }

    /// Ask for the index line that a lookup of `hash` will read, ahead of the lookup: on a
    /// table larger than the cache each lookup otherwise waits for memory twice, for the index
    /// and then for the flow (see `pipeline::lookahead`).
    #[inline]
    pub fn prefetch_index(&self, hash: u64) {
        self.index.prefetch(hash);
    }

    /// Ask for the flow that a lookup of `hash` will most likely find: both lines of its slab
    /// entry (key and state). Reads the index line, so call it once [`Self::prefetch_index`]
    /// has had time to bring that line in. False when no flow is likely there: the lookup
    /// will most likely create one.
    #[inline]
    pub fn prefetch_flow(&self, hash: u64) -> bool {
        match self
            .index
            .likely(hash)
            .and_then(|at| self.slab.get(at as usize))
        {
            Some(entry) => {
                crate::prefetch::all(entry);
                true
            }
            None => false,
        }
    }

    /// The TCP state of the flow that a lookup of `hash` will most likely find (read once
    /// [`Self::prefetch_flow`] has had time to bring the flow in).
    #[inline]
    pub fn likely_tcp_state(&self, hash: u64) -> Option<TcpStateId> {
        let at = self.index.likely(hash)?;
        self.slab.get(at as usize)?.flow.tcp
    }

    /// Find or create the flow of `key`.
    pub fn lookup(&mut self, key: &FlowKey, ts_us: i64) -> Lookup<'_> {
        self.lookup_hashed(key, self.hash(key), ts_us)
    }

    /// [`Self::lookup`] of a key whose [`Self::hash`] is known.
    pub fn lookup_hashed(&mut self, key: &FlowKey, hash: u64, ts_us: i64) -> Lookup<'_> {
        let slab = &self.slab;
        let found = self.index.find(hash, |i| slab[i as usize].key == *key);
        let (at, created) = match found {
            Some(at) => (at as usize, false),
            None if self.slab.len() >= self.max_flows => {
                self.untracked_packets += 1;
                return Lookup::Full;
            }
            None => {
                let at = self.slab.len();
                // On huge pages once large: a full table's flows are read at random, and on
                // 4 KB pages nearly every read missed the TLB.
                let entry = Entry {
                    key: *key,
                    tag: (hash >> 32) as u32,
                    flow: Flow::new(ts_us),
                };
                crate::hugepages::push_doubling(&mut self.slab, entry);
                self.index.insert(hash, at as u32);
                self.created += 1;
                (at, true)
            }
        };
        self.packets += 1;
        let flow = &mut self.slab[at].flow;
        flow.last_seen_us = flow.last_seen_us.max(ts_us);
        flow.last_packet = self.packets;
        if created {
            Lookup::New(flow)
        } else {
            Lookup::Existing(flow)
        }
    }

    /// Take the flow at slab position `at` out (the last flow moves into its place).
    fn remove_at(&mut self, at: usize) -> (FlowKey, Flow) {
        let hash = self.slab[at].index_hash();
        let removed = self.index.remove(hash, at as u32);
        debug_assert!(removed, "every flow in the slab is in the index");
        let last = self.slab.len() - 1;
        if at != last {
            let moved = self.slab[last].index_hash();
            let fixed = self.index.moved(moved, last as u32, at as u32);
            debug_assert!(fixed, "every flow in the slab is in the index");
        }
        let Entry { key, flow, .. } = self.slab.swap_remove(at);
        (key, flow)
    }

    /// End every flow for which `end` says so, in slab order.
    ///
    /// Each flow ended costs two index probes, each a wait for memory once a full table has
    /// pushed the index out of the cache: its own slot, and that of the last flow, which moves
    /// into its place. Both are asked for [`END_AHEAD`] flows ahead: the slot of the flow that
    /// far along the slab when it is to end too, and that of the flow that far from the end.
    /// `on_ended` is told of the flow that far along too ([`OnEnded::soon`]).
    fn end_where(
        &mut self,
        end: impl Fn(&FlowKey, &Flow) -> bool,
        mut on_ended: impl OnEnded,
    ) -> u64 {
        let (mut at, mut ended) = (0, 0);
        while at < self.slab.len() {
            if let Some(ahead) = self.slab.get(at + END_AHEAD) {
                if end(&ahead.key, &ahead.flow) {
                    self.index.prefetch(ahead.index_hash());
                    on_ended.soon(&ahead.flow);
                }
            }
            let Entry { key, flow, .. } = &self.slab[at];
            if end(key, flow) {
                let tail = self.slab.len().checked_sub(1 + END_AHEAD);
                if let Some(last) = tail.and_then(|i| self.slab.get(i)) {
                    self.index.prefetch(last.index_hash());
                }
                let (key, flow) = self.remove_at(at);
                ended += 1;
                on_ended.ended(&key, flow);
            } else {
                at += 1;
            }
        }
        ended
    }

    /// True when it is time to call [`FlowTable::expire`] (cheap: call it per packet).
    #[inline]
    pub fn sweep_due(&self, now_us: i64) -> bool {
        now_us >= self.next_sweep_us
    }

    /// Remove the flows idle at `now_us`, handing each to `on_expired`.
    pub fn expire(&mut self, now_us: i64, on_expired: impl OnEnded) {
        self.next_sweep_us = now_us.saturating_add(SWEEP_INTERVAL_US);
        let idle = |key: &FlowKey, flow: &Flow| {
            now_us.saturating_sub(flow.last_seen_us) > flow.idle_timeout_us(key.proto)
        };
        self.end_where(idle, on_expired);
    }

    /// True when the table holds as many flows as it may.
    #[inline]
    pub fn is_full(&self) -> bool {
        self.slab.len() >= self.max_flows
    }

    /// The table is full: end the flows whose last packet came the longest ago until it holds
    /// three quarters of its limit (a quarter of the table per call, so the call is rare and
    /// its cost per flow small). One pass gathers each flow's `last_packet` and selects the
    /// cut-off among them; a second ends the flows at or before it, in slab order (which
    /// differs between runs; the flows ended do not). Both read the slab in memory order,
    /// which the prefetcher streams.
    pub fn make_room(&mut self, on_ended: impl OnEnded) {
        let target = self.max_flows - self.max_flows / EVICT_FRACTION;
        let excess = self.slab.len().saturating_sub(target);
        if excess == 0 {
            return;
        }
        self.ages.clear();
        self.ages
            .extend(self.slab.iter().map(|e| e.flow.last_packet));
        let (_, &mut cut_off, _) = self.ages.select_nth_unstable(excess - 1);
        self.evicted += self.end_where(|_, f| f.last_packet <= cut_off, on_ended);
    }

    /// Remove every flow (end of input), handing each to `on_expired`.
    pub fn drain(&mut self, mut on_expired: impl OnEnded) {
        self.index.clear();
        for Entry { key, flow, .. } in self.slab.drain(..) {
            on_expired.ended(&key, flow);
        }
    }

    /// Flows currently held.
    pub fn len(&self) -> usize {
        self.slab.len()
    }

    /// True when no flow is held.
    pub fn is_empty(&self) -> bool {
        self.slab.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::net::{IpAddr, Ipv4Addr};

    fn key(n: u32) -> FlowKey {
        FlowKey {
            a: (IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n)), 1000),
            b: (IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 53),
            proto: 17,
        }
    }

    #[test]
    fn full_table_ends_one_packet_flows_first_and_keeps_active_ones() {
        let mut table = FlowTable::for_worker_of(1_000, MAX_FLOWS);
        let max = table.max_flows;
        // Flows 0..max, one per microsecond; every tenth stays active after creation.
        for n in 0..max as u32 {
            assert!(matches!(
                table.lookup(&key(n), i64::from(n)),
                Lookup::New(_)
            ));
        }
        let now = max as i64 + 10;
        for n in (0..max as u32).step_by(10) {
            assert!(matches!(table.lookup(&key(n), now), Lookup::Existing(_)));
        }
        assert!(table.is_full());
        let mut ended = Vec::new();
        table.make_room(|k: &FlowKey, _| ended.push(*k));
        assert_eq!(table.len(), max - max / EVICT_FRACTION);
        assert_eq!(ended.len(), max / EVICT_FRACTION);
        assert_eq!(table.evicted as usize, ended.len());
        // The oldest idle flows went; no active flow was ended.
        let oldest_idle: HashSet<FlowKey> = (0..max as u32)
            .filter(|n| n % 10 != 0)
            .take(ended.len())
            .map(key)
            .collect();
        assert_eq!(ended.iter().copied().collect::<HashSet<_>>(), oldest_idle);
        // A flow ended and seen again is a new flow.
        let again = ended[0];
        assert!(matches!(table.lookup(&again, now + 1), Lookup::New(_)));
        // Filling up again ends the remaining idle flows before any active one.
        for n in 0..(max / EVICT_FRACTION) as u32 {
            table.lookup(&key(1_000_000 + n), now + 2);
        }
        let mut second = Vec::new();
        table.make_room(|k: &FlowKey, _| second.push(*k));
        assert!(second.iter().all(|k| k != &key(0) && k != &key(10)));
    }

    /// Records, in order, which flows it was told would end soon (`false`) and which ended
    /// (`true`), by first packet time.
    #[derive(Default)]
    struct Recorder(std::cell::RefCell<Vec<(bool, i64)>>);

    impl OnEnded for &Recorder {
        fn soon(&self, flow: &Flow) {
            self.0.borrow_mut().push((false, flow.first_seen_us));
        }
        fn ended(&mut self, _key: &FlowKey, flow: Flow) {
            self.0.borrow_mut().push((true, flow.first_seen_us));
        }
    }

    #[test]
    fn flows_about_to_end_are_announced_before_they_end() {
        let mut table = FlowTable::for_worker_of(1, 4_000);
        for n in 0..4_000u32 {
            table.lookup(&key(n), i64::from(n));
        }
        let recorder = Recorder::default();
        table.make_room(&recorder);
        let events = recorder.0.into_inner();
        let of = |ended: bool| -> Vec<i64> {
            events
                .iter()
                .filter(|e| e.0 == ended)
                .map(|e| e.1)
                .collect()
        };
        let (soon, ended) = (of(false), of(true));
        assert_eq!(ended.len(), 1_000);
        assert!(
            soon.len() >= ended.len() - 2 * END_AHEAD,
            "nearly every ended flow is announced ahead: {} of {}",
            soon.len(),
            ended.len()
        );
        // Each announced flow ends, after it was announced.
        for t in soon {
            let announced = events.iter().position(|&e| e == (false, t));
            let end = events.iter().position(|&e| e == (true, t));
            assert!(end > announced, "flow {t} announced but not ended after");
        }
    }

    #[test]
    fn flows_seen_at_once_are_ended_alike_in_every_run() {
        // Every flow has the same packet time (a capture with coarse timestamps): the ended
        // ones are chosen by arrival, not by the table's per-process hash order.
        let ended_by = |_run| {
            let mut table = FlowTable::for_worker_of(1_000, MAX_FLOWS);
            for n in 0..table.max_flows as u32 {
                table.lookup(&key(n), 5);
            }
            let mut ended = HashSet::new();
            table.make_room(|k: &FlowKey, _| {
                ended.insert(*k);
            });
            assert_eq!(ended.len(), table.max_flows / EVICT_FRACTION);
            ended
        };
        assert_eq!(ended_by(1), ended_by(2));
    }

    #[test]
    fn flows_are_ended_in_order_of_arrival_when_packet_time_goes_back() {
        // A later capture read first, then an earlier one (a directory in name order): the
        // flows of the first one read are ended first, not those of the current one.
        let mut table = FlowTable::for_worker_of(1_000, MAX_FLOWS);
        let max = table.max_flows as u32;
        for n in 0..max {
            let ts = if n < max / 2 {
                1_000_000 + i64::from(n)
            } else {
                i64::from(n)
            };
            table.lookup(&key(n), ts);
        }
        let mut ended = HashSet::new();
        table.make_room(|k: &FlowKey, _| {
            ended.insert(*k);
        });
        let first_arrived: HashSet<FlowKey> = (0..max / EVICT_FRACTION as u32).map(key).collect();
        assert_eq!(ended, first_arrived);
    }

    #[test]
    fn quic_reading_gives_up_after_its_datagrams_and_lets_the_reader_go() {
        // A QUIC v1 Initial's first bytes: long header, Initial, version 1, 8-byte DCID.
        let initial = [0xc3, 0, 0, 0, 1, 8, 1, 2, 3, 4, 5, 6, 7, 8];
        let mut flow = Flow::new(0);
        assert!(
            !flow.quic_wants(&initial, false),
            "a server datagram first is not read"
        );
        assert_eq!(flow.quic, QuicPhase::Untried);
        let mut given = 0;
        while flow.quic_wants(&initial, true) {
            flow.quic_datagram(&initial, |_, _| given += 1);
            assert!(
                !flow.quic_wants(&initial, false),
                "server datagrams are never read"
            );
        }
        assert_eq!(given, MAX_QUIC_DATAGRAMS);
        assert_eq!(flow.quic, QuicPhase::Finished);
        assert!(
            flow.extras.0.is_none(),
            "nothing else in the box: the box went too"
        );
        assert!(!flow.quic_wants(&initial, true));

        // Not QUIC from the first client datagram: finished, and nothing was boxed.
        let mut flow = Flow::new(0);
        assert!(!flow.quic_wants(b"\x00not quic", true));
        assert_eq!(flow.quic, QuicPhase::Finished);
        assert!(flow.extras.0.is_none());
        assert!(!flow.quic_wants(&initial, true));
    }

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_flow_and_its_key_fill_two_cache_lines() {
        // A field more would make every flow three lines, which the flood pays for in time.
        assert_eq!(std::mem::size_of::<Flow>(), 80);
        assert_eq!(std::mem::size_of::<Entry>(), 128);
        assert_eq!(std::mem::align_of::<Entry>(), 64);
    }

    /// Every flow in the slab is found by the index at its own position, and nothing else is;
    /// each entry keeps its key's index tag.
    fn assert_consistent(table: &FlowTable) {
        assert_eq!(table.index.len(), table.slab.len());
        for (at, Entry { key, tag, .. }) in table.slab.iter().enumerate() {
            assert_eq!(u64::from(*tag), table.hash(key) >> 32);
            let found = table
                .index
                .find(table.hash(key), |i| table.slab[i as usize].key == *key);
            assert_eq!(found, Some(at as u32));
        }
    }

    #[test]
    fn index_and_slab_agree_through_evictions_and_expiry() {
        let mut table = FlowTable::for_worker_of(1_000, MAX_FLOWS);
        let mut alive = HashSet::new();
        let mut x = 0x9e37_79b9_u32;
        for step in 0..30_000i64 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let k = key(x % 3_000);
            if table.is_full() {
                table.make_room(|k: &FlowKey, _| assert!(alive.remove(k)));
                assert_consistent(&table);
            }
            let new = matches!(table.lookup(&k, step * 1_000), Lookup::New(_));
            assert_eq!(new, alive.insert(k), "lookup of {k:?} at step {step}");
            if step % 5_000 == 4_999 {
                // Every flow not seen for 300 s of packet time (a third of them or so) ends.
                table.expire(
                    step * 1_000 + OTHER_IDLE_US - 2_000_000,
                    |k: &FlowKey, _| assert!(alive.remove(k)),
                );
                assert_consistent(&table);
            }
        }
        assert_eq!(table.len(), alive.len());
        let mut drained = 0;
        table.drain(|k: &FlowKey, _| {
            assert!(alive.remove(k));
            drained += 1;
        });
        assert!(drained > 0 && alive.is_empty() && table.is_empty());
    }

    #[test]
    fn idle_flows_expire_by_protocol_timeout() {
        let mut table = FlowTable::for_worker_of(1, MAX_FLOWS);
        let udp = key(1);
        let tcp = FlowKey { proto: 6, ..key(2) };
        table.lookup(&udp, 0);
        table.lookup(&tcp, 0);
        let mut ended = Vec::new();
        table.expire(OTHER_IDLE_US, |k: &FlowKey, _| ended.push(*k));
        assert!(ended.is_empty(), "not idle for longer than the timeout yet");
        table.expire(OTHER_IDLE_US + 1, |k: &FlowKey, _| ended.push(*k));
        assert_eq!(ended, [udp]);
        table.expire(TCP_IDLE_US + 1, |k: &FlowKey, _| ended.push(*k));
        assert_eq!(ended, [udp, tcp]);
        assert!(table.is_empty());
    }
}
