//! The capture thread's routing: each packet to the worker that owns its flow, in batches.
//!
//! The worker is chosen by the flow's symmetric hash
//! ([`crate::flow::key::worker_of_packet`]), so both directions reach the same worker. IP
//! fragments are first reassembled here ([`Defragmenter`]): a fragment has no ports, so only
//! the whole datagram can be routed.
//! With a single worker nothing is decoded here: it all goes to that worker, which
//! reassembles fragments itself.
//! Frames that do not decode are spread round-robin (workers count them as skipped).
//!
//! A full worker queue is handled as [`WhenFull`] says: file input blocks (no packet is
//! dropped), live input drops the batch and counts it. Batches come back from the workers on
//! the recycle channel, so nothing is allocated per packet.

use crossbeam_channel::{Receiver, Sender, TrySendError};

use super::batch::Batch;
use crate::decode::defrag::{DefragStats, Defragmenter, Fragment};
use crate::decode::link::linktype;
use crate::flow::key::{route, Route};

/// What to do when a worker's queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenFull {
    /// Wait for room (file input: nothing is ever dropped).
    Block,
    /// Drop the batch and count its packets (live input: the capture must never wait, or the
    /// kernel drops instead).
    Drop,
}

/// Routes packets to worker queues.
pub struct Dispatcher {
    when_full: WhenFull,
    /// Packets dropped because a queue was full ([`WhenFull::Drop`]).
    pub dropped: u64,
    current: Vec<Batch>,
    queues: Vec<Sender<Batch>>,
    recycle: Receiver<Batch>,
    defrag: Defragmenter,
    round_robin: u64,
}

impl Dispatcher {
    /// A dispatcher over one queue per worker, taking fresh batches from `recycle`.
    pub fn new(queues: Vec<Sender<Batch>>, recycle: Receiver<Batch>, when_full: WhenFull) -> Self {
        let current = queues
            .iter()
            .map(|_| recycle.try_recv().unwrap_or_default())
            .collect();
        Dispatcher {
            when_full,
            dropped: 0,
            current,
            queues,
            recycle,
            defrag: Defragmenter::default(),
            round_robin: 0,
        }
    }

    /// Route one captured packet. False when the workers are gone.
    pub fn packet(&mut self, ts_us: i64, link: i32, file: u32, data: &[u8]) -> bool {
        let n = self.queues.len() as u64;
        if n == 1 {
            // Nothing to choose: the only worker decodes (and reassembles fragments) itself.
            return self.push(0, ts_us, link, file, data);
        }
        let worker = match route(link, data, n) {
            Route::Worker(worker) => worker,
            Route::Fragment {
                src,
                dst,
                proto,
                fragment,
            } => return self.fragment(ts_us, file, src, dst, proto, &fragment),
            Route::Undecodable => {
                self.round_robin += 1;
                self.round_robin % n
            }
        };
        self.push(worker as usize, ts_us, link, file, data)
    }

    fn fragment(
        &mut self,
        ts_us: i64,
        file: u32,
        src: std::net::IpAddr,
        dst: std::net::IpAddr,
        proto: u8,
        frag: &Fragment<'_>,
    ) -> bool {
        let datagrams = self.defrag.add_and_take_ready(ts_us, src, dst, proto, frag);
        datagrams
            .into_iter()
            .all(|(ts, bytes)| self.packet(ts, linktype::RAW, file, &bytes))
    }

    fn push(&mut self, worker: usize, ts_us: i64, link: i32, file: u32, data: &[u8]) -> bool {
        if self.current[worker].is_full_for(data.len()) && !self.send(worker) {
            return false;
        }
        self.current[worker].push(ts_us, link, file, data);
        true
    }

    /// Hand worker `worker` its current batch and start a fresh one. False when the workers
    /// are gone.
    fn send(&mut self, worker: usize) -> bool {
        match self.when_full {
            WhenFull::Block => {
                let fresh = self.recycle.recv().unwrap_or_default();
                let full = std::mem::replace(&mut self.current[worker], fresh);
                self.queues[worker].send(full).is_ok()
            }
            WhenFull::Drop => {
                // Without a free batch the workers are behind: the current batch is dropped
                // and reused rather than allocating another.
                let Ok(fresh) = self.recycle.try_recv() else {
                    self.dropped += self.current[worker].packets.len() as u64;
                    self.current[worker].clear();
                    return true;
                };
                let full = std::mem::replace(&mut self.current[worker], fresh);
                match self.queues[worker].try_send(full) {
                    Ok(()) => true,
                    Err(TrySendError::Full(mut batch)) => {
                        self.dropped += batch.packets.len() as u64;
                        batch.clear();
                        self.current[worker] = batch;
                        true
                    }
                    Err(TrySendError::Disconnected(_)) => false,
                }
            }
        }
    }

    /// Send every batch that holds packets now (a stream paused, or a live link is quiet:
    /// what was read must reach the workers, and its alerts the output, without waiting for
    /// more). False when the workers are gone.
    pub fn flush(&mut self) -> bool {
        (0..self.current.len()).all(|w| self.current[w].is_empty() || self.send(w))
    }

    /// End of input: route what fragment reassembly still holds, send every partial batch,
    /// and close the queues (the workers then drain and finish).
    pub fn finish(mut self, file: u32) -> DefragStats {
        let mut partials = Vec::new();
        self.defrag
            .drain(|ts, bytes| partials.push((ts, bytes.to_vec())));
        for (ts, bytes) in partials {
            self.packet(ts, linktype::RAW, file, &bytes);
        }
        for worker in 0..self.current.len() {
            if !self.current[worker].is_empty() {
                // At the end even live input waits: these are the last packets.
                let batch = std::mem::take(&mut self.current[worker]);
                let _ = self.queues[worker].send(batch);
            }
        }
        self.defrag.stats.clone()
    }
}
