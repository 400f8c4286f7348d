//! The packet path of a worker: decode, find the flow, reassemble, extract names, match,
//! write records. One [`Inspector`] per worker thread; it owns its flow table and output
//! buffer, and shares only the immutable indicator set.
//!
//! Per packet, in the common case, nothing is allocated: decoding borrows the frame, the flow
//! is found in place, in-order TCP payload is parsed without a copy until a parser needs to
//! wait for more bytes, and matching is hash probes. A TCP flow's state is a slot of the
//! worker's [`TcpStates`], released by the flows that let theirs go. Allocation happens for
//! the bytes a parser waits on, for out-of-order segments, for the output as it grows, and
//! for the flow table and the TCP states' slab as they grow to their most.

pub mod emit;
pub mod stats;

use std::sync::Arc;

use crate::decode::defrag::Defragmenter;
use crate::decode::link::linktype;
use crate::decode::{self, tcp_flags, Transport};
use crate::flow::stream::{AppProto, Found, Stream};
use crate::flow::tcp_states::TcpStates;
use crate::flow::{
    reassembly::Delivery, AppLayer, Flow, FlowKey, FlowTable, Lookup, OnEnded, Side, TcpState,
};
use crate::intel::reload::SharedIndicators;
use crate::proto;

pub use emit::{App, Emitter, EventTypes, Head};
pub use stats::WorkerStats;

/// One packet as read (handed over by the capture thread, or read by the worker itself).
#[derive(Debug, Clone, Copy)]
pub struct PacketRef<'a> {
    /// Packet time, microseconds since the epoch.
    pub ts_us: i64,
    /// Link type of the capture it came from.
    pub linktype: i32,
    /// Captured bytes.
    pub data: &'a [u8],
    /// Name of the capture file (file input), for `pcap_filename`.
    pub file: Option<&'a Arc<str>>,
}

/// A packet's flow key, the sender's side of it and its flow table hash, found a few packets
/// before the packet is inspected (see `pipeline::lookahead`).
#[derive(Debug, Clone, Copy)]
pub struct FlowAhead {
    key: FlowKey,
    side: Side,
    hash: u64,
}

/// A worker's packet path.
pub struct Inspector {
    flows: FlowTable,
    /// IP fragment reassembly, when this worker is the run's only one (with several, whoever
    /// routes packets to them reassembles first: a fragment has no ports to route by).
    defrag: Option<Defragmenter>,
    emit: Emitter,
    scratch: Vec<u8>,
    tcp_states: TcpStates,
    indicators: Arc<SharedIndicators>,
    generation: u64,
}

impl Inspector {
    /// A worker matching against the shared indicators, writing the records in `events`, one
    /// of `workers` that track `max_flows` flows together.
    pub fn new(
        indicators: Arc<SharedIndicators>,
        events: EventTypes,
        workers: usize,
        max_flows: usize,
    ) -> Self {
        let generation = indicators.generation();
        let current = indicators.load();
        Inspector {
            flows: FlowTable::for_worker_of(workers, max_flows),
            defrag: (workers == 1).then(Defragmenter::default),
            emit: Emitter::new(Arc::clone(&current.set), current.allow.clone(), events),
            scratch: Vec::new(),
            tcp_states: TcpStates::default(),
            indicators,
            generation,
        }
    }

    /// Take the indicators of a reload, if there was one (call between batches: one atomic
    /// load when nothing changed).
    pub fn refresh_indicators(&mut self) {
        let generation = self.indicators.generation();
        if generation != self.generation {
            let current = self.indicators.load();
            self.emit.set = Arc::clone(&current.set);
            self.emit.allow = current.allow.clone();
            self.generation = generation;
        }
    }

    /// Inspect one packet.
    pub fn packet(&mut self, p: PacketRef<'_>) {
        let pkt = match decode::decode(p.linktype, p.data) {
            Ok(pkt) => pkt,
            Err(reason) => {
                self.emit.stats.packets += 1;
                self.emit.stats.bytes += p.data.len() as u64;
                self.emit.stats.skipped.add(reason);
                return;
            }
        };
        match (pkt.transport, self.defrag.as_mut()) {
            (Transport::Fragment(frag), Some(defrag)) => {
                // The fragment itself is not counted as a packet: its datagram is, once whole
                // (or given up), as when the capture thread reassembles.
                let ready = defrag.add_and_take_ready(p.ts_us, pkt.src, pkt.dst, pkt.proto, &frag);
                for (ts_us, bytes) in ready {
                    self.packet(PacketRef {
                        ts_us,
                        linktype: linktype::RAW,
                        data: &bytes,
                        ..p
                    });
                }
            }
            _ => self.decoded(p, &pkt),
        }
    }

    /// The flow of `pkt`, found ahead of its inspection, with the line its inspection reads
    /// first asked for: the flow table's index line.
    #[inline]
    pub fn flow_ahead(&self, pkt: &decode::Packet<'_>) -> FlowAhead {
        let flow = self.flow_of(pkt);
        self.flows.prefetch_index(flow.hash);
        flow
    }

    /// The flow key of `pkt`, its side and its flow table hash.
    #[inline(always)]
    fn flow_of(&self, pkt: &decode::Packet<'_>) -> FlowAhead {
        let (key, side) = FlowKey::of(pkt);
        let hash = self.flows.hash(&key);
        FlowAhead { key, side, hash }
    }

    /// Ask for the flow of `ahead` itself, once its index line has had time to come in; when
    /// the index holds no such flow, the packet will open one (as a flood's packets do), and
    /// the indicator filter lines of its two addresses, looked up for a new flow, are asked
    /// for instead.
    #[inline]
    pub fn prefetch_flow(&self, ahead: &FlowAhead) {
        if !self.flows.prefetch_flow(ahead.hash) && self.emit.set.has_addresses() {
            self.emit.set.prefetch_addr(ahead.key.a.0);
            self.emit.set.prefetch_addr(ahead.key.b.0);
        }
    }

    /// Ask for the TCP state that inspecting `pkt` will read, once its flow has had time to
    /// come in ([`Self::prefetch_flow`]): its flow's, or, for a SYN that opens a connection,
    /// the one it will take (a flow without a state that sends data has most likely let its
    /// state go).
    #[inline]
    pub fn prefetch_tcp_state(&self, ahead: &FlowAhead, pkt: &decode::Packet<'_>) {
        if let Transport::Tcp { flags, payload, .. } = pkt.transport {
            let syn = flags & tcp_flags::SYN != 0;
            if !payload.is_empty() || syn {
                let state = self.flows.likely_tcp_state(ahead.hash);
                if state.is_some() || syn {
                    self.tcp_states.prefetch(state, ahead.side);
                }
            }
        }
    }

    /// Flows created so far: how fast they come tells whether the table outgrows the cache.
    pub fn flows_created(&self) -> u64 {
        self.flows.created
    }

    /// Inspect one packet already decoded (`pkt` is `p` decoded).
    #[inline]
    pub fn decoded(&mut self, p: PacketRef<'_>, pkt: &decode::Packet<'_>) {
        self.decoded_ahead(p, pkt, None);
    }

    /// [`Self::decoded`] of a packet whose flow may have been found ahead
    /// ([`Self::flow_ahead`]).
    pub fn decoded_ahead(
        &mut self,
        p: PacketRef<'_>,
        pkt: &decode::Packet<'_>,
        ahead: Option<&FlowAhead>,
    ) {
        let found_now;
        let flow = match ahead {
            Some(flow) => flow,
            None => {
                found_now = self.flow_of(pkt);
                &found_now
            }
        };
        let (key, side, hash) = (&flow.key, flow.side, flow.hash);
        self.emit.stats.packets += 1;
        self.emit.stats.bytes += p.data.len() as u64;
        if self.flows.sweep_due(p.ts_us) {
            let ending = Ending::new(&mut self.emit, &mut self.tcp_states, "timeout");
            self.flows.expire(p.ts_us, ending);
        }
        if self.flows.is_full() {
            let ending = Ending::new(&mut self.emit, &mut self.tcp_states, "forced");
            self.flows.make_room(ending);
        }
        let vlans = &pkt.vlans[..pkt.vlan_count as usize];
        let (flow, new) = match self.flows.lookup_hashed(key, hash, p.ts_us) {
            Lookup::New(f) => (f, true),
            Lookup::Existing(f) => (f, false),
            Lookup::Full => {
                self.emit.stats.untracked_packets += 1;
                return;
            }
        };
        let mut head = Head::new(
            key,
            side,
            p.ts_us,
            flow.first_seen_us,
            vlans,
            p.file.map(|f| &**f),
        );
        head.tunnel = pkt.tunnel;
        flow.pkts[side.index()] += 1;
        flow.bytes[side.index()] += p.data.len() as u64;
        if new {
            // A SYN-ACK first (the SYN was not captured) means the other side opened it.
            let syn_ack = matches!(pkt.transport, Transport::Tcp { flags, .. }
                if flags & tcp_flags::SYN != 0 && flags & tcp_flags::ACK != 0);
            flow.initiator = if syn_ack { side.other() } else { side };
            flow.extras.set_tunnel(pkt.tunnel);
            self.emit
                .check_addresses(key, &head, side, p.file, &mut flow.extras);
        }
        match pkt.transport {
            Transport::Udp { payload } if proto::is_dns_port(pkt.src_port, pkt.dst_port) => {
                head.app_proto = Some(AppLayer::Dns);
                flow.app_proto = Some(AppLayer::Dns);
                if !self.emit.dns(key, &head, payload, &mut flow.extras)
                    && flow.extras.has_pending()
                {
                    self.emit
                        .flush_pending(key, &head, App::None, &mut flow.extras);
                }
            }
            Transport::Tcp {
                seq,
                flags,
                payload,
            } => {
                tcp_segment(
                    &mut self.emit,
                    &mut self.scratch,
                    &mut self.tcp_states,
                    flow,
                    key,
                    side,
                    &mut head,
                    seq,
                    flags,
                    payload,
                );
            }
            Transport::Udp { payload } if flow.quic_wants(payload, side == flow.initiator) => {
                head.app_proto = Some(AppLayer::Quic);
                flow.app_proto = Some(AppLayer::Quic);
                let emit = &mut self.emit;
                flow.quic_datagram(payload, |progress, extras| {
                    if let proto::quic::QuicProgress::Done { version, hello } = progress {
                        emit.client_hello(key, &head, &hello, extras, Some(version));
                    }
                });
            }
            Transport::Udp { payload } if proto::http::could_start_request(payload) => {
                if let proto::http::Parse::Request(req) = proto::http::parse_request(payload) {
                    head.app_proto = Some(AppLayer::Http);
                    self.emit.http(key, &head, &req, &mut flow.extras);
                } else if flow.extras.has_pending() {
                    self.emit
                        .flush_pending(key, &head, App::None, &mut flow.extras);
                }
            }
            Transport::Fragment(_) => {
                // Fragments are reassembled before a worker's flows see them (by the capture
                // thread, or by the file replay of each worker); one here was refused there.
                self.emit.stats.skipped.add(decode::Skip::IpFragment);
            }
            Transport::Udp { .. } | Transport::Other => {
                if flow.extras.has_pending() {
                    self.emit
                        .flush_pending(key, &head, App::None, &mut flow.extras);
                }
            }
        }
    }

    /// End of input: inspect what fragment reassembly still holds, write what every flow
    /// still holds and forget them.
    pub fn finish(&mut self, file: Option<&Arc<str>>) {
        let mut partials = Vec::new();
        if let Some(defrag) = self.defrag.as_mut() {
            defrag.drain(|ts_us, bytes| partials.push((ts_us, bytes.to_vec())));
        }
        for (ts_us, bytes) in partials {
            self.packet(PacketRef {
                ts_us,
                linktype: linktype::RAW,
                data: &bytes,
                file,
            });
        }
        let ending = Ending::new(&mut self.emit, &mut self.tcp_states, "shutdown");
        self.flows.drain(ending);
    }

    /// Take the EVE lines written so far (and their count), leaving the buffer empty.
    pub fn take_output(&mut self, into: &mut Vec<u8>) -> u64 {
        std::mem::swap(into, &mut self.emit.out);
        self.emit.out.clear();
        std::mem::take(&mut self.emit.out_lines)
    }

    /// Alerts written so far.
    pub fn alerts_written(&self) -> u64 {
        self.emit.stats.alerts
    }

    /// Counters so far.
    pub fn stats(&self) -> WorkerStats {
        let mut s = self.emit.stats.clone();
        s.flows = self.flows.created;
        s.flows_evicted = self.flows.evicted;
        if let Some(defrag) = &self.defrag {
            s.defrag = defrag.stats.clone();
        }
        s
    }
}

/// The `app_proto` of a TCP flow from what its two directions were recognised as.
fn tcp_app_proto(streams: &[Stream; 2]) -> Option<AppLayer> {
    let name = |p: AppProto| match p {
        AppProto::Tls => Some(AppLayer::Tls),
        AppProto::Http => Some(AppLayer::Http),
        AppProto::Dns => Some(AppLayer::Dns),
        AppProto::Unknown | AppProto::Failed => None,
    };
    name(streams[0].proto)
        .or_else(|| name(streams[1].proto))
        .or_else(|| {
            (streams[0].proto == AppProto::Failed && streams[1].proto == AppProto::Failed)
                .then_some(AppLayer::Failed)
        })
}

#[allow(clippy::too_many_arguments)]
fn tcp_segment(
    emit: &mut Emitter,
    scratch: &mut Vec<u8>,
    states: &mut TcpStates,
    flow: &mut Flow,
    key: &FlowKey,
    side: Side,
    head: &mut Head<'_>,
    seq: u32,
    flags: u8,
    payload: &[u8],
) {
    let i = side.index();
    if flags & tcp_flags::RST != 0 {
        flow.rst = true;
    }
    if flags & tcp_flags::FIN != 0 {
        flow.fin[i] = true;
    }
    if flow.tcp_finished {
        return; // nothing more to learn from this connection: no state, no copy
    }
    if payload.is_empty() && flags & tcp_flags::SYN == 0 {
        // A bare ACK, FIN or RST changes no reassembly or parser: its flow's state (a line
        // that a flood of short connections has pushed out of the cache) is not read.
        return;
    }
    let Flow {
        tcp,
        extras: alerts,
        app_proto,
        tcp_finished,
        ..
    } = flow;
    let id = *tcp.get_or_insert_with(|| states.take());
    let TcpState {
        reassembly,
        streams,
    } = states.get_mut(id);
    if streams[i].wants_data() {
        let syn = flags & tcp_flags::SYN != 0;
        let dns_port = proto::is_dns_port(key.a.1, key.b.1);
        let midstream = reassembly[i].picks_up_midstream(syn);
        let stream = &mut streams[i];
        let mut on_found = |found: Found<'_>| match found {
            Found::Dns(msg) => {
                head.app_proto = Some(AppLayer::Dns);
                emit.dns(key, head, msg, alerts);
            }
            Found::Tls(hello) => {
                head.app_proto = Some(AppLayer::Tls);
                emit.client_hello(key, head, &hello, alerts, None);
            }
            Found::Http(req) => {
                head.app_proto = Some(AppLayer::Http);
                emit.http(key, head, &req, alerts);
            }
        };
        reassembly[i].segment(seq, syn, payload, |delivery| match delivery {
            Delivery::Data(bytes) => {
                stream.data(bytes, dns_port, midstream, scratch, &mut on_found)
            }
            Delivery::Gap => stream.gap(),
        });
        if !stream.wants_data() {
            emit.stats.tcp_gaps += u64::from(reassembly[i].gaps);
            reassembly[i].release();
        }
    }
    if !streams[0].wants_data() && !streams[1].wants_data() {
        // Both directions told all they could: keep what the flow record needs, free the rest.
        *app_proto = app_proto.or_else(|| tcp_app_proto(streams));
        states.give(tcp.take());
        *tcp_finished = true;
        if alerts.has_pending() {
            head.app_proto = *app_proto;
            emit.flush_pending(key, head, App::None, alerts);
        }
    }
}

/// Flows leaving the table, for one reason (the flow record's `reason`).
struct Ending<'a> {
    emit: &'a mut Emitter,
    states: &'a mut TcpStates,
    reason: &'static str,
}

impl<'a> Ending<'a> {
    fn new(emit: &'a mut Emitter, states: &'a mut TcpStates, reason: &'static str) -> Self {
        Ending {
            emit,
            states,
            reason,
        }
    }
}

impl OnEnded for Ending<'_> {
    /// Its TCP state is read when it ends (for `app_proto`, and to release it): an evicted
    /// flow's is long out of the cache.
    #[inline(always)]
    fn soon(&self, flow: &Flow) {
        if let Some(id) = flow.tcp {
            self.states.prefetch_whole(id);
        }
    }

    /// Write its address alerts if the application layer never spoke, and its flow record.
    fn ended(&mut self, key: &FlowKey, mut flow: Flow) {
        let Ending {
            emit,
            states,
            reason,
        } = self;
        if let Some(id) = flow.tcp {
            let streams = &states.get(id).streams;
            flow.app_proto = flow.app_proto.or_else(|| tcp_app_proto(streams));
        }
        if let Some(first) = flow.extras.first_pending() {
            let mut head = Head::new(
                key,
                first.sender,
                first.ts_us,
                flow.first_seen_us,
                &[],
                None,
            );
            head.app_proto = flow.app_proto;
            emit.flush_pending(key, &head, App::None, &mut flow.extras);
        }
        emit.flow_record(key, &flow, reason);
        states.give(flow.tcp.take());
    }
}
