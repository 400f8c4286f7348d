//! The capture thread's routing: each packet to the worker that owns its flow, in batches.
//!
//! The worker is chosen by the flow's symmetric hash ([`FlowKey::dispatch_hash`]), so both
//! directions reach the same worker. IP fragments are first reassembled here
//! ([`Defragmenter`]): a fragment has no ports, so only the whole datagram can be routed.
//! Frames that do not decode are spread round-robin (workers count them as skipped).
//!
//! File input blocks when a worker's queue is full (no packet is dropped); batches come back
//! from the workers on the recycle channel, so nothing is allocated per packet.

use crossbeam_channel::{Receiver, Sender};

use super::batch::Batch;
use crate::decode::defrag::{DefragStats, Defragmenter};
use crate::decode::link::linktype;
use crate::decode::{self, Transport};
use crate::flow::FlowKey;

/// Routes packets to worker queues.
pub struct Dispatcher {
    current: Vec<Batch>,
    queues: Vec<Sender<Batch>>,
    recycle: Receiver<Batch>,
    defrag: Defragmenter,
    round_robin: u64,
}

impl Dispatcher {
    /// A dispatcher over one queue per worker, taking fresh batches from `recycle`.
    pub fn new(queues: Vec<Sender<Batch>>, recycle: Receiver<Batch>) -> Self {
        let current = queues
            .iter()
            .map(|_| recycle.recv().unwrap_or_default())
            .collect();
        Dispatcher {
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
        let worker = match decode::decode(link, data) {
            Ok(p) => match p.transport {
                Transport::Fragment(frag) => {
                    return self.fragment(ts_us, file, p.src, p.dst, p.proto, &frag)
                }
                _ => FlowKey::of(&p).0.dispatch_hash() % n,
            },
            Err(_) => {
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
        frag: &decode::defrag::Fragment<'_>,
    ) -> bool {
        let whole = self
            .defrag
            .add(ts_us, src, dst, proto, frag)
            .map(<[u8]>::to_vec);
        let mut ok = true;
        for (ts, partial) in self.defrag.take_expired() {
            ok &= self.packet(ts, linktype::RAW, file, &partial);
        }
        if let Some(whole) = whole {
            ok &= self.packet(ts_us, linktype::RAW, file, &whole);
        }
        ok
    }

    fn push(&mut self, worker: usize, ts_us: i64, link: i32, file: u32, data: &[u8]) -> bool {
        if self.current[worker].is_full_for(data.len()) {
            let fresh = self.recycle.recv().unwrap_or_default();
            let full = std::mem::replace(&mut self.current[worker], fresh);
            if self.queues[worker].send(full).is_err() {
                return false;
            }
        }
        self.current[worker].push(ts_us, link, file, data);
        true
    }

    /// Send every batch that holds packets now (a stream paused: what was read must reach
    /// the workers, and its alerts the output, without waiting for more). False when the
    /// workers are gone.
    pub fn flush(&mut self) -> bool {
        for worker in 0..self.current.len() {
            if self.current[worker].is_empty() {
                continue;
            }
            let fresh = self.recycle.recv().unwrap_or_default();
            let full = std::mem::replace(&mut self.current[worker], fresh);
            if self.queues[worker].send(full).is_err() {
                return false;
            }
        }
        true
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
        for (worker, batch) in std::mem::take(&mut self.current).into_iter().enumerate() {
            if !batch.is_empty() {
                let _ = self.queues[worker].send(batch);
            }
        }
        self.defrag.stats.clone()
    }
}
