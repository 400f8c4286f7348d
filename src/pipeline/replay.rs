//! File replay with no capture thread: each worker reads every capture file through its own
//! memory map, decodes each packet as far as the flow key, and inspects the packets whose
//! flow is its own ([`worker_of_packet`], as the capture thread routes them).
//! Nothing is copied, queued or decoded twice, and the workers share nothing but the map's
//! pages: on a machine with as many cores as workers this is faster than a capture thread
//! feeding them (which would need a core of its own).
//!
//! Used for regular files with any number of workers; one worker owns every flow and skips the
//! flow hash. Small files come read ahead by one thread for all workers
//! ([`super::readahead`]). A capture thread in front of a single worker (as streams and live
//! capture have, see [`super::files`], [`super::live`]) would spend more CPU on copying the
//! packets than it saves the worker: measured on the 1 GB mix, one thread alone took
//! 0.53–0.59 s of wall time and 0.56–0.65 s of CPU, the two threads 0.60–0.64 s and
//! 0.99–1.07 s.
//!
//! Every worker sees every packet, so what is about the input rather than its flows is the
//! same in each and taken from worker 0 alone: IP fragments (each worker reassembles every
//! fragmented datagram and keeps the ones it owns; the reassembly counters are worker 0's),
//! progress, files cut short or unreadable. Frames that do not decode are counted by one
//! worker, in turn.

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};

use super::readahead::{Ahead, Behind};
use super::tally::InputTally;
use super::{Progress, RunReport, WorkerLane, WorkerOutput};
use crate::capture::{self, mapped, Filter, Inputs, RawPacket};
use crate::decode::defrag::{DefragStats, Defragmenter};
use crate::decode::link::linktype;
use crate::decode::{self, Transport};
use crate::flow::key::worker_of_packet;
use crate::inspect::{Inspector, PacketRef, WorkerStats};

/// Own packets between two looks at reloaded indicators and two hand-overs of output (the
/// batch size of the capture-thread path).
const PACKETS_PER_ROUND: u64 = super::batch::BATCH_PACKETS as u64;

/// True when `inputs` can be replayed this way: regular files only (a stream, such as
/// standard input or a pipe, can be read only once).
pub(crate) fn suits(inputs: &Inputs) -> bool {
    inputs.files.iter().all(|f| f.size.is_some())
}

/// What worker 0 reports about the input.
pub(crate) struct InputReport {
    tally: InputTally,
    defrag: DefragStats,
}

impl InputReport {
    pub fn into_run_report(self, report: &mut RunReport) {
        self.tally.report_into(report);
        report.defrag = self.defrag;
    }
}

/// One worker's replay of every input file. `progress` is given to worker 0 only; `ahead`
/// hands over small files already read ([`super::readahead`]), in order.
pub(crate) fn replay_worker(
    stop: &AtomicBool,
    inputs: &Inputs,
    mut inspector: Inspector,
    lane: WorkerLane,
    mut filter: Filter,
    mut progress: Option<Box<dyn FnMut(Progress) + Send>>,
    mut ahead: Option<Behind>,
) -> (WorkerStats, InputReport) {
    let workers = lane.workers as u64;
    let me = lane.index as u64;
    let mut output = WorkerOutput::new(lane);
    let mut defrag = Defragmenter::default();
    let mut tally = InputTally::default();
    let mut own = 0u64;
    let mut undecodable = 0u64;
    for (index, file) in inputs.files.iter().enumerate() {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let name = output.file_name(index);
        let on_packet = |raw: RawPacket<'_>| {
            if stop.load(Ordering::Relaxed) {
                return ControlFlow::Break(());
            }
            let report_progress = tally.packet(raw.data.len());
            let p = PacketRef {
                ts_us: raw.ts_us,
                linktype: raw.linktype,
                data: raw.data,
                file: name.as_ref(),
            };
            let own_before = own;
            let mine = match decode::decode(p.linktype, p.data) {
                Ok(pkt) => match pkt.transport {
                    Transport::Fragment(frag) => {
                        let ready =
                            defrag.add_and_take_ready(p.ts_us, pkt.src, pkt.dst, pkt.proto, &frag);
                        for (ts_us, bytes) in ready {
                            let whole = PacketRef {
                                ts_us,
                                linktype: linktype::RAW,
                                data: &bytes,
                                ..p
                            };
                            own += u64::from(inspect_if_mine(&mut inspector, whole, workers, me));
                        }
                        false
                    }
                    _ => owned_by(&pkt, workers, me)
                        .then(|| inspector.decoded(p, &pkt))
                        .is_some(),
                },
                Err(_) => {
                    undecodable += 1;
                    // Counted as skipped, with its reason, by one worker.
                    (undecodable % workers == me)
                        .then(|| inspector.packet(p))
                        .is_some()
                }
            };
            own += u64::from(mine);
            if own / PACKETS_PER_ROUND != own_before / PACKETS_PER_ROUND {
                output.round(&mut inspector);
                // A reload takes effect from the next round on.
                inspector.refresh_indicators();
            }
            if report_progress {
                if let Some(progress) = progress.as_mut() {
                    progress(tally.progress(output.alerts_total()));
                }
            }
            ControlFlow::Continue(())
        };
        let loaded = ahead.as_mut().and_then(Behind::next_file);
        let end = match loaded.as_ref().map(|a| a.get()) {
            Some(Ahead::Loaded(bytes)) => mapped::read_loaded(file, bytes, &mut filter, on_packet),
            Some(Ahead::Failed(e)) => Err(e.clone()),
            // A large file, no reader ahead, or a reader that has stopped.
            _ => capture::read_file(file, &mut filter, || ControlFlow::Continue(()), on_packet),
        };
        tally.file_done(file, end);
        if let Some(progress) = progress.as_mut() {
            progress(tally.progress(output.alerts_total()));
        }
    }
    // What reassembly still holds: partial datagrams, inspected by their owners.
    let mut partials = Vec::new();
    defrag.drain(|ts, bytes| partials.push((ts, bytes.to_vec())));
    let last_file = output.file_name(inputs.files.len().saturating_sub(1));
    for (ts_us, bytes) in partials {
        let p = PacketRef {
            ts_us,
            linktype: linktype::RAW,
            data: &bytes,
            file: last_file.as_ref(),
        };
        inspect_if_mine(&mut inspector, p, workers, me);
    }
    let input = InputReport {
        tally,
        defrag: defrag.stats.clone(),
    };
    (output.finish(inspector), input)
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
