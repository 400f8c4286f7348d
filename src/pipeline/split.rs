//! The split walk: a large pcap file replayed by several workers, each walking a share of it.
//!
//! Replay workers otherwise each walk and decode every record to find the packets of their
//! own flows, which caps two workers at about 1.45× one (see docs/performance.md). Here the
//! file is cut into chunks of [`CHUNK`] bytes, and chunk `k` is walked by worker `k % n`:
//! it reads the chunk's records, decodes each far enough to know its flow's owner, and hands
//! each worker the list of its packets (file offset, length, time). Every worker then inspects
//! its lists chunk by chunk, in file order, so a flow's packets reach its owner in order, as
//! before. IP fragments go to every worker (a fragment's flow is known only once reassembled);
//! frames that do not decode stay with the chunk's walker.
//!
//! Where a chunk's first record starts is known only by reading up to it. The walker guesses
//! it ([`PcapLayout::find_record`]: consecutive plausible record headers); every worker checks
//! the guess against where the chunk before really ended, and walks the chunk again itself
//! when they differ (packet bytes that look like records, a record longer than a chunk). So a
//! wrong guess costs time, never a packet.
//!
//! Worker 0 maps the file and hands the map to the others ([`Message::Plan`]), so that all
//! read the same bytes even while the file grows. Classic pcap only: a pcapng block depends on
//! the interfaces described before it, so pcapng files (and small files, and single workers)
//! are read whole by every worker as before.
//!
//! Channels: one per ordered pair of workers, each holding more messages than a walker can be
//! ahead of the slowest reader ([`LOOKAHEAD_PER_WORKER`]), so a send never waits and no two
//! workers can wait on each other.

use std::sync::Arc;

use crossbeam_channel::{bounded, Receiver, Sender};
use memmap2::Mmap;

use crate::capture::mapped::{self, LinesAhead};
use crate::capture::parser::{Next, Parser, PcapLayout};
use crate::capture::{Filter, InputFile};
use crate::decode::{self, Transport};
use crate::flow::key::worker_of_packet;

/// Bytes of the file per chunk (4 MB: 64 KB to 4 MB measured, the larger the better; a chunk
/// carries one message per worker and its own allocation of handed-over packets).
pub const CHUNK: usize = 4 << 20;
/// Chunks a worker may walk ahead of the chunk it is inspecting, per worker (1 and 2 measured
/// alike; the fewer, the less of the file mapped at once).
pub const LOOKAHEAD_PER_WORKER: usize = 1;

/// A large pcap file, mapped once for every worker.
pub(crate) struct Plan {
    map: Mmap,
    /// A parser past the file header: clones read records from any record boundary.
    parser: Parser,
    layout: PcapLayout,
    /// Where the first record starts.
    first_record: usize,
    /// Seconds of the first record's time.
    first_second: u32,
}

impl Plan {
    /// The plan for `input` when it is a large classic pcap file with at least one record;
    /// `None` otherwise (or when it cannot be read: each worker then reads it as before and
    /// meets the same error).
    pub fn of(input: &InputFile) -> Option<Plan> {
        let map = mapped::map_large(input).ok()??;
        let mut parser = Parser::default();
        let Next::Skip(first_record) = parser.next(&map) else {
            return None;
        };
        let layout = parser.pcap_layout()?;
        let Next::Packet(first, _) = parser.clone().next(map.get(first_record..)?) else {
            return None;
        };
        let first_second = u32::try_from(first.ts_us.div_euclid(1_000_000)).ok()?;
        Some(Plan {
            map,
            parser,
            layout,
            first_record,
            first_second,
        })
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// Chunks of the file.
    pub fn chunks(&self) -> usize {
        (self.map.len() - self.first_record).div_ceil(CHUNK)
    }

    /// Where chunk `k`'s bytes end: records that start before it belong to the chunk.
    fn chunk_end(&self, k: usize) -> usize {
        (self.first_record + (k + 1) * CHUNK).min(self.map.len())
    }

    /// The walker's guess of where chunk `k`'s first record starts ([`NO_START`] when no
    /// record seems to start in it).
    pub fn guess_start(&self, k: usize) -> usize {
        if k == 0 {
            return self.first_record;
        }
        let from = self.first_record + k * CHUNK;
        self.layout
            .find_record(&self.map, from, self.chunk_end(k), self.first_second)
            .unwrap_or(NO_START)
    }

    /// Give back the map's pages before `upto` (see [`mapped::release_before`]).
    pub fn release_before(&self, upto: usize, released: &mut usize) {
        mapped::release_before(&self.map, upto, released);
    }
}

/// A start no chunk has: the walker found no record in its chunk.
const NO_START: usize = usize::MAX;

/// How one packet of a walked chunk is to be handled by the worker it was handed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Handling {
    /// It decodes and its flow is the receiver's.
    Owned,
    /// An IP fragment: every worker reassembles.
    Fragment,
    /// It does not decode: the walker counts it.
    Undecodable,
}

/// One packet handed over: where its bytes are in the file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Item {
    pub offset: usize,
    pub len: u32,
    pub linktype: i32,
    pub ts_us: i64,
    pub handling: Handling,
}

impl Item {
    /// The packet's captured bytes in `plan`'s file.
    pub fn data<'a>(&self, plan: &'a Plan) -> &'a [u8] {
        &plan.bytes()[self.offset..self.offset + self.len as usize]
    }
}

/// One chunk as walked, for one worker.
pub(crate) struct Walked {
    /// Where the walk started (the guess; [`NO_START`] when none).
    pub start: usize,
    /// Where the record after the chunk starts (or where the walk stopped).
    pub end: usize,
    /// Why reading the file must stop in this chunk (a damaged or cut record), if it must.
    pub stop: Option<String>,
    /// Packets read in the chunk (that passed the filter), and their captured bytes.
    pub packets: u64,
    pub bytes: u64,
    /// The receiver's packets, in file order.
    pub items: Vec<Item>,
}

/// What the workers of a replay send each other.
pub(crate) enum Message {
    /// From worker 0 at each file read through a map: the file's plan, or `None`: every
    /// worker reads this file whole.
    Plan(Option<Arc<Plan>>),
    /// A chunk walked by the sender.
    Chunk(Walked),
}

/// A worker's ends of the channels to and from every other worker (`None` at its own index).
pub(crate) struct Links {
    pub to: Vec<Option<Sender<Message>>>,
    pub from: Vec<Option<Receiver<Message>>>,
}

/// Links for `workers` workers.
pub(crate) fn links(workers: usize) -> Vec<Links> {
    // A walker is at most 2 × LOOKAHEAD_PER_WORKER + 1 of its chunks ahead of any reader, plus
    // a plan and the first chunks of the next file: room for twice that.
    let capacity = 4 * LOOKAHEAD_PER_WORKER + 8;
    let mut all: Vec<Links> = (0..workers)
        .map(|_| Links {
            to: (0..workers).map(|_| None).collect(),
            from: (0..workers).map(|_| None).collect(),
        })
        .collect();
    for from in 0..workers {
        for to in (0..workers).filter(|&to| to != from) {
            let (tx, rx) = bounded(capacity);
            all[from].to[to] = Some(tx);
            all[to].from[from] = Some(rx);
        }
    }
    all
}

/// Walk the records of `plan`'s chunk `k` from `start` (the guess, or the known start), and
/// sort the packets into one [`Walked`] per worker, of `workers`.
pub(crate) fn walk(
    plan: &Plan,
    k: usize,
    start: usize,
    workers: usize,
    filter: &mut Filter,
) -> Vec<Walked> {
    let limit = plan.chunk_end(k);
    let mut out: Vec<Walked> = (0..workers)
        .map(|_| Walked {
            start,
            end: start,
            stop: None,
            packets: 0,
            bytes: 0,
            items: Vec::with_capacity(CHUNK / 256 / workers),
        })
        .collect();
    if start == NO_START {
        return out;
    }
    let bytes = plan.bytes();
    let mut parser = plan.parser.clone();
    let mut ahead = LinesAhead::from(start);
    let (mut at, mut packets, mut captured, mut stop) = (start, 0u64, 0u64, None);
    while at < limit {
        let raw = match parser.next(&bytes[at..]) {
            Next::Packet(raw, used) => {
                at += used;
                ahead.prefetch_to(bytes, at);
                raw
            }
            Next::Skip(used) => {
                at += used;
                continue;
            }
            Next::NeedMore => {
                stop = Some(mapped::ends_inside_a_record(bytes.len() - at));
                break;
            }
            Next::Damaged(why) => {
                stop = Some(why);
                break;
            }
        };
        if !filter.accepts(raw.linktype, raw.data, raw.wire_len) {
            continue;
        }
        packets += 1;
        captured += raw.data.len() as u64;
        let item = |handling| Item {
            offset: raw.data.as_ptr() as usize - bytes.as_ptr() as usize,
            len: raw.data.len() as u32,
            linktype: raw.linktype,
            ts_us: raw.ts_us,
            handling,
        };
        match decode::decode(raw.linktype, raw.data) {
            Ok(pkt) if matches!(pkt.transport, Transport::Fragment(_)) => {
                let fragment = item(Handling::Fragment);
                out.iter_mut().for_each(|w| w.items.push(fragment));
            }
            Ok(pkt) => {
                let owner = worker_of_packet(&pkt, workers as u64) as usize;
                out[owner].items.push(item(Handling::Owned));
            }
            Err(_) => out[k % workers].items.push(item(Handling::Undecodable)),
        }
    }
    for w in &mut out {
        (w.end, w.stop, w.packets, w.bytes) = (at, stop.clone(), packets, captured);
    }
    out
}

/// Where a worker's reading of a split file has got to: the true start of the next chunk, and
/// how the file ended once it has.
pub(crate) struct Reading {
    /// The next chunk's first record, read from the start.
    pub next_start: usize,
    /// Set once the file ended: damaged or cut at this chunk (the reason), or read whole.
    pub ended: Option<Option<String>>,
}

impl Reading {
    /// At the start of `plan`'s file.
    pub fn new(plan: &Plan) -> Self {
        Reading {
            next_start: plan.first_record,
            ended: None,
        }
    }

    /// Chunk `k` as `walked` by its walker, for worker `me` of `workers`: the walk itself
    /// when it started where the chunk really starts, else the chunk walked again from there.
    /// `None` once the file has ended (the chunk is past its end).
    pub fn accept(
        &mut self,
        plan: &Plan,
        k: usize,
        walked: Walked,
        (me, workers): (usize, usize),
        filter: &mut Filter,
    ) -> Option<Walked> {
        if self.ended.is_some() {
            return None;
        }
        let walked = if walked.start == self.next_start {
            walked
        } else {
            walk(plan, k, self.next_start, workers, filter).swap_remove(me)
        };
        self.next_start = walked.end;
        if walked.stop.is_some() || k + 1 == plan.chunks() {
            self.ended = Some(walked.stop.clone());
        }
        Some(walked)
    }
}
