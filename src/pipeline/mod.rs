//! Threads and channels: one capture thread → N workers → one writer.
//!
//! ```text
//!  capture (this thread)          workers (N threads)              writer (1 thread)
//!  read packet, flow hash  ──►    Inspector::packet per packet ──► EVE lines to the sink
//!  batch[h % N], send full        send output per batch            flush ≤ every 100 ms
//!  ◄── emptied batches come back for reuse
//! ```
//! - Every channel is bounded. File input *blocks* when a worker's queue is full: no packet
//!   is ever dropped when reading files.
//! - The flow hash is symmetric ([`FlowKey::dispatch_hash`]), so both directions of a flow go
//!   to the same worker, which owns that flow's state alone: no lock on the packet path.
//! - IP fragments are reassembled by the capture thread ([`decode::defrag`]) so that the whole
//!   datagram goes to the worker of its flow.
//! - Batches are recycled: `N × (QUEUE_DEPTH + 2)` of them exist for the whole run.
//! - Shutdown by ownership: when input ends the capture thread drops its senders; each worker
//!   drains its queue, writes what its flows still hold, sends its last lines and ends; the
//!   writer ends when every worker has, after a final flush. Nothing found is lost.

pub mod batch;
pub mod dispatch;

use std::cell::RefCell;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};

use crate::capture::{self, Inputs, ReadEnd};
use crate::decode::defrag::DefragStats;
use crate::eve::sink::Sink;
use crate::inspect::{EventTypes, Inspector, PacketRef, WorkerStats};
use crate::intel::reload::SharedIndicators;
use batch::Batch;
use dispatch::Dispatcher;

/// Batches queued per worker.
pub const QUEUE_DEPTH: usize = 8;
/// Longest time an alert waits in the writer before it is flushed to the sink.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(100);

/// What a run needs.
pub struct RunConfig {
    /// Capture files.
    pub inputs: Inputs,
    /// Indicators (replaced whole on reload; workers take them between batches).
    pub indicators: Arc<SharedIndicators>,
    /// Name events to write.
    pub events: EventTypes,
    /// Worker threads (at least 1).
    pub workers: usize,
    /// Capture filter.
    pub filter: capture::Filter,
    /// Set by a signal: stop reading, drain, write everything found, end.
    pub stop: Arc<AtomicBool>,
    /// Called by the capture thread after each file and every few thousand packets.
    pub progress: Option<Box<dyn FnMut(Progress) + Send>>,
}

/// Progress of a run, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Bytes of input read (file sizes as libpcap consumes them).
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
    /// Files that could not be read at all (`path: reason`).
    pub failed: Vec<String>,
    /// EVE lines written.
    pub lines_written: u64,
    /// Error writing the output, if any.
    pub write_error: Option<String>,
    /// Packets read from the inputs (fragments included).
    pub packets_read: u64,
    /// IP fragment reassembly (done by the capture thread).
    pub defrag: DefragStats,
}

/// Size of a pcap record header: progress counts it as read.
const RECORD_HEADER: u64 = 16;

/// Run the pipeline over file inputs, writing to `sink`.
pub fn run_files(mut config: RunConfig, sink: Sink) -> RunReport {
    let started = Instant::now();
    let n = config.workers.max(1);
    let files: Arc<Vec<Arc<str>>> =
        Arc::new(config.inputs.files.iter().map(|f| f.name.clone()).collect());
    let alerts = Arc::new(AtomicU64::new(0));
    let (recycle_tx, recycle_rx) = bounded::<Batch>(n * (QUEUE_DEPTH + 2));
    for _ in 0..n * (QUEUE_DEPTH + 2) {
        let _ = recycle_tx.send(Batch::default());
    }
    let (out_tx, out_rx) = bounded::<(Vec<u8>, u64)>(n * 4);
    let mut report = RunReport::default();

    std::thread::scope(|scope| {
        let writer = scope.spawn(move || write_loop(sink, out_rx));
        let mut queues = Vec::with_capacity(n);
        let mut workers = Vec::with_capacity(n);
        for _ in 0..n {
            let (tx, rx) = bounded::<Batch>(QUEUE_DEPTH);
            queues.push(tx);
            let inspector = Inspector::new(Arc::clone(&config.indicators), config.events);
            let (recycle, out, files, alerts) = (
                recycle_tx.clone(),
                out_tx.clone(),
                Arc::clone(&files),
                Arc::clone(&alerts),
            );
            workers
                .push(scope.spawn(move || work_loop(inspector, rx, recycle, out, files, alerts)));
        }
        drop(out_tx);

        // The capture thread.
        // The two callbacks of a read take turns, never both at once.
        let dispatcher = RefCell::new(Dispatcher::new(queues, recycle_rx));
        let mut bytes_read = 0u64;
        let mut packets = 0u64;
        let mut last_file = 0;
        for (index, input) in config.inputs.files.iter().enumerate() {
            last_file = index as u32;
            let stop = Arc::clone(&config.stop);
            let on_idle = || {
                // A stream paused: what was read reaches the workers now.
                if !dispatcher.borrow_mut().flush() || stop.load(Ordering::Relaxed) {
                    return ControlFlow::Break(());
                }
                ControlFlow::Continue(())
            };
            let end = capture::read_file(input, &mut config.filter, on_idle, |raw| {
                if config.stop.load(Ordering::Relaxed) {
                    return ControlFlow::Break(());
                }
                packets += 1;
                bytes_read += raw.data.len() as u64 + RECORD_HEADER;
                if !dispatcher
                    .borrow_mut()
                    .packet(raw.ts_us, raw.linktype, index as u32, raw.data)
                {
                    return ControlFlow::Break(());
                }
                if packets.is_multiple_of(4096) {
                    if let Some(progress) = config.progress.as_mut() {
                        progress(Progress {
                            bytes_read,
                            packets,
                            alerts: alerts.load(Ordering::Relaxed),
                        });
                    }
                }
                ControlFlow::Continue(())
            });
            match end {
                Ok(ReadEnd::Complete) | Ok(ReadEnd::Stopped) => {}
                Ok(ReadEnd::CutShort(reason)) => {
                    report.cut_short.push(format!("{}: {reason}", input.name))
                }
                Err(e) => report.failed.push(e),
            }
            let whole_files: u64 = config.inputs.files[..=index]
                .iter()
                .filter_map(|f| f.size)
                .sum();
            bytes_read = bytes_read.max(whole_files);
            if let Some(progress) = config.progress.as_mut() {
                progress(Progress {
                    bytes_read,
                    packets,
                    alerts: alerts.load(Ordering::Relaxed),
                });
            }
        }
        report.defrag = dispatcher.into_inner().finish(last_file);
        report.packets_read = packets;
        for w in workers {
            if let Ok(stats) = w.join() {
                report.stats.merge(&stats);
            }
        }
        match writer.join() {
            Ok(Ok(lines)) => report.lines_written = lines,
            Ok(Err(e)) => report.write_error = Some(e.to_string()),
            Err(_) => report.write_error = Some("writer thread failed".into()),
        }
    });
    report.elapsed = started.elapsed();
    report
}

fn work_loop(
    mut inspector: Inspector,
    rx: Receiver<Batch>,
    recycle: Sender<Batch>,
    out: Sender<(Vec<u8>, u64)>,
    files: Arc<Vec<Arc<str>>>,
    alerts: Arc<AtomicU64>,
) -> WorkerStats {
    let mut alerts_reported = 0;
    for mut batch in rx {
        inspector.refresh_indicators();
        for p in &batch.packets {
            let file = files.get(p.file as usize);
            inspector.packet(PacketRef {
                ts_us: p.ts_us,
                linktype: p.linktype,
                data: batch.bytes(p),
                file,
            });
        }
        batch.clear();
        let _ = recycle.try_send(batch);
        send_output(&mut inspector, &out);
        let now = inspector.alerts_written();
        alerts.fetch_add(now - alerts_reported, Ordering::Relaxed);
        alerts_reported = now;
    }
    inspector.finish();
    send_output(&mut inspector, &out);
    inspector.stats()
}

fn send_output(inspector: &mut Inspector, out: &Sender<(Vec<u8>, u64)>) {
    let mut lines = Vec::new();
    let count = inspector.take_output(&mut lines);
    if count > 0 {
        let _ = out.send((lines, count));
    }
}

fn write_loop(mut sink: Sink, rx: Receiver<(Vec<u8>, u64)>) -> std::io::Result<u64> {
    let mut dirty = false;
    let mut last_flush = Instant::now();
    loop {
        match rx.recv_timeout(FLUSH_INTERVAL) {
            Ok((lines, count)) => {
                sink.write_lines(&lines, count)?;
                dirty = true;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if dirty && last_flush.elapsed() >= FLUSH_INTERVAL {
            sink.flush()?;
            dirty = false;
            last_flush = Instant::now();
        }
    }
    sink.flush()?;
    Ok(sink.lines)
}
