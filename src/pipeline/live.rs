//! Capture threads for live interfaces, one per interface: read with a short timeout, never
//! block on a full queue (drop the batch and count it), flush partial batches when the link
//! is quiet, publish kernel counters, reopen an interface that fails, stop on the stop flag.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::dispatch::{Dispatcher, WhenFull};
use super::stats::StatsBoard;
use super::{Lanes, RunConfig, RunReport};
use crate::capture::live::{self, KernelStats, LiveCapture};

/// Longest time a captured packet waits in a partial batch when the link goes quiet.
const FLUSH_AGE: Duration = Duration::from_millis(20);
/// How often kernel counters are read.
const KERNEL_STATS_INTERVAL: Duration = Duration::from_secs(1);

pub(crate) fn capture(
    config: &RunConfig,
    handles: Vec<LiveCapture>,
    lanes: Lanes,
    board: &StatsBoard,
    report: &mut RunReport,
) {
    let per_interface = lanes.queues.len() * (super::QUEUE_DEPTH + 2);
    let defrag = std::thread::scope(|scope| {
        let threads: Vec<_> = handles
            .into_iter()
            .map(|handle| {
                for _ in 0..per_interface {
                    let _ = lanes.recycle_tx.send(Default::default());
                }
                let dispatcher =
                    Dispatcher::new(lanes.queues.clone(), lanes.recycle.clone(), WhenFull::Drop);
                let stop = &*config.stop;
                scope.spawn(move || capture_interface(stop, handle, dispatcher, board))
            })
            .collect();
        let mut defrag = crate::decode::defrag::DefragStats::default();
        for t in threads {
            if let Ok(d) = t.join() {
                defrag.merge(&d);
            }
        }
        defrag
    });
    drop(lanes);
    report.defrag = defrag;
}

fn capture_interface(
    stop: &AtomicBool,
    mut cap: LiveCapture,
    mut dispatcher: Dispatcher,
    board: &StatsBoard,
) -> crate::decode::defrag::DefragStats {
    let mut published = KernelStats::default();
    let mut last_stats = Instant::now();
    let mut retry = live::RETRY_MIN;
    let mut drops_published = 0;
    let mut last_flush = Instant::now();
    loop {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let ready = cap.wait(live::READ_TIMEOUT_MS);
        let next = match ready {
            Ok(()) => cap.handle.next_packet(),
            Err(e) => Err(pcap::Error::IoError(e.kind())),
        };
        match next {
            Ok(packet) => {
                let h = packet.header;
                // time_t and suseconds_t are i64 on the 64-bit targets we build for.
                #[allow(clippy::useless_conversion)]
                let ts_us = i64::from(h.ts.tv_sec) * 1_000_000 + i64::from(h.ts.tv_usec);
                dispatcher.packet(ts_us, cap.linktype, 0, packet.data);
                // On a link that trickles, reads rarely come back empty: hand over what waits
                // at least every FLUSH_AGE all the same.
                if last_flush.elapsed() >= FLUSH_AGE {
                    dispatcher.flush();
                    last_flush = Instant::now();
                }
                retry = live::RETRY_MIN;
            }
            Err(pcap::Error::TimeoutExpired) => {
                // Nothing to read now: hand over what waits, unless that was just done (a
                // moderate stream would otherwise send a batch per packet).
                if last_flush.elapsed() >= FLUSH_AGE {
                    dispatcher.flush();
                    last_flush = Instant::now();
                }
            }
            Err(e) => {
                // The interface went away or failed: say so, wait, reopen.
                board.interface_errors.fetch_add(1, Ordering::Relaxed);
                eprintln!(
                    "ioc-sensor: -i {}: {e}; reopening in {} s",
                    cap.options.interface,
                    retry.as_secs()
                );
                dispatcher.flush();
                if sleep_unless_stopped(stop, retry) {
                    break;
                }
                retry = (retry * 2).min(live::RETRY_MAX);
                match live::open(&cap.options) {
                    Ok(fresh) => {
                        eprintln!("ioc-sensor: -i {}: capturing again", cap.options.interface);
                        add_kernel(board, &published, &KernelStats::default());
                        published = KernelStats::default();
                        cap = fresh;
                    }
                    Err(why) => eprintln!("ioc-sensor: {why}"),
                }
                continue;
            }
        }
        if last_stats.elapsed() >= KERNEL_STATS_INTERVAL {
            let now = cap.kernel_stats();
            add_kernel(board, &published, &now);
            published = now;
            board
                .queue_drops
                .fetch_add(dispatcher.dropped - drops_published, Ordering::Relaxed);
            drops_published = dispatcher.dropped;
            last_stats = Instant::now();
        }
    }
    let now = cap.kernel_stats();
    add_kernel(board, &published, &now);
    board
        .queue_drops
        .fetch_add(dispatcher.dropped - drops_published, Ordering::Relaxed);
    dispatcher.finish(0)
}

/// Add the growth of an interface's kernel counters to the board.
fn add_kernel(board: &StatsBoard, before: &KernelStats, now: &KernelStats) {
    board.kernel_packets.fetch_add(
        now.packets.saturating_sub(before.packets),
        Ordering::Relaxed,
    );
    board
        .kernel_drops
        .fetch_add(now.drops.saturating_sub(before.drops), Ordering::Relaxed);
    board.kernel_ifdrops.fetch_add(
        now.if_drops.saturating_sub(before.if_drops),
        Ordering::Relaxed,
    );
}

/// Sleep `pause` in small steps; true when the stop flag was raised meanwhile.
fn sleep_unless_stopped(stop: &AtomicBool, pause: Duration) -> bool {
    let until = Instant::now() + pause;
    while Instant::now() < until {
        if stop.load(Ordering::Relaxed) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}
