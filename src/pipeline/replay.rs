//! File replay with no capture thread: the workers read the capture files themselves, each
//! through its own memory map or the bytes read ahead for all, and each inspects the packets
//! whose flow is its own ([`worker_of_packet`], as the capture thread routes them). Nothing is
//! copied or queued, and on a machine with as many cores as workers this is faster than a
//! capture thread feeding them (which would need a core of its own).
//!
//! Two ways to share a file out:
//! - **Large pcap and pcapng files, two workers or more: the split walk** ([`super::split`]).
//!   The file's chunks are walked by whichever worker comes for one first
//!   ([`super::exchange`]), which hands the others their packets, so each record is walked
//!   once and decoded once, by its owner: the walker reads a plain
//!   frame's endpoints alone ([`crate::decode::plain_endpoints`]) and decodes only the others
//!   whole. On the 1 GB mix with a one-line feed, two workers took 0.27–0.29 s
//!   where each walking every record took 0.35–0.39 s, and one worker 0.38–0.45 s (before
//!   the walker read endpoints alone). The same mix as pcapng: 0.23 s where each walking
//!   every block took 0.27 s.
//! - **Every other file: each worker reads all of it** (small files, the "modified" pcap
//!   format, a file whose first packet lies past its first megabyte) and skips the packets of
//!   other workers' flows: a plain frame's by its endpoints alone, any other once decoded. One
//!   worker owns every flow and skips the check. Small files come read ahead by one thread
//!   for all workers ([`super::readahead`]).
//!
//! Packets of a file (not of a stream, whose buffer is reused) go through a
//! [`Lookahead`]: while flows open fast, each is held back a few places so that the memory
//! its inspection reads first is asked for ahead (see [`super::lookahead`]).
//!
//! A capture thread in front of a single worker (as streams and live capture have, see
//! [`super::files`], [`super::live`]) would spend more CPU on copying the packets than it
//! saves the worker: measured on the 1 GB mix, one thread alone took 0.53–0.59 s of wall time
//! and 0.56–0.65 s of CPU, the two threads 0.60–0.64 s and 0.99–1.07 s.
//!
//! What is about the input rather than its flows is taken from worker 0 alone: progress and
//! files cut short or unreadable (in the split walk, each chunk's walker tells how many
//! packets it read). IP fragments reach every worker, which reassembles every fragmented
//! datagram and keeps the ones it owns; the reassembly counters are worker 0's. Frames that
//! do not decode are counted by one worker: in turn, or in the split walk the one the chunk's
//! number names.

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::exchange::Seat;
use super::lookahead::{Ask, Churn, Lookahead};
use super::readahead::{Ahead, Behind};
use super::split::{FailsOnPanic, Handling, Item, Links, Plan, PlanLink, Reading};
use super::tally::InputTally;
use super::{Progress, RunReport, WorkerLane, WorkerOutput};
use crate::capture::{self, mapped, Filter, Inputs, RawPacket, ReadEnd};
use crate::decode::defrag::{DefragStats, Defragmenter, Fragment};
use crate::decode::link::linktype;
use crate::decode::{self, Transport};
use crate::flow::key::{worker_of_packet, worker_of_plain};
use crate::inspect::{FlowAhead, Inspector, PacketRef, WorkerStats};

/// Own packets between two looks at reloaded indicators and two hand-overs of output (the
/// batch size of the capture-thread path).
const PACKETS_PER_ROUND: u64 = super::batch::BATCH_PACKETS as u64;
/// How many handed-over packets ahead of the one inspected the next one's bytes are asked for.
const ITEMS_AHEAD: usize = 16;

/// True when `inputs` can be replayed this way: regular files only (a stream, such as
/// standard input or a pipe, can be read only once).
pub(crate) fn suits(inputs: &Inputs) -> bool {
    inputs.files.iter().all(|f| f.size.is_some())
}

/// What a worker reports about the input: worker 0 for the run, the others their failures.
pub(crate) struct InputReport {
    tally: InputTally,
    defrag: DefragStats,
}

impl InputReport {
    /// Worker 0's report: the run's.
    pub fn into_run_report(self, report: &mut RunReport) {
        self.tally.report_into(report);
        report.defrag = self.defrag;
    }

    /// Another worker's report: the files it could not read that worker 0 could (each worker
    /// opens small and other whole files itself; one that vanished in between lost that
    /// worker's flows). Put in after worker 0's.
    pub fn add_failures_to(self, report: &mut RunReport) {
        self.tally.add_failures_to(report);
    }
}

/// One worker's replay of every input file. `progress` is given to worker 0 only; `ahead`
/// hands over small files already read ([`super::readahead`]), in order; `links` connect the
/// workers for the split walk of large pcap files ([`super::split`]; none with one worker).
#[allow(clippy::too_many_arguments)]
pub(crate) fn replay_worker(
    stop: &AtomicBool,
    inputs: &Inputs,
    inspector: Inspector,
    lane: WorkerLane,
    mut filter: Filter,
    progress: Option<Box<dyn FnMut(Progress) + Send>>,
    mut ahead: Option<Behind>,
    links: Option<Links>,
) -> (WorkerStats, InputReport) {
    // A failure anywhere in this worker tells the others not to wait for it in split files.
    let _fails = links.as_ref().map(|l| FailsOnPanic(Arc::clone(&l.failed)));
    let mut worker = Replay {
        workers: lane.workers as u64,
        me: lane.index as u64,
        output: WorkerOutput::new(lane),
        inspector,
        defrag: Defragmenter::default(),
        tally: InputTally::default(),
        own: 0,
        undecodable: 0,
        progress,
        churn: Churn::default(),
    };
    for (index, file) in inputs.files.iter().enumerate() {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let name = worker.output.file_name(index);
        let name = name.as_ref();
        let loaded = ahead.as_mut().and_then(Behind::next_file);
        let end = match loaded.as_ref().map(|a| a.get()) {
            Some(Ahead::Loaded(bytes)) => {
                let mut held = Lookahead::default();
                let end = mapped::read_loaded(file, bytes, &mut filter, |raw| {
                    worker.read(stop, raw, name, Some(&mut held))
                });
                worker.drain(&mut held);
                end
            }
            Some(Ahead::Failed(e)) => Err(e.clone()),
            // A large file (no reader ahead, or one that has stopped: any file), which worker 0
            // looks at for the others: walked in chunks by all, or read whole by each.
            _ => match links
                .as_ref()
                .filter(|_| !mapped::is_small(file))
                .and_then(|l| worker.plan(file, l))
            {
                Some(plan) => worker.split(stop, &plan, &mut filter, (file, name)),
                None if file.size.is_some() => mapped::open(file).and_then(|bytes| {
                    let mut held = Lookahead::default();
                    let end = mapped::read_open(file, &bytes, &mut filter, |raw| {
                        worker.read(stop, raw, name, Some(&mut held))
                    });
                    worker.drain(&mut held);
                    end
                }),
                // A stream: its buffer is reused, so no packet is held back.
                None => capture::read_file(
                    file,
                    &mut filter,
                    || ControlFlow::Continue(()),
                    |raw| worker.read(stop, raw, name, None),
                ),
            },
        };
        worker.tally.file_done(file, end);
        worker.report_progress();
    }
    // Before the worker's last output: a worker still waiting for worker 0's next plan (worker
    // 0 stopped early) sees the channel close.
    drop(links);
    worker.finish(inputs)
}

/// Whose a frame is before it is decoded ([`Replay::plain_owner`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PlainOwner {
    /// A plain frame of this worker's flows.
    ThisWorker,
    /// A plain frame of another worker's flows.
    Another,
    /// A frame that is not plain.
    NotKnown,
}

/// A replay worker's state across files.
struct Replay {
    workers: u64,
    me: u64,
    output: WorkerOutput,
    inspector: Inspector,
    defrag: Defragmenter,
    tally: InputTally,
    /// Packets of this worker's own flows so far.
    own: u64,
    /// Frames that did not decode so far (one worker in turn counts each).
    undecodable: u64,
    progress: Option<Box<dyn FnMut(Progress) + Send>>,
    /// Whether packets are held back for their flows to be asked for ahead.
    churn: Churn,
}

impl Replay {
    /// A packet read by this worker from a file that every worker reads: inspected when its
    /// flow is this worker's, now or once `held` lets it go (none for a stream, whose packets
    /// cannot be held back).
    fn read<'a>(
        &mut self,
        stop: &AtomicBool,
        raw: RawPacket<'a>,
        file: Option<&'a Arc<str>>,
        held: Option<&mut Lookahead<'a>>,
    ) -> ControlFlow<()> {
        if stop.load(Ordering::Relaxed) {
            return ControlFlow::Break(());
        }
        let report_progress = self.tally.packet(raw.data.len());
        let p = PacketRef {
            ts_us: raw.ts_us,
            linktype: raw.linktype,
            data: raw.data,
            file,
        };
        if self.workers == 1 {
            // A lone worker's packets are all its own (and nothing is asked: a branch per
            // packet fewer on the path of one worker, which takes `None` as a constant).
            self.take(p, None, held);
        } else {
            match self.plain_owner(raw.linktype, raw.data) {
                PlainOwner::Another => {}
                // Not checked again once decoded.
                PlainOwner::ThisWorker => self.take(p, Some(Handling::Owned), held),
                PlainOwner::NotKnown => self.take(p, None, held),
            }
        }
        if report_progress {
            self.report_progress();
        }
        ControlFlow::Continue(())
    }

    /// A packet this worker read and is to decode: through `held` when there is one.
    #[inline(always)]
    fn take<'a>(
        &mut self,
        p: PacketRef<'a>,
        handling: Option<Handling>,
        held: Option<&mut Lookahead<'a>>,
    ) {
        match held {
            Some(held) => self.hold(p, handling, held),
            None => self.act(p, &decode::decode(p.linktype, p.data), handling, None),
        }
    }

    /// Decode a packet and pass it through `held` (`handling`: as its walker said, or as its
    /// endpoints said when this worker read it itself, or `None` when that is not known yet),
    /// and act on whatever comes out. While holding back is off and nothing is held, the
    /// packet is acted on at once; else it is decoded into its slot of `held`, where it stays
    /// until inspected.
    #[inline(always)]
    fn hold<'a>(&mut self, p: PacketRef<'a>, handling: Option<Handling>, held: &mut Lookahead<'a>) {
        if self.churn.count(|| self.inspector.flows_created()) {
            self.drain(held);
        }
        if !self.churn.on() && held.is_empty() {
            return self.act(p, &decode::decode(p.linktype, p.data), handling, None);
        }
        let slot = held.vacant();
        slot.decoded = decode::decode(p.linktype, p.data);
        slot.p = p;
        slot.handling = handling;
        slot.flow = match &slot.decoded {
            Ok(pkt) if self.inspects(pkt, handling) => Some(self.inspector.flow_ahead(pkt)),
            _ => None,
        };
        let inspector = &self.inspector;
        let pushed = held.push(|ask, packet| match (&packet.flow, ask, &packet.decoded) {
            (Some(flow), Ask::Flow, _) => inspector.prefetch_flow(flow),
            (Some(flow), Ask::TcpState, Ok(pkt)) => inspector.prefetch_tcp_state(flow, pkt),
            _ => {}
        });
        if let Some(now) = pushed {
            self.act(now.p, &now.decoded, now.handling, now.flow.as_ref());
        }
    }

    /// Act on every packet still held, in order.
    fn drain(&mut self, held: &mut Lookahead<'_>) {
        while let Some(now) = held.pop() {
            self.act(now.p, &now.decoded, now.handling, now.flow.as_ref());
        }
    }

    /// Whose a frame this worker read is, as far as a plain frame's endpoints tell without
    /// decoding it whole ([`decode::plain_endpoints`]). Several workers each read small files
    /// (and once large pcapng files) whole, and each decoded every packet to find its own.
    #[inline(always)]
    fn plain_owner(&self, linktype: i32, frame: &[u8]) -> PlainOwner {
        match decode::plain_endpoints(linktype, frame) {
            Some(e) if worker_of_plain(e, self.workers) == self.me => PlainOwner::ThisWorker,
            Some(_) => PlainOwner::Another,
            None => PlainOwner::NotKnown,
        }
    }

    /// True when `pkt` (decoded) is to be inspected by this worker: its flow is this worker's,
    /// as its walker said (`handling`) or as the flow hash says.
    #[inline(always)]
    fn inspects(&self, pkt: &decode::Packet<'_>, handling: Option<Handling>) -> bool {
        match handling {
            Some(handling) => handling == Handling::Owned,
            None => {
                !matches!(pkt.transport, Transport::Fragment(_))
                    && owned_by(pkt, self.workers, self.me)
            }
        }
    }

    /// Inspect, reassemble, count or pass a packet (`flow`: its flow, when found ahead).
    #[inline(always)]
    fn act(
        &mut self,
        p: PacketRef<'_>,
        decoded: &Result<decode::Packet<'_>, decode::Skip>,
        handling: Option<Handling>,
        flow: Option<&FlowAhead>,
    ) {
        let mine = match decoded {
            // A flow found ahead is one this worker inspects: no need to ask again.
            Ok(pkt) if flow.is_some() || self.inspects(pkt, handling) => {
                self.inspector.decoded_ahead(p, pkt, flow);
                true
            }
            Ok(pkt) => {
                if let Transport::Fragment(frag) = &pkt.transport {
                    self.fragment(p, pkt, frag);
                }
                false
            }
            // Counted as skipped, with its reason, by one worker: the one the split walk's chunk
            // names, or in turn.
            Err(_) => match handling {
                Some(_) => {
                    self.inspector.packet(p);
                    true
                }
                None => {
                    self.undecodable += 1;
                    (self.undecodable % self.workers == self.me)
                        .then(|| self.inspector.packet(p))
                        .is_some()
                }
            },
        };
        self.inspected(mine);
    }

    /// The packets of a chunk handed to this worker, in file order.
    fn handed_all<'a>(
        &mut self,
        items: impl Iterator<Item = &'a Item> + Clone,
        plan: &Plan,
        file: Option<&Arc<str>>,
    ) {
        let mut later = items.clone().skip(ITEMS_AHEAD);
        let mut held = Lookahead::default();
        for item in items {
            // The walker read these bytes on another core: ask for them a few packets early.
            if let Some(later) = later.next() {
                mapped::prefetch_headers(later.data(plan));
            }
            let p = PacketRef {
                ts_us: item.ts_us,
                linktype: item.linktype,
                data: item.data(plan),
                file,
            };
            self.hold(p, Some(item.handling), &mut held);
        }
        self.drain(&mut held);
    }

    /// A fragment, which every worker reassembles: the datagrams it completes are inspected by
    /// their owners.
    fn fragment(&mut self, p: PacketRef<'_>, pkt: &decode::Packet<'_>, frag: &Fragment<'_>) {
        let ready = self
            .defrag
            .add_and_take_ready(p.ts_us, pkt.src, pkt.dst, pkt.proto, frag);
        for (ts_us, bytes) in ready {
            let whole = PacketRef {
                ts_us,
                linktype: linktype::RAW,
                data: &bytes,
                ..p
            };
            let mine = inspect_if_mine(&mut self.inspector, whole, self.workers, self.me);
            self.inspected(mine);
        }
    }

    /// Count a packet inspected (or not) by this worker: every [`PACKETS_PER_ROUND`] own
    /// packets, output goes to the writer and reloaded indicators are taken up.
    fn inspected(&mut self, mine: bool) {
        let before = self.own;
        self.own += u64::from(mine);
        if self.own / PACKETS_PER_ROUND != before / PACKETS_PER_ROUND {
            self.output.round(&mut self.inspector);
            // A reload takes effect from the next round on.
            self.inspector.refresh_indicators();
        }
    }

    fn report_progress(&mut self) {
        if let Some(progress) = self.progress.as_mut() {
            progress(self.tally.progress(self.output.alerts_total()));
        }
    }

    /// Whether `file` is walked in chunks by all workers: worker 0 maps it and tells the
    /// others (see [`super::split`]). `None` when it is not, or when worker 0 is gone.
    fn plan(&self, file: &capture::InputFile, links: &Links) -> Option<Arc<Plan>> {
        match &links.plans {
            PlanLink::First(others) => {
                let plan = Plan::of(file, self.workers as usize, &links.failed).map(Arc::new);
                for to in others {
                    let _ = to.send(plan.clone());
                }
                plan
            }
            PlanLink::Other(first) => first.recv().ok().flatten(),
        }
    }

    /// Replay `plan`'s file with the other workers: take this worker's part of each chunk in
    /// turn (walking chunks as [`Seat::take`] asks), and inspect its packets in file order.
    fn split(
        &mut self,
        stop: &AtomicBool,
        plan: &Plan,
        filter: &mut Filter,
        (input, file): (&capture::InputFile, Option<&Arc<str>>),
    ) -> Result<ReadEnd, String> {
        let (me, workers) = (self.me as usize, self.workers as usize);
        let mut seat = Seat::new(plan, me);
        let mut reading = Reading::new(plan);
        for k in 0..plan.chunks() {
            if stop.load(Ordering::Relaxed) {
                return Ok(ReadEnd::Stopped);
            }
            let Some(walked) = seat.take(k, filter, stop) else {
                if stop.load(Ordering::Relaxed) {
                    return Ok(ReadEnd::Stopped);
                }
                // Another worker left the file without being asked to stop: it failed.
                return Err(capture::named(
                    input,
                    "a worker ended unexpectedly; the rest of this file was not inspected",
                ));
            };
            let Some(walked) = reading.accept(plan, k, walked, (me, workers), filter) else {
                continue;
            };
            if self.tally.packets_read(walked.packets, walked.bytes) {
                self.report_progress();
            }
            // Nearly every chunk has no fragment: its own list alone, without the merge.
            match walked.fragments.is_empty() {
                true => self.handed_all(walked.items.iter(), plan, file),
                false => self.handed_all(walked.in_order(), plan, file),
            }
        }
        Ok(match reading.ended {
            Some(Some(why)) => ReadEnd::CutShort(why),
            _ => ReadEnd::Complete,
        })
    }

    /// End of input: what reassembly still holds, then the worker's last output.
    fn finish(mut self, inputs: &Inputs) -> (WorkerStats, InputReport) {
        let mut partials = Vec::new();
        self.defrag
            .drain(|ts, bytes| partials.push((ts, bytes.to_vec())));
        let last_file = self.output.file_name(inputs.files.len().saturating_sub(1));
        for (ts_us, bytes) in partials {
            let p = PacketRef {
                ts_us,
                linktype: linktype::RAW,
                data: &bytes,
                file: last_file.as_ref(),
            };
            inspect_if_mine(&mut self.inspector, p, self.workers, self.me);
        }
        let input = InputReport {
            tally: self.tally,
            defrag: self.defrag.stats.clone(),
        };
        (self.output.finish(self.inspector), input)
    }
}

/// True when the flow of `pkt` is worker `me`'s, of `workers` (a lone worker owns them all).
#[inline]
fn owned_by(pkt: &decode::Packet<'_>, workers: u64, me: u64) -> bool {
    workers == 1 || worker_of_packet(pkt, workers) == me
}

/// Inspect a reassembled datagram if its flow is this worker's; true when it was.
fn inspect_if_mine(inspector: &mut Inspector, p: PacketRef<'_>, workers: u64, me: u64) -> bool {
    match decode::decode(p.linktype, p.data) {
        Ok(pkt) if owned_by(&pkt, workers, me) => {
            inspector.decoded(p, &pkt);
            true
        }
        Ok(_) => false,
        // Not decodable after reassembly: counted by worker 0.
        Err(_) if me == 0 => {
            inspector.packet(p);
            true
        }
        Err(_) => false,
    }
}
