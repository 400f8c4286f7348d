//! Threads and channels: capture thread(s) → N workers → one writer.
//!
//! ```text
//!  capture (this thread, or one per interface)   workers (N threads)          writer (1 thread)
//!  read packet, flow hash  ──►   Inspector::packet per packet    ──►   EVE lines to the sink
//!  batch[h % N], send full       send output per batch                 flush ≤ every 100 ms
//!  ◄── emptied batches come back for reuse                             stats records, reopen
//! ```
//! - Every channel is bounded. What happens when a worker's queue is full is a named choice
//!   ([`dispatch::WhenFull`]): file input *blocks* (no packet is ever dropped when reading
//!   files); live input never blocks the capture: the batch is dropped and counted.
//! - The flow hash is symmetric ([`crate::flow::key::worker_of_packet`]), so both directions
//!   of a flow go to the same worker, which owns that flow's state alone: no lock on the
//!   packet path. IP fragments are reassembled before dispatch ([`crate::decode::defrag`]).
//! - With one worker there is nothing to route: the capture thread only copies, and the
//!   worker decodes and reassembles fragments itself.
//! - Regular capture files take another shape (`replay`): no capture thread; the workers read
//!   the files through the memory map (a large pcap or pcapng file in chunks, each walked by
//!   one worker for all, `split` and `exchange`; small files read once for all, ahead of them,
//!   by `readahead`) and each inspects its own flows. Streams (standard input, pipes) and
//!   live interfaces have the capture thread.
//! - Batches are recycled: `N × (QUEUE_DEPTH + 2)` of them exist per capture thread.
//! - Shutdown by ownership: when input ends (or a signal stops it) the capture threads drop
//!   their senders; each worker drains its queue, writes what its flows still hold, sends its
//!   last lines and ends; the writer ends when every worker has, after a final flush. Nothing
//!   found is lost.

pub mod batch;
pub mod dispatch;
mod exchange;
mod files;
mod live;
mod lookahead;
mod readahead;
mod replay;
mod split;
pub mod stats;
mod tally;
pub mod writer;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};

use crate::capture::live::LiveCapture;
use crate::capture::{self, Inputs};
use crate::decode::defrag::DefragStats;
use crate::eve::sink::Sink;
use crate::inspect::{EventTypes, Inspector, PacketRef, WorkerStats};
use crate::intel::reload::SharedIndicators;
use batch::Batch;
use stats::StatsBoard;
pub use writer::{WriterControl, FLUSH_INTERVAL};

/// The split walk of `file` (any bytes, as a capture file), for 1 to 3 workers and several
/// chunk sizes, held to what one reader finds: panics where they differ (the `split_walk` fuzz
/// target).
#[cfg(fuzzing)]
#[doc(hidden)]
pub fn split_agrees_with_one_reader(file: &[u8]) {
    use split::agreement::{check, Driving, Met};
    check(file, 0, Driving::OneThread, &mut Met::default());
}

/// Batches queued per worker.
pub const QUEUE_DEPTH: usize = 8;
/// How often a worker publishes its counters for `stats` records.
const PUBLISH_INTERVAL: Duration = Duration::from_secs(1);

/// Where packets come from.
pub enum Source {
    /// Capture files and standard input.
    Files(Inputs),
    /// Open network interfaces.
    Live(Vec<LiveCapture>),
}

/// What a run needs.
pub struct RunConfig {
    /// Indicators (replaced whole on reload; workers take them between batches).
    pub indicators: Arc<SharedIndicators>,
    /// Record types to write.
    pub events: EventTypes,
    /// Worker threads (at least 1).
    pub workers: usize,
    /// Flows tracked by all workers together (see [`crate::flow::FlowTable::for_worker_of`]).
    pub max_flows: usize,
    /// Capture filter (files; live interfaces compile their own).
    pub filter: capture::Filter,
    /// Set by a signal: stop reading, drain, write everything found, end.
    pub stop: Arc<AtomicBool>,
    /// Called by the capture thread after each file and every few thousand packets.
    pub progress: Option<Box<dyn FnMut(Progress) + Send>>,
}

/// Progress of a run, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Bytes of input read.
    pub bytes_read: u64,
    /// Packets read.
    pub packets: u64,
    /// Alerts written so far.
    pub alerts: u64,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct RunReport {
    /// Merged worker counters.
    pub stats: WorkerStats,
    /// Wall time.
    pub elapsed: Duration,
    /// Files that ended inside a record (`path: reason`).
    pub cut_short: Vec<String>,
    /// Files that could not be read at all (`path: reason`; a failed worker too).
    pub failed: Vec<String>,
    /// Input files read (to their end, or cut short, or until stopped).
    pub files_read: u64,
    /// EVE lines written.
    pub lines_written: u64,
    /// Error writing the output, if any.
    pub write_error: Option<String>,
    /// Packets read from the inputs (fragments included).
    pub packets_read: u64,
    /// IP fragment reassembly (done by the capture threads).
    pub defrag: DefragStats,
    /// Live capture: kernel and queue counters.
    pub kernel_packets: u64,
    /// Live capture: packets the kernel dropped.
    pub kernel_drops: u64,
    /// Live capture: packets the interfaces dropped.
    pub kernel_ifdrops: u64,
    /// Live capture: packets dropped because a worker's queue was full.
    pub queue_drops: u64,
    /// Live capture: interface failures.
    pub interface_errors: u64,
}

/// What the capture side hands to the workers.
pub(crate) struct Lanes {
    /// One queue per worker.
    pub queues: Vec<Sender<Batch>>,
    /// Emptied batches.
    pub recycle: Receiver<Batch>,
    /// Feeds the recycle channel (live capture threads each add their own batches).
    pub recycle_tx: Sender<Batch>,
    /// Alerts written so far (for progress).
    pub alerts: Arc<AtomicU64>,
}

/// Run the pipeline over `source`, writing to `sink`.
pub fn run(mut config: RunConfig, source: Source, sink: Sink, control: WriterControl) -> RunReport {
    let started = Instant::now();
    let n = config.workers.max(1);
    let files: Arc<Vec<Arc<str>>> = Arc::new(match &source {
        Source::Files(inputs) => inputs.files.iter().map(|f| f.name.clone()).collect(),
        Source::Live(_) => Vec::new(),
    });
    let board = control
        .stats
        .as_ref()
        .map(|(b, _)| Arc::clone(b))
        .unwrap_or_else(|| Arc::new(StatsBoard::new(n)));
    let alerts = Arc::new(AtomicU64::new(0));
    let (recycle_tx, recycle_rx) = bounded::<Batch>(n * (QUEUE_DEPTH + 2) * 4);
    let (out_tx, out_rx) = bounded::<(Vec<u8>, u64)>(n * 4);
    let mut report = RunReport::default();

    // Regular files: replayed by the workers themselves (see `replay`).
    let shape = match source {
        Source::Files(inputs) if replay::suits(&inputs) => Shape::Replay(Arc::new(inputs)),
        source => Shape::Threads(source),
    };

    std::thread::scope(|scope| {
        let writer = scope.spawn(move || writer::write_loop(sink, out_rx, control));
        let lane = |index| WorkerLane {
            index,
            workers: n,
            out: out_tx.clone(),
            files: Arc::clone(&files),
            alerts: Arc::clone(&alerts),
            board: Arc::clone(&board),
        };
        let inspector = || {
            Inspector::new(
                Arc::clone(&config.indicators),
                config.events,
                n,
                config.max_flows,
            )
        };
        let mut workers = Vec::with_capacity(n);
        match shape {
            Shape::Replay(inputs) => {
                let stop = &*config.stop;
                let mut progress = config.progress.take();
                let mut ahead: Vec<Option<readahead::Behind>> = (0..n).map(|_| None).collect();
                if readahead::suits(&inputs) {
                    let (senders, receivers) = readahead::queues(n);
                    ahead = receivers.into_iter().map(Some).collect();
                    let inputs = Arc::clone(&inputs);
                    scope.spawn(move || readahead::read_ahead(stop, &inputs, senders));
                }
                let mut replays = Vec::with_capacity(n);
                let mut links: Vec<Option<split::Links>> = match n {
                    1 => vec![None],
                    _ => split::links(n).into_iter().map(Some).collect(),
                };
                for (index, ahead) in ahead.into_iter().enumerate() {
                    let links = links[index].take();
                    let (inspector, lane) = (inspector(), lane(index));
                    let filter = config.filter.duplicate();
                    let (inputs, progress) = (Arc::clone(&inputs), progress.take());
                    replays.push(scope.spawn(move || {
                        replay::replay_worker(
                            stop, &inputs, inspector, lane, filter, progress, ahead, links,
                        )
                    }));
                }
                drop(out_tx);
                for (index, r) in replays.into_iter().enumerate() {
                    match r.join() {
                        Ok((stats, input)) => {
                            report.stats.merge(&stats);
                            if index == 0 {
                                input.into_run_report(&mut report);
                            } else {
                                input.add_failures_to(&mut report);
                            }
                        }
                        Err(panic) => report.failed.push(worker_failed(index, &*panic)),
                    }
                }
            }
            Shape::Threads(source) => {
                let mut queues = Vec::with_capacity(n);
                for index in 0..n {
                    let (tx, rx) = bounded::<Batch>(QUEUE_DEPTH);
                    queues.push(tx);
                    let (inspector, lane, recycle) = (inspector(), lane(index), recycle_tx.clone());
                    workers.push(scope.spawn(move || work_loop(inspector, lane, rx, recycle)));
                }
                drop(out_tx);
                let lanes = Lanes {
                    queues,
                    recycle: recycle_rx,
                    recycle_tx,
                    alerts: Arc::clone(&alerts),
                };
                match source {
                    Source::Files(inputs) => {
                        files::capture(&mut config, &inputs, lanes, &mut report)
                    }
                    Source::Live(handles) => {
                        live::capture(&config, handles, lanes, &board, &mut report)
                    }
                }
                for (index, w) in workers.into_iter().enumerate() {
                    match w.join() {
                        Ok(stats) => report.stats.merge(&stats),
                        Err(panic) => report.failed.push(worker_failed(index, &*panic)),
                    }
                }
            }
        }
        match writer.join() {
            Ok(Ok(lines)) => report.lines_written = lines,
            Ok(Err(e)) => report.write_error = Some(e.to_string()),
            Err(_) => report.write_error = Some("writer thread failed".into()),
        }
    });
    // Fragments reassembled by a run's only worker.
    let by_worker = std::mem::take(&mut report.stats.defrag);
    report.defrag.merge(&by_worker);
    let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
    report.kernel_packets = get(&board.kernel_packets);
    report.kernel_drops = get(&board.kernel_drops);
    report.kernel_ifdrops = get(&board.kernel_ifdrops);
    report.queue_drops = get(&board.queue_drops);
    report.interface_errors = get(&board.interface_errors);
    report.elapsed = started.elapsed();
    report
}

/// What the run reports of a worker that stopped on a panic (a bug: no input is meant to
/// cause one): the run then fails, instead of ending as if every packet had been inspected.
fn worker_failed(index: usize, panic: &(dyn std::any::Any + Send)) -> String {
    let why = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message");
    format!(
        "worker {index} stopped on an internal error ({why}): the packets it had yet to \
         inspect were lost, with any alerts they would have raised"
    )
}

/// How a run is laid out (see the module documentation).
enum Shape {
    /// Regular capture files: the workers read the files themselves (see `replay`).
    Replay(Arc<Inputs>),
    /// Capture threads (one for the files, or one per interface) feeding the workers.
    Threads(Source),
}

/// Where one worker's results go.
struct WorkerLane {
    index: usize,
    workers: usize,
    out: Sender<(Vec<u8>, u64)>,
    files: Arc<Vec<Arc<str>>>,
    alerts: Arc<AtomicU64>,
    board: Arc<StatsBoard>,
}

/// A worker's hand-over of results: EVE lines to the writer, its alert count to the progress
/// counter, its counters to the stats board (at least once a second).
struct WorkerOutput {
    lane: WorkerLane,
    alerts_reported: u64,
    last_publish: Instant,
}

impl WorkerOutput {
    fn new(lane: WorkerLane) -> Self {
        WorkerOutput {
            lane,
            alerts_reported: 0,
            last_publish: Instant::now(),
        }
    }

    /// The name of input file `index`.
    fn file_name(&self, index: usize) -> Option<Arc<str>> {
        self.lane.files.get(index).cloned()
    }

    /// Alerts written by all workers so far.
    fn alerts_total(&self) -> u64 {
        self.lane.alerts.load(Ordering::Relaxed)
    }

    /// After a batch: hand over what was written, publish counters when due.
    fn round(&mut self, inspector: &mut Inspector) {
        send_output(inspector, &self.lane.out);
        let now = inspector.alerts_written();
        self.lane
            .alerts
            .fetch_add(now - self.alerts_reported, Ordering::Relaxed);
        self.alerts_reported = now;
        if self.last_publish.elapsed() >= PUBLISH_INTERVAL {
            self.publish(inspector);
        }
    }

    fn publish(&mut self, inspector: &Inspector) {
        self.lane.board.publish(self.lane.index, inspector.stats());
        self.last_publish = Instant::now();
    }

    /// End of input: write what the flows still hold, hand it over, return the counters.
    fn finish(mut self, mut inspector: Inspector) -> WorkerStats {
        let last_file = self.lane.files.last().cloned();
        inspector.finish(last_file.as_ref());
        self.round(&mut inspector);
        let stats = inspector.stats();
        self.lane.board.publish(self.lane.index, stats.clone());
        stats
    }
}

fn work_loop(
    mut inspector: Inspector,
    lane: WorkerLane,
    rx: Receiver<Batch>,
    recycle: Sender<Batch>,
) -> WorkerStats {
    let mut output = WorkerOutput::new(lane);
    loop {
        // Wake up at least once per publishing interval, so that `stats` records stay current
        // when the link is quiet.
        let mut batch = match rx.recv_timeout(PUBLISH_INTERVAL) {
            Ok(batch) => batch,
            Err(RecvTimeoutError::Timeout) => {
                output.publish(&inspector);
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        // A reload takes effect from the next batch on (no packet is matched twice).
        inspector.refresh_indicators();
        for p in &batch.packets {
            let file = output.lane.files.get(p.file as usize);
            inspector.packet(PacketRef {
                ts_us: p.ts_us,
                linktype: p.linktype,
                data: batch.bytes(p),
                file,
            });
        }
        batch.clear();
        let _ = recycle.try_send(batch);
        output.round(&mut inspector);
    }
    output.finish(inspector)
}

fn send_output(inspector: &mut Inspector, out: &Sender<(Vec<u8>, u64)>) {
    let mut lines = Vec::new();
    let count = inspector.take_output(&mut lines);
    if count > 0 {
        let _ = out.send((lines, count));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_that_panicked_is_reported_with_its_message() {
        for (payload, why) in [
            (
                Box::new("index out of bounds") as Box<dyn std::any::Any + Send>,
                "index out of bounds",
            ),
            (
                Box::new(String::from("attempt to subtract with overflow")),
                "attempt to subtract with overflow",
            ),
            (Box::new(42u8), "no message"),
        ] {
            let panic = std::thread::spawn(move || std::panic::resume_unwind(payload))
                .join()
                .expect_err("the thread panicked");
            let said = worker_failed(1, &*panic);
            assert!(
                said.starts_with(&format!("worker 1 stopped on an internal error ({why})")),
                "{said}"
            );
        }
    }
}
