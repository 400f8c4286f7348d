//! Flows: the per-worker flow table, TCP stream prefix reassembly and the application layer
//! of each direction.
//!
//! A worker owns its [`FlowTable`]; nothing here is shared or locked. Flows are expired by
//! idle time measured in *packet* time (so a replay behaves like the live capture did), and
//! the tables together hold at most [`MAX_FLOWS`] flows: when it is full, flows are expired with a tenth
//! of their timeouts and, if that is not enough, the flows seen longest ago are ended (their
//! pending alerts written, counted as evicted) so that new flows are always inspected. A TCP
//! flow keeps its reassembly state only while a direction can still tell something.

pub mod key;
pub mod reassembly;
pub mod stream;

use hashbrown::HashMap;

pub use key::{FlowKey, Side};
use reassembly::Reassembly;
use stream::Stream;

/// Most flows tracked by all workers together (each worker gets its share): bounds memory
/// (a flow without TCP buffers takes about 300 bytes with its table slot).
pub const MAX_FLOWS: usize = 200_000;
/// When the table is full, at least one flow in this many is made room for.
pub const EVICT_FRACTION: usize = 4;
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

/// What a flow has alerted on, and the address hits still waiting to be written.
///
/// One alert per flow per indicator per match location, however often the name recurs.
#[derive(Debug, Default)]
pub struct AlertState {
    done: Vec<(u8, u64)>,
    /// Address hits not yet written.
    pub pending: Vec<PendingAddressHit>,
}

impl AlertState {
    /// True when the flow has alerted.
    pub fn any(&self) -> bool {
        !self.done.is_empty()
    }

    /// True (and remembered) the first time this (location, indicator key) pair is seen in
    /// the flow.
    pub fn first(&mut self, location: u8, key: u64) -> bool {
        if self.done.contains(&(location, key)) {
            return false;
        }
        self.done.push((location, key));
        true
    }
}

/// Client datagrams of a UDP flow looked at for a QUIC ClientHello before giving up (a
/// ClientHello spans one to a few Initials; a Retry adds one round).
pub const MAX_QUIC_DATAGRAMS: u8 = 16;

/// QUIC state of a UDP flow.
#[derive(Default)]
pub enum QuicState {
    /// Nothing seen from the client yet.
    #[default]
    Untried,
    /// Reading Initials (boxed: the keys are 1.5 KiB), and the client datagrams seen.
    Reading(Box<crate::proto::quic::QuicClientHello>, u8),
    /// Not QUIC, or nothing more to read.
    Finished,
}

impl std::fmt::Debug for QuicState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            QuicState::Untried => "Untried",
            QuicState::Reading(..) => "Reading",
            QuicState::Finished => "Finished",
        })
    }
}

impl QuicState {
    /// True when this datagram is for the QUIC reader: sent by the client, and the flow's
    /// first client datagram looked like a QUIC Initial.
    pub fn wants(&mut self, payload: &[u8], from_client: bool) -> bool {
        match self {
            QuicState::Finished => false,
            _ if !from_client => false,
            QuicState::Untried if crate::proto::quic::looks_like_client_initial(payload) => {
                *self = QuicState::Reading(Box::default(), 0);
                true
            }
            QuicState::Untried => {
                *self = QuicState::Finished;
                false
            }
            QuicState::Reading(_, seen) if *seen >= MAX_QUIC_DATAGRAMS => {
                *self = QuicState::Finished;
                false
            }
            QuicState::Reading(..) => true,
        }
    }

    /// The reader, counting one more client datagram.
    pub fn reader(&mut self) -> Option<&mut crate::proto::quic::QuicClientHello> {
        match self {
            QuicState::Reading(reader, seen) => {
                *seen += 1;
                Some(reader)
            }
            _ => None,
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

/// One flow's state.
#[derive(Debug)]
pub struct Flow {
    /// Flow id in EVE records.
    pub id: u64,
    /// Packet time of the first packet.
    pub first_seen_us: i64,
    /// Packet time of the last packet.
    pub last_seen_us: i64,
    /// TCP reassembly and application state (boxed: only TCP flows that still have
    /// something to tell need it).
    pub tcp: Option<Box<TcpState>>,
    /// True once both TCP directions told all they could (the state above is then freed).
    pub tcp_finished: bool,
    /// Alerts written and pending.
    pub alerts: AlertState,
    /// FIN seen per side; RST seen.
    pub fin: [bool; 2],
    /// RST seen.
    pub rst: bool,
    /// The side that opened the flow (sent its first packet, or its SYN).
    pub initiator: Side,
    /// Packets per side.
    pub pkts: [u64; 2],
    /// Captured bytes per side.
    pub bytes: [u64; 2],
    /// Application protocol recognised, for the flow record.
    pub app_proto: Option<&'static str>,
    /// QUIC Initial reading (UDP flows).
    pub quic: QuicState,
    /// Outermost tunnel of the first packet (boxed: most flows have none).
    pub tunnel: Option<Box<crate::decode::TunnelInfo>>,
}

impl Flow {
    fn new(key: &FlowKey, ts_us: i64) -> Flow {
        Flow {
            id: key.flow_id(ts_us),
            first_seen_us: ts_us,
            last_seen_us: ts_us,
            tcp: None,
            tcp_finished: false,
            alerts: AlertState::default(),
            fin: [false; 2],
            rst: false,
            initiator: Side::A,
            pkts: [0; 2],
            bytes: [0; 2],
            app_proto: None,
            quic: QuicState::Untried,
            tunnel: None,
        }
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
pub struct FlowTable {
    flows: HashMap<FlowKey, Flow, foldhash::fast::RandomState>,
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
            flows: HashMap::default(),
            next_sweep_us: i64::MIN,
            created: 0,
            untracked_packets: 0,
            evicted: 0,
            max_flows: MAX_FLOWS,
        }
    }
}

impl FlowTable {
    /// A table for one of `workers` workers: its share of [`MAX_FLOWS`].
    pub fn for_worker_of(workers: usize) -> Self {
        let max_flows = (MAX_FLOWS / workers.max(1)).max(1024);
        // Sized for its limit at once: growing a large table rehashes and moves every flow.
        let flows = HashMap::with_capacity_and_hasher(max_flows, Default::default());
        FlowTable {
            max_flows,
            flows,
            ..Default::default()
        }
    }

    /// Find or create the flow of `key`.
    pub fn lookup(&mut self, key: &FlowKey, ts_us: i64) -> Lookup<'_> {
        if self.flows.len() >= self.max_flows && !self.flows.contains_key(key) {
            self.untracked_packets += 1;
            return Lookup::Full;
        }
        let mut created = false;
        let flow = self.flows.entry(*key).or_insert_with(|| {
            created = true;
            Flow::new(key, ts_us)
        });
        flow.last_seen_us = flow.last_seen_us.max(ts_us);
        if created {
            self.created += 1;
            Lookup::New(flow)
        } else {
            Lookup::Existing(flow)
        }
    }

    /// True when it is time to call [`FlowTable::expire`] (cheap: call it per packet).
    #[inline]
    pub fn sweep_due(&self, now_us: i64) -> bool {
        now_us >= self.next_sweep_us
    }

    /// Remove the flows idle at `now_us`, handing each to `on_expired`.
    pub fn expire(&mut self, now_us: i64, on_expired: impl FnMut(&FlowKey, Flow)) {
        self.next_sweep_us = now_us.saturating_add(SWEEP_INTERVAL_US);
        self.remove_idle(now_us, 1, on_expired);
    }

    /// Remove the flows idle for longer than their timeout divided by `divisor`.
    fn remove_idle(&mut self, now_us: i64, divisor: i64, mut on_ended: impl FnMut(&FlowKey, Flow)) {
        let idle: Vec<FlowKey> = self
            .flows
            .iter()
            .filter(|(k, f)| {
                now_us.saturating_sub(f.last_seen_us) > f.idle_timeout_us(k.proto) / divisor
            })
            .map(|(k, _)| *k)
            .collect();
        for key in idle {
            if let Some(flow) = self.flows.remove(&key) {
                on_ended(&key, flow);
            }
        }
    }

    /// True when the table holds as many flows as it may.
    #[inline]
    pub fn is_full(&self) -> bool {
        self.flows.len() >= self.max_flows
    }

    /// The table is full: expire with a tenth of the idle timeouts, and if that frees less
    /// than [`EVICT_FRACTION`] of the table, end the flows seen longest ago until it has.
    /// Runs once per that many new flows, so its cost per flow stays small (Suricata's
    /// "emergency mode" does the same).
    pub fn make_room(&mut self, now_us: i64, mut on_ended: impl FnMut(&FlowKey, Flow)) {
        let target = self.max_flows - self.max_flows / EVICT_FRACTION;
        self.remove_idle(now_us, 10, &mut on_ended);
        if self.flows.len() > target {
            let mut ages: Vec<(i64, FlowKey)> = self
                .flows
                .iter()
                .map(|(k, f)| (f.last_seen_us, *k))
                .collect();
            let excess = self.flows.len() - target;
            ages.select_nth_unstable_by_key(excess - 1, |(seen, _)| *seen);
            for (_, key) in ages.into_iter().take(excess) {
                if let Some(flow) = self.flows.remove(&key) {
                    self.evicted += 1;
                    on_ended(&key, flow);
                }
            }
        }
    }

    /// Remove every flow (end of input), handing each to `on_expired`.
    pub fn drain(&mut self, mut on_expired: impl FnMut(&FlowKey, Flow)) {
        for (key, flow) in self.flows.drain() {
            on_expired(&key, flow);
        }
    }

    /// Flows currently held.
    pub fn len(&self) -> usize {
        self.flows.len()
    }

    /// True when no flow is held.
    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }
}
