//! The split walk: a large pcap or pcapng file replayed by several workers, each walking a
//! share of it.
//!
//! Replay workers otherwise each walk and decode every record to find the packets of their
//! own flows, which caps two workers at about 1.45× one (see docs/performance.md). Here the
//! file is cut into chunks (4 MB, less with many workers: [`chunk_bytes`]), and each chunk is
//! walked by one worker, whichever comes for it first ([`super::exchange`]): it reads the
//! chunk's records, decodes each far enough to know its flow's owner, and sorts them into one
//! list per worker (file offset, length, time). Every worker then inspects its lists chunk by
//! chunk, in file order, so a flow's packets reach its owner in order, as before. IP
//! fragments go to every worker, in one list per chunk that all share (a fragment's flow is
//! known only once reassembled); frames that do not decode stay with one worker (chosen by
//! the chunk's number).
//!
//! Where a chunk's first record starts is known only by reading up to it. The walker guesses
//! it ([`Layout::find_record`]: consecutive plausible record headers or pcapng blocks, within
//! one record's reach of the chunk's start); every worker checks the guess against where the
//! chunk before really ended, and walks the chunk again itself, for itself alone, when they
//! differ (packet bytes that look like records, records the guess's rules do not expect). So a
//! wrong guess costs time, never a packet: at worst, every worker walks every chunk, as
//! without the split. Once a worker finds the file's end (a damaged or cut record), walkers
//! skip the chunks after.
//!
//! A pcapng block reads according to the section header and interface descriptions before it.
//! Walkers read every chunk as the file's first packet block reads (the descriptions that
//! lead the file, which is where capture tools write them). A walk that meets a section
//! header or an interface description (files joined end to end, an interface added during the
//! capture) says so, with how it read on: from the next chunk on, every worker walks every
//! chunk itself, as the file's head no longer says how it reads, and walkers stop.
//!
//! Worker 0 maps each large file and hands the map to the others (through [`Links`]), so that
//! all read the same bytes even while the file grows. Small files, the "modified" pcap format,
//! files whose first packet lies past their first [`LEADING_BYTES`] and single workers are
//! read whole by every worker as before.
//!
//! Worker 0's plans go to each other worker through a bounded channel. Worker 0 can fill one
//! when a worker is many files behind (files not split, or split files short enough for the
//! others to read without it); worker 0 then waits for that worker, which needs nothing from
//! worker 0 but the plans already queued for it: the worker furthest behind never waits on
//! one ahead of it ([`super::exchange`]). A worker that fails (panics) sets the replay's
//! failure flag ([`Links::failed`]): the others give up the split file they are in, or next
//! come to, reporting it as not read to its end rather than waiting for it.

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_channel::{bounded, Receiver, Sender};
use memmap2::Mmap;

use super::exchange::Exchange;

use crate::capture::mapped::{self, RecordsEnd};
use crate::capture::parser::{Layout, Next, Parser};
use crate::capture::{Filter, InputFile, RawPacket};
use crate::flow::key::{route, Route};

/// Bytes of the file per chunk: 4 MB (64 KB to 4 MB measured with two workers, the larger
/// the better: a chunk carries one hand-over per worker and its own allocation of handed-over
/// packets), less with many workers, so that the part of the file mapped at once (at most
/// [`super::exchange::WINDOW_PER_WORKER`] chunks per worker) stays near 64 MB; at least 1 MB
/// (1 MB measured as fast as 4 MB with two workers).
pub fn chunk_bytes(workers: usize) -> usize {
    ((16 << 20) / workers.max(1)).clamp(1 << 20, 4 << 20)
}

/// Bytes of blocks before the first packet past which a file is not split (it is read whole by
/// every worker): worker 0 reads them alone, before any other worker can start.
const LEADING_BYTES: usize = 1 << 20;

/// A large pcap or pcapng file, mapped once for every worker.
pub(crate) struct Plan {
    bytes: Backing,
    /// Bytes per chunk: [`chunk_bytes`] (smaller in tests).
    chunk: usize,
    /// A parser past the blocks before the first packet (the file header; pcapng's section
    /// header and interface descriptions): clones read records from any record boundary up
    /// to the next description.
    parser: Parser,
    layout: Layout,
    /// Where the first record starts.
    first_record: usize,
    /// Seconds of the first record's time.
    first_second: u32,
    /// The last chunk that walkers walk (none after it): where a worker found the file's end
    /// (damage, or a cut record), or a pcapng block that changes how the blocks after it read.
    last_walked_chunk: AtomicUsize,
    /// Who walks which chunk, and the walked chunks on their way to the workers.
    exchange: Exchange,
}

/// Where a plan's bytes live.
enum Backing {
    Map(Mmap),
    /// A file's bytes in memory (tests, fuzzing).
    #[cfg(any(test, fuzzing))]
    Memory(Vec<u8>),
}

impl std::ops::Deref for Backing {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Backing::Map(map) => map,
            #[cfg(any(test, fuzzing))]
            Backing::Memory(bytes) => bytes,
        }
    }
}

impl Plan {
    /// The plan for `input`, for `workers` workers, when it is a large pcap or pcapng file
    /// with a packet in its first [`LEADING_BYTES`];
    /// `None` otherwise (or when it cannot be read: each worker then reads it as before and
    /// meets the same error).
    /// `failed` is the replay's failure flag ([`Links::failed`]).
    pub fn of(input: &InputFile, workers: usize, failed: &Arc<AtomicBool>) -> Option<Plan> {
        let map = mapped::map_large(input).ok()??;
        Plan::over(Backing::Map(map), chunk_bytes(workers), workers, failed)
    }

    /// The plan for a pcap or pcapng file's `bytes`, cut into chunks of `chunk` bytes, for
    /// `workers` workers.
    fn over(
        bytes: Backing,
        chunk: usize,
        workers: usize,
        failed: &Arc<AtomicBool>,
    ) -> Option<Plan> {
        let mut parser = Parser::default();
        let mut first_record = 0;
        let first = loop {
            if first_record > LEADING_BYTES {
                return None;
            }
            match parser.next(bytes.get(first_record..)?) {
                Next::Skip(used) => first_record += used,
                Next::Packet(first, _) => break first,
                Next::NeedMore | Next::Damaged(_) => return None,
            }
        };
        let layout = parser.layout()?;
        let first_second = u32::try_from(first.ts_us.div_euclid(1_000_000)).unwrap_or(0);
        Some(Plan {
            bytes,
            chunk,
            parser,
            layout,
            first_record,
            first_second,
            last_walked_chunk: AtomicUsize::new(usize::MAX),
            exchange: Exchange::new(workers, Arc::clone(failed)),
        })
    }

    /// The plan for a capture file's `bytes` held in memory, cut into chunks of `chunk` bytes,
    /// for `workers` workers of a replay whose failure flag is `failed`.
    #[cfg(any(test, fuzzing))]
    pub(super) fn in_memory(
        bytes: Vec<u8>,
        chunk: usize,
        workers: usize,
        failed: &Arc<AtomicBool>,
    ) -> Option<Plan> {
        Plan::over(Backing::Memory(bytes), chunk, workers, failed)
    }

    /// Who walks which chunk.
    pub(super) fn exchange(&self) -> &Exchange {
        &self.exchange
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Chunks of the file.
    pub fn chunks(&self) -> usize {
        (self.bytes.len() - self.first_record).div_ceil(self.chunk)
    }

    /// Where chunk `k`'s bytes end: records that start before it belong to the chunk.
    fn chunk_end(&self, k: usize) -> usize {
        (self.first_record + (k + 1) * self.chunk).min(self.bytes.len())
    }

    /// Where chunk `k`'s walker starts, and how it reads from there (as the file's first
    /// packet reads): its guess of where the chunk's first record starts, or [`NO_START`]
    /// when no record seems to start in it or the chunk is not to be walked
    /// ([`Plan::unwalked`]).
    pub fn walker_start(&self, k: usize) -> (usize, &Parser) {
        let start = match self.unwalked(k) {
            true => NO_START,
            false => self.guess_start(k),
        };
        (start, &self.parser)
    }

    /// The walker's guess of where chunk `k`'s first record starts ([`NO_START`] when no
    /// record seems to start in it).
    fn guess_start(&self, k: usize) -> usize {
        if k == 0 {
            return self.first_record;
        }
        let from = self.first_record + k * self.chunk;
        self.layout
            .find_record(&self.bytes, from, self.chunk_end(k), self.first_second)
            .unwrap_or(NO_START)
    }

    /// True when chunk `k` is not to be walked by its walker: it is past the end some worker
    /// found (nobody reads it), or past a block that changes how the blocks after it read
    /// (every worker walks it itself).
    fn unwalked(&self, k: usize) -> bool {
        k > self.last_walked_chunk.load(Ordering::Relaxed)
    }

    /// The first byte that a worker reading chunk `k` or later may still read: the chunk's
    /// start, rounded down to a page boundary (the file's length past the last chunk).
    pub(super) fn releasable_before(&self, k: usize) -> usize {
        let start = k
            .saturating_mul(self.chunk)
            .saturating_add(self.first_record);
        mapped::page_start(start.min(self.bytes.len()))
    }

    /// Whether giving back the map's pages from `from` to `to` is worth a system call
    /// ([`mapped::worth_releasing`]; never for bytes in memory).
    pub(super) fn worth_releasing(&self, from: usize, to: usize) -> bool {
        matches!(self.bytes, Backing::Map(_)) && mapped::worth_releasing(from, to)
    }

    /// Give back the map's pages from `from` to `to` (page boundaries), which every worker is
    /// past.
    pub(super) fn release(&self, from: usize, to: usize) {
        #[allow(irrefutable_let_patterns)] // the other backing is for tests
        if let Backing::Map(map) = &self.bytes {
            mapped::release_range(map, from, to);
        }
    }
}

/// A start no chunk has: the walker found no record in its chunk.
pub const NO_START: usize = usize::MAX;

/// How one packet of a walked chunk is to be handled by the worker it was handed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Handling {
    /// It decodes and its flow is the receiver's.
    Owned,
    /// An IP fragment: every worker reassembles.
    Fragment,
    /// It does not decode: worker `k % n` of chunk `k` counts it.
    Undecodable,
}

/// One packet handed over: where its bytes are in the file, and how to read them.
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
#[cfg_attr(any(test, fuzzing), derive(Clone))]
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
    /// The chunk's IP fragments, in file order: one list shared by every worker.
    pub fragments: Arc<Vec<Item>>,
    /// How records read after the chunk, when the walk met a pcapng section header or
    /// interface description; `None` when they read as the walk's first did.
    pub parser_after: Option<Parser>,
}

impl Walked {
    /// The receiver's packets and the fragments, merged in file order.
    pub fn in_order(&self) -> impl Iterator<Item = &Item> + Clone {
        let (mut own, mut fragments) = (
            self.items.iter().peekable(),
            self.fragments.iter().peekable(),
        );
        std::iter::from_fn(move || match (own.peek(), fragments.peek()) {
            (Some(o), Some(f)) if f.offset < o.offset => fragments.next(),
            (Some(_), _) => own.next(),
            (None, _) => fragments.next(),
        })
    }
}

/// What ties a replay's workers together: worker 0's plan of each file, and the replay's
/// failure flag.
pub(crate) struct Links {
    pub plans: PlanLink,
    /// Set when a worker of the replay fails (panics): a worker that will never come to a
    /// split file, which the others must not wait for ([`FailsOnPanic`]).
    pub failed: Arc<AtomicBool>,
}

/// Worker 0's ends of the channels that carry its plan of each file to the other workers
/// (`Some` plan: the file is split; `None`: every worker reads it whole), or another
/// worker's end.
pub(crate) enum PlanLink {
    First(Vec<Sender<Option<Arc<Plan>>>>),
    Other(Receiver<Option<Arc<Plan>>>),
}

/// Plans of files worker 0 can queue for a worker that is behind.
const PLANS_QUEUED: usize = 8;

/// Links for `workers` workers, worker 0's first.
pub(crate) fn links(workers: usize) -> Vec<Links> {
    let failed = Arc::new(AtomicBool::new(false));
    let (senders, receivers): (Vec<_>, Vec<_>) =
        (1..workers).map(|_| bounded(PLANS_QUEUED)).unzip();
    std::iter::once(PlanLink::First(senders))
        .chain(receivers.into_iter().map(PlanLink::Other))
        .map(|plans| Links {
            plans,
            failed: Arc::clone(&failed),
        })
        .collect()
}

/// Sets a replay's failure flag if the worker holding it unwinds from a panic.
pub(crate) struct FailsOnPanic(pub Arc<AtomicBool>);

impl Drop for FailsOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(true, Ordering::Relaxed);
        }
    }
}

/// Walk the records of `plan`'s chunk `k` from `start` (the guess, or the known start), read
/// as `parser` reads them (the plan's, or what the walks before left), and sort the packets
/// into one [`Walked`] per worker, of `workers`: for every worker, or, with `only`, for that
/// worker alone (the others' lists stay empty).
pub(crate) fn walk(
    plan: &Plan,
    k: usize,
    (start, parser): (usize, &Parser),
    (workers, only): (usize, Option<usize>),
    filter: &mut Filter,
) -> Vec<Walked> {
    let limit = plan.chunk_end(k);
    let wanted = |worker: usize| only.is_none_or(|me| me == worker);
    let mut lists: Vec<Vec<Item>> = (0..workers)
        .map(|w| {
            Vec::with_capacity(if wanted(w) {
                plan.chunk / 256 / workers
            } else {
                0
            })
        })
        .collect();
    let mut fragments = Vec::new();
    let (mut end, mut packets, mut captured, mut stop) = (start, 0u64, 0u64, None);
    let mut parser_after = None;
    if start != NO_START {
        let bytes = plan.bytes();
        let mut reader = parser.clone();
        let sort = |raw: RawPacket<'_>| {
            packets += 1;
            captured += raw.data.len() as u64;
            let item = |handling| Item {
                offset: raw.data.as_ptr() as usize - bytes.as_ptr() as usize,
                len: raw.data.len() as u32,
                linktype: raw.linktype,
                ts_us: raw.ts_us,
                handling,
            };
            let (owner, handling) = match route(raw.linktype, raw.data, workers as u64) {
                Route::Fragment { .. } => {
                    fragments.push(item(Handling::Fragment));
                    return ControlFlow::Continue(());
                }
                Route::Worker(owner) => (owner as usize, Handling::Owned),
                Route::Undecodable => (k % workers, Handling::Undecodable),
            };
            if wanted(owner) {
                lists[owner].push(item(handling));
            }
            ControlFlow::Continue(())
        };
        let (at, how) =
            mapped::read_records(bytes, &mut reader, (start, limit), filter, |_| {}, sort);
        parser_after = (reader.descriptions() != parser.descriptions()).then_some(reader);
        end = at;
        stop = match how {
            RecordsEnd::NeedMore => Some(mapped::ends_inside_a_record(bytes.len() - at)),
            RecordsEnd::Damaged(why) => Some(why),
            RecordsEnd::Limit | RecordsEnd::Stopped => None,
        };
    }
    let fragments = Arc::new(fragments);
    lists
        .into_iter()
        .map(|items| Walked {
            start,
            end,
            stop: stop.clone(),
            packets,
            bytes: captured,
            items,
            fragments: Arc::clone(&fragments),
            parser_after: parser_after.clone(),
        })
        .collect()
}

/// Where a worker's reading of a split file has got to: the true start of the next chunk, how
/// records read from there, and how the file ended once it has.
pub(crate) struct Reading {
    /// The next chunk's first record, read from the start.
    pub next_start: usize,
    /// How the next chunk reads, once a pcapng block changed that from how the plan's first
    /// packet block read: every chunk is then walked again by every worker.
    parser: Option<Parser>,
    /// Set once the file ended: damaged or cut at this chunk (the reason), or read whole.
    pub ended: Option<Option<String>>,
}

impl Reading {
    /// At the start of `plan`'s file.
    pub fn new(plan: &Plan) -> Self {
        Reading {
            next_start: plan.first_record,
            parser: None,
            ended: None,
        }
    }

    /// Chunk `k` as `walked` by its walker, for worker `me` of `workers`: the walk itself
    /// when it started where the chunk really starts and read as the chunk reads, else the
    /// chunk walked again from there, as it reads. `None` once the file has ended (the chunk
    /// is past its end).
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
        let mut walked = match &self.parser {
            None if walked.start == self.next_start => walked,
            parser => {
                let start = (self.next_start, parser.as_ref().unwrap_or(&plan.parser));
                walk(plan, k, start, (workers, Some(me)), filter).swap_remove(me)
            }
        };
        self.next_start = walked.end;
        if let Some(parser) = walked.parser_after.take() {
            self.parser = Some(parser);
            plan.last_walked_chunk.fetch_min(k, Ordering::Relaxed);
        }
        if walked.stop.is_some() || k + 1 == plan.chunks() {
            self.ended = Some(walked.stop.clone());
            plan.last_walked_chunk.fetch_min(k, Ordering::Relaxed);
        }
        Some(walked)
    }
}

/// The split walk held to what one reader finds, on any bytes: for the tests and the
/// `split_walk` fuzz target.
#[cfg(any(test, fuzzing))]
pub(crate) mod agreement {
    use super::*;
    use crate::capture::ReadEnd;
    use crate::decode::{self, Transport};
    use crate::flow::key::worker_of_packet;
    use crate::pipeline::exchange::Seat;

    /// A packet as one worker reading the whole file finds it.
    struct Whole {
        offset: usize,
        linktype: i32,
        ts_us: i64,
        fragment: bool,
    }

    /// What one worker reading the whole file finds, and how reading ended; `None` when the
    /// bytes are no capture file.
    fn read_whole(file: &[u8]) -> Option<(Vec<Whole>, ReadEnd)> {
        let input = InputFile {
            path: "t.pcap".into(),
            name: Arc::from("t.pcap"),
            size: Some(file.len() as u64),
        };
        let mut packets = Vec::new();
        let end = mapped::read_loaded(&input, file, &mut Filter::none(), |raw| {
            packets.push(Whole {
                offset: raw.data.as_ptr() as usize - file.as_ptr() as usize,
                linktype: raw.linktype,
                ts_us: raw.ts_us,
                fragment: matches!(
                    decode::decode(raw.linktype, raw.data).map(|p| p.transport),
                    Ok(Transport::Fragment(_))
                ),
            });
            std::ops::ControlFlow::Continue(())
        })
        .ok()?;
        Some((packets, end))
    }

    /// A replay's failure flag, not set.
    pub fn running() -> Arc<AtomicBool> {
        Arc::new(AtomicBool::new(false))
    }

    /// How the workers of [`check`] run.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Driving {
        /// In turn on one thread, chunk by chunk (deterministic: the fuzz target).
        OneThread,
        /// Each on a thread of its own, as in a replay.
        Threads,
    }

    /// One worker of [`split_walk`].
    struct Worker<'p> {
        me: usize,
        seat: Seat<'p>,
        reading: Reading,
        filter: Filter,
        items: Vec<Item>,
    }

    impl<'p> Worker<'p> {
        fn new(plan: &'p Plan, me: usize) -> Self {
            Worker {
                me,
                seat: Seat::new(plan, me),
                reading: Reading::new(plan),
                filter: Filter::none(),
                items: Vec::new(),
            }
        }

        /// Take and accept this worker's part of chunk `k`.
        fn step(&mut self, plan: &Plan, k: usize, workers: usize) {
            let never = AtomicBool::new(false);
            let part = self.seat.take(k, &mut self.filter, &never);
            let part = part.expect("no worker left the file");
            let me = (self.me, workers);
            if let Some(w) = self.reading.accept(plan, k, part, me, &mut self.filter) {
                self.items.extend(w.in_order().copied());
            }
        }

        fn result(self) -> (Vec<Item>, Option<Option<String>>) {
            (self.items, self.reading.ended)
        }
    }

    /// The split walk of `plan`'s file by `workers` workers, driven as `driving` says. Per
    /// worker: its items, and how the file ended for it.
    fn split_walk(
        plan: &Plan,
        workers: usize,
        driving: Driving,
    ) -> Vec<(Vec<Item>, Option<Option<String>>)> {
        let chunks = plan.chunks();
        match driving {
            Driving::OneThread => {
                let mut all: Vec<Worker> = (0..workers).map(|me| Worker::new(plan, me)).collect();
                for k in 0..chunks {
                    for worker in &mut all {
                        worker.step(plan, k, workers);
                    }
                }
                all.into_iter().map(Worker::result).collect()
            }
            Driving::Threads => std::thread::scope(|scope| {
                let threads: Vec<_> = (0..workers)
                    .map(|me| {
                        scope.spawn(move || {
                            let mut worker = Worker::new(plan, me);
                            for k in 0..chunks {
                                worker.step(plan, k, workers);
                            }
                            worker.result()
                        })
                    })
                    .collect();
                threads.into_iter().map(|t| t.join().unwrap()).collect()
            }),
        }
    }

    /// What checking the split walk on random files met: walkers' wrong guesses, and chunks
    /// read on with another section header or interface description than the file's first.
    #[derive(Default)]
    pub struct Met {
        pub wrong_guesses: usize,
        pub described: usize,
    }

    /// Whatever the bytes, the chunk size and the number of workers: every packet that one
    /// reader finds reaches exactly one worker (its flow's owner, or the walker for frames
    /// that do not decode), with the link type and time that reader finds, fragments reach
    /// every worker, each worker gets its packets in file order, and the file ends the same
    /// way.
    /// Files that are no capture at all are not split, and checked no further. `case` names
    /// the file in a failure.
    pub fn check(file: &[u8], case: usize, driving: Driving, met: &mut Met) {
        let Some((whole, end)) = read_whole(file) else {
            assert!(Plan::in_memory(file.to_vec(), 40, 1, &running()).is_none());
            return;
        };
        let at: std::collections::HashMap<usize, &Whole> =
            whole.iter().map(|w| (w.offset, w)).collect();
        for chunk in [40, 333, 4096] {
            let Some(plan) = Plan::in_memory(file.to_vec(), chunk, 1, &running()) else {
                continue;
            };
            let (mut start, mut parser) = (plan.first_record, plan.parser.clone());
            for k in 0..plan.chunks() {
                let walk_from = (start, &parser);
                let mut walked =
                    walk(&plan, k, walk_from, (1, None), &mut Filter::none()).remove(0);
                met.wrong_guesses += usize::from(plan.guess_start(k) != start);
                start = walked.end;
                if let Some(after) = walked.parser_after.take() {
                    parser = after;
                    met.described += 1;
                }
            }
            for workers in 1..=3 {
                let plan = Plan::in_memory(file.to_vec(), chunk, workers, &running()).unwrap();
                let per_worker = split_walk(&plan, workers, driving);
                let mut once: Vec<usize> = Vec::new();
                for (me, (items, ended)) in per_worker.iter().enumerate() {
                    let context = format!("case {case}, chunk {chunk}, worker {me}/{workers}");
                    let offsets: Vec<usize> = items.iter().map(|i| i.offset).collect();
                    assert!(offsets.windows(2).all(|w| w[0] < w[1]), "{context}");
                    let fragments: Vec<usize> = items
                        .iter()
                        .filter(|i| i.handling == Handling::Fragment)
                        .map(|i| i.offset)
                        .collect();
                    let want: Vec<usize> = whole
                        .iter()
                        .filter(|p| p.fragment)
                        .map(|p| p.offset)
                        .collect();
                    assert_eq!(fragments, want, "{context}");
                    for item in items {
                        let found = at.get(&item.offset).expect("a packet one reader finds");
                        assert_eq!(
                            (item.linktype, item.ts_us, item.len as usize),
                            (found.linktype, found.ts_us, item.data(&plan).len()),
                            "{context}"
                        );
                    }
                    for item in items.iter().filter(|i| i.handling == Handling::Owned) {
                        let pkt = decode::decode(item.linktype, item.data(&plan)).unwrap();
                        assert_eq!(worker_of_packet(&pkt, workers as u64), me as u64);
                    }
                    once.extend(
                        items
                            .iter()
                            .filter(|i| i.handling != Handling::Fragment)
                            .map(|i| i.offset),
                    );
                    let want_end = match &end {
                        ReadEnd::CutShort(why) => Some(why.clone()),
                        _ => None,
                    };
                    assert_eq!(ended.as_ref(), Some(&want_end), "{context}");
                }
                once.sort_unstable();
                let want: Vec<usize> = whole
                    .iter()
                    .filter(|p| !p.fragment)
                    .map(|p| p.offset)
                    .collect();
                assert_eq!(once, want, "case {case}, chunk {chunk}, {workers} workers");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::agreement::{check as split_agrees_with_one_reader, running, Driving, Met};
    use super::*;
    use crate::capture::test_files::{
        block, enhanced_packet, interface_description, pcap_with_records, section_header, u32_bytes,
    };
    use crate::mix::TestRng as Rng;

    /// An Ethernet frame of a UDP datagram between random ports carrying `payload`; with
    /// `fragment`, the IPv4 header says more fragments follow.
    fn udp_frame(rng: &mut Rng, payload: &[u8], fragment: bool) -> Vec<u8> {
        let mut frame = Vec::new();
        etherparse::PacketBuilder::ethernet2([2; 6], [4; 6])
            .ipv4([10, 0, 0, rng.below(4) as u8], [192, 0, 2, 1], 64)
            .udp(1024 + rng.below(50) as u16, 53)
            .write(&mut frame, payload)
            .unwrap();
        if fragment {
            frame[14 + 6] = 0x20; // more fragments, offset 0
            frame[14 + 10..14 + 12].fill(0);
            let sum = frame[14..34]
                .chunks(2)
                .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
                .sum::<u32>();
            let sum = (sum & 0xffff) + (sum >> 16);
            let sum = !((sum & 0xffff) + (sum >> 16)) as u16;
            frame[14 + 10..14 + 12].copy_from_slice(&sum.to_be_bytes());
        }
        frame
    }

    /// Bytes that read as a chain of pcap records of the test files' time.
    fn look_alikes(rng: &mut Rng) -> Vec<u8> {
        let mut out = Vec::new();
        for i in 0..1 + rng.below(5) as u32 {
            let len = 1 + rng.below(20) as u32;
            out.extend_from_slice(&(1_700_000_000u32 + i).to_le_bytes());
            out.extend_from_slice(&7u32.to_le_bytes());
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&len.to_le_bytes());
            out.extend(std::iter::repeat_n(0x2e, len as usize));
        }
        out
    }

    /// Bytes that, in a UDP payload, read as a chain of pcapng packet blocks at offsets a
    /// block can start at (the payload starts 2 bytes past one: 28 + 42 bytes into its block).
    fn look_alike_blocks(rng: &mut Rng, big_endian: bool) -> Vec<u8> {
        let mut out = vec![0; 2];
        for i in 0..1 + rng.below(5) {
            let frame = vec![0x2e; 1 + rng.below(20) as usize];
            out.extend(enhanced_packet(0, i, &frame, big_endian));
        }
        out
    }

    /// Random frames: datagrams, fragments, garbage, and datagrams holding `look_alikes`.
    fn random_frames(rng: &mut Rng, look_alikes: impl Fn(&mut Rng) -> Vec<u8>) -> Vec<Vec<u8>> {
        (0..1 + rng.below(60))
            .map(|_| match rng.below(5) {
                0 => {
                    let n = rng.below(300) as usize;
                    (0..n).map(|_| rng.next() as u8).collect()
                }
                1 => {
                    let payload = look_alikes(rng);
                    udp_frame(rng, &payload, false)
                }
                2 => udp_frame(rng, &[7; 30], true),
                _ => {
                    let payload = vec![0x41; rng.below(400) as usize];
                    udp_frame(rng, &payload, false)
                }
            })
            .collect()
    }

    /// A pcap file of random frames, look-alike records in payloads; perhaps damaged at one
    /// record or cut off anywhere.
    fn random_pcap(rng: &mut Rng) -> Vec<u8> {
        let frames = random_frames(rng, look_alikes);
        let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
        let mut file = pcap_with_records(&refs);
        match rng.below(4) {
            0 => {
                let cut = 24 + rng.below(file.len() as u64 - 24) as usize;
                file.truncate(cut);
            }
            1 => {
                // A record whose length no snap length allows: damage.
                let (mut at, mut left) = (24, rng.below(frames.len() as u64));
                for f in &frames {
                    if left == 0 {
                        file[at + 8..at + 12].copy_from_slice(&u32::MAX.to_le_bytes());
                        break;
                    }
                    at += 16 + f.len();
                    left -= 1;
                }
            }
            _ => {}
        }
        file
    }

    /// A pcapng file of random frames in enhanced packet blocks, now and then a simple one
    /// (perhaps first), look-alike blocks in payloads, and between the packet blocks now and
    /// then blocks that change nothing (custom, name resolution, interface statistics),
    /// another interface (Ethernet, or raw IP, on which Ethernet frames do not decode) or a
    /// new section, perhaps in the other byte order; perhaps damaged at one block or cut off
    /// anywhere.
    fn random_pcapng(rng: &mut Rng) -> Vec<u8> {
        let mut big_endian = rng.below(2) == 0;
        let frames = random_frames(rng, |rng| look_alike_blocks(rng, big_endian));
        let mut file = section_header(big_endian);
        file.extend(interface_description(1, big_endian));
        let (mut interfaces, mut packet_blocks) = (1, Vec::new());
        let simple_first = rng.below(8) == 0;
        for (i, frame) in frames.iter().enumerate() {
            if (i == 0 && simple_first) || rng.below(20) == 0 {
                // A simple packet block: the packet's length, then the packet, padded.
                let mut body = Vec::from(u32_bytes(frame.len() as u32, big_endian));
                body.extend(frame);
                body.resize(body.len().next_multiple_of(4), 0);
                file.extend(block(3, &body, None, big_endian));
                continue;
            }
            match rng.below(40) {
                0 => {
                    let linktype = [1, 101][rng.below(2) as usize];
                    file.extend(interface_description(linktype, big_endian));
                    interfaces += 1;
                }
                1 => {
                    big_endian = rng.below(2) == 0;
                    file.extend(section_header(big_endian));
                    file.extend(interface_description(1, big_endian));
                    interfaces = 1;
                }
                2 | 3 => file.extend(block(0x0bad, &[0; 8], None, big_endian)),
                // Name resolution: no record but the end of records.
                4 => file.extend(block(4, &[0; 4], None, big_endian)),
                // Interface statistics of interface 0: its id and a time, no options.
                5 => file.extend(block(5, &[0; 12], None, big_endian)),
                _ => {}
            }
            packet_blocks.push((file.len(), big_endian));
            let ts = 1_700_000_000_000_000 + i as u64 * 1_000;
            let if_id = rng.below(interfaces) as u32;
            file.extend(enhanced_packet(if_id, ts, frame, big_endian));
        }
        match rng.below(4) {
            0 => {
                let cut = 28 + rng.below(file.len() as u64 - 28) as usize;
                file.truncate(cut);
            }
            1 if !packet_blocks.is_empty() => {
                // A block shorter than a block's framing: damage.
                let pick = rng.below(packet_blocks.len() as u64) as usize;
                let (at, big_endian) = packet_blocks[pick];
                let length = match big_endian {
                    true => 8u32.to_be_bytes(),
                    false => 8u32.to_le_bytes(),
                };
                file[at + 4..at + 8].copy_from_slice(&length);
            }
            _ => {}
        }
        file
    }

    /// After the chunk where an interface is added is read, walkers walk no chunk after it
    /// (every worker walks those itself), and they walk the chunks before.
    #[test]
    fn walkers_stop_after_a_description_is_read() {
        let frame = [0u8; 60];
        let mut file = section_header(false);
        file.extend(interface_description(1, false));
        for ts in 0..100 {
            if ts == 50 {
                file.extend(interface_description(1, false));
            }
            file.extend(enhanced_packet(0, ts, &frame, false));
        }
        let plan = Plan::in_memory(file, 333, 2, &running()).expect("a plan");
        let mut reading = Reading::new(&plan);
        let mut described = None;
        for k in 0..plan.chunks() {
            if described.is_none() {
                assert_ne!(plan.walker_start(k).0, NO_START, "chunk {k}");
            }
            let walked = walk(
                &plan,
                k,
                plan.walker_start(k),
                (2, None),
                &mut Filter::none(),
            );
            let mine = walked.into_iter().next().unwrap();
            let had_parser = reading.parser.is_some();
            reading.accept(&plan, k, mine, (0, 2), &mut Filter::none());
            if !had_parser && reading.parser.is_some() {
                described = Some(k);
            }
        }
        let described = described.expect("the description read");
        assert!(described + 2 < plan.chunks(), "chunks after it");
        for k in described + 1..plan.chunks() {
            assert_eq!(plan.walker_start(k).0, NO_START, "chunk {k}");
        }
    }

    #[test]
    fn a_file_whose_first_packet_lies_past_the_leading_bytes_is_not_split() {
        let frame = [0u8; 60];
        for (fillers, split) in [(10, true), (LEADING_BYTES / 20, false)] {
            let mut file = section_header(false);
            file.extend(interface_description(1, false));
            for _ in 0..fillers {
                file.extend(block(0x0bad, &[0; 8], None, false));
            }
            for ts in 0..100 {
                file.extend(enhanced_packet(0, ts, &frame, false));
            }
            let plan = Plan::in_memory(file, 4096, 2, &running());
            assert_eq!(
                plan.is_some(),
                split,
                "{fillers} blocks before the first packet"
            );
        }
    }

    /// 400 random files made by `file_of` from `seed`, each split and held to one reader,
    /// with the workers in turn on one thread and on threads of their own; what the walkers
    /// met on the way (on one thread).
    fn split_random_files(seed: u64, file_of: impl Fn(&mut Rng) -> Vec<u8>) -> Met {
        let mut rng = Rng(seed);
        let mut met = Met::default();
        for case in 0..400 {
            let file = file_of(&mut rng);
            split_agrees_with_one_reader(&file, case, Driving::OneThread, &mut met);
            split_agrees_with_one_reader(&file, case, Driving::Threads, &mut Met::default());
        }
        met
    }

    #[test]
    fn a_pcap_file_split_between_workers_reads_every_packet_once_in_order() {
        let met = split_random_files(0x5eed_1234_abcd_0001, random_pcap);
        // The look-alike records and the damage did make walkers guess wrong.
        assert!(
            met.wrong_guesses > 100,
            "{} wrong guesses",
            met.wrong_guesses
        );
    }

    #[test]
    fn a_pcapng_file_split_between_workers_reads_every_packet_once_in_order() {
        let met = split_random_files(0x5eed_1234_abcd_0002, random_pcapng);
        // Wrong guesses, and files read on after a new interface or section.
        assert!(
            met.wrong_guesses > 100,
            "{} wrong guesses",
            met.wrong_guesses
        );
        assert!(
            met.described > 100,
            "{} chunks after a description",
            met.described
        );
    }
}
