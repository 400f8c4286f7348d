//! Run statistics shared between threads: capture counters (atomics, updated by the capture
//! threads), worker snapshots (published by each worker about once a second, between
//! batches), and the EVE `stats` record built from them, with Suricata's field names.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use serde_json::json;

use crate::decode::Skip;
use crate::inspect::WorkerStats;

/// Counters every thread adds to.
pub struct StatsBoard {
    started: Instant,
    /// Packets the kernel saw for us (sum over interfaces).
    pub kernel_packets: AtomicU64,
    /// Packets the kernel dropped: we did not read fast enough.
    pub kernel_drops: AtomicU64,
    /// Packets the interfaces or drivers dropped.
    pub kernel_ifdrops: AtomicU64,
    /// Packets dropped because a worker's queue was full (live input never waits).
    pub queue_drops: AtomicU64,
    /// Interface failures (each reopen attempt counts).
    pub interface_errors: AtomicU64,
    workers: Mutex<Vec<WorkerStats>>,
}

impl StatsBoard {
    /// A board for `workers` workers.
    pub fn new(workers: usize) -> Self {
        StatsBoard {
            started: Instant::now(),
            kernel_packets: AtomicU64::new(0),
            kernel_drops: AtomicU64::new(0),
            kernel_ifdrops: AtomicU64::new(0),
            queue_drops: AtomicU64::new(0),
            interface_errors: AtomicU64::new(0),
            workers: Mutex::new(vec![WorkerStats::default(); workers]),
        }
    }

    /// A worker's counters so far (called between batches, about once a second).
    pub fn publish(&self, worker: usize, stats: WorkerStats) {
        if let Ok(mut all) = self.workers.lock() {
            if let Some(slot) = all.get_mut(worker) {
                *slot = stats;
            }
        }
    }

    /// All workers' counters merged.
    pub fn merged(&self) -> WorkerStats {
        let mut total = WorkerStats::default();
        if let Ok(all) = self.workers.lock() {
            for w in all.iter() {
                total.merge(w);
            }
        }
        total
    }

    /// The `stats` object of an EVE stats record.
    pub fn eve_stats(&self, reload_failures: u64) -> serde_json::Value {
        let w = self.merged();
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let invalid: u64 = w
            .skipped
            .nonzero()
            .filter(|(r, _)| !matches!(r, Skip::NotIp))
            .map(|(_, n)| n)
            .sum();
        let too_many_layers = w.skipped.0[Skip::TooManyLinkLayers as usize]
            + w.skipped.0[Skip::TunnelTooDeep as usize];
        json!({
            "uptime": self.started.elapsed().as_secs(),
            "capture": {
                "kernel_packets": get(&self.kernel_packets),
                "kernel_drops": get(&self.kernel_drops),
                "kernel_ifdrops": get(&self.kernel_ifdrops),
                // Our own drops (a worker's queue full) and interface failures; Suricata's
                // schema has no finer place for them. The summary on exit separates them.
                "errors": get(&self.queue_drops) + get(&self.interface_errors) + reload_failures,
            },
            "decoder": {
                "pkts": w.packets,
                "bytes": w.bytes,
                "invalid": invalid,
                "too_many_layers": too_many_layers,
            },
            "flow": { "total": w.flows },
            "tcp": { "reassembly_gap": w.tcp_gaps },
            "detect": {
                "alert": w.alerts,
                "alerts_suppressed": w.expired + w.not_yet_valid + w.allowed,
            },
        })
    }
}
