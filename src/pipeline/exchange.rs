//! Walked chunks shared out between the workers of a split walk ([`super::split`]): which
//! worker walks which chunk, and how each worker gets its part of every chunk.
//!
//! Chunks are walked by whichever worker comes for one first, in file order: a worker that
//! needs a chunk not walked yet walks the next one not yet claimed, and one that has fewer
//! than [`AHEAD_PER_WORKER`] × workers chunks claimed ahead of its reading walks another. So a
//! worker whose own packets cost less (fewer or lighter flows, a core not taken by the host
//! for a while) walks more chunks instead of waiting for the other's walks: walks balance the
//! workers' loads. (With chunk `k` walked by worker `k % n`, the faster worker waited for the
//! slower one's walks: 3–12 % of the two workers' time on the 1 GB mix.)
//!
//! A chunk's parts wait in a ring of [`WINDOW_PER_WORKER`] × workers places until each worker
//! has taken its own. No chunk is walked that many chunks past the one the slowest worker
//! reads: that bounds the walked lists held and the part of the file mapped at once. The
//! pages of the map before the slowest worker's chunk are given back by whichever worker
//! moves that chunk on.
//!
//! One lock guards the claims, the ring and the workers' positions: it is taken a few times
//! per chunk (4 MB, thousands of packets), never per packet, and never held while walking.
//!
//! No worker waits for ever: a worker waits only for a chunk that another has claimed (and is
//! walking, which waits on nothing) or for the slowest worker to move on (which needs only
//! chunks already claimed): the worker furthest behind never waits on one ahead of it. A
//! worker that leaves a file before its end (stopped, or failed and unwound) marks the file
//! abandoned, which wakes every worker waiting in it; a worker that fails anywhere else (so
//! that it will never come to this file) sets the replay's failure flag, which waiting
//! workers look at every [`STOP_CHECK`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::split::{walk, Plan, Walked};
use crate::capture::Filter;

/// Chunks a worker keeps walked ahead of the one it reads, per worker (1 and 2 measured
/// alike on the 1 GB mix, as were chunks of 1, 2, 4 and 8 MB; the fewer, the less of the file
/// mapped at once).
pub const AHEAD_PER_WORKER: usize = 1;

/// Chunks walked past the one the slowest worker reads, at most, per worker: how far one
/// worker may run ahead of another (its walked lists, and the file's pages, are held
/// meanwhile). 2 measured as fast as 4 on the 1 GB mix; 4 leaves room for a core the host
/// takes away for a few milliseconds.
pub const WINDOW_PER_WORKER: usize = 4;

/// How long a waiting worker sleeps before it looks at the stop and failure flags again (a
/// stop wakes it sooner when another worker in the file sees it first).
const STOP_CHECK: Duration = Duration::from_millis(50);

/// The chunks of one split file, shared out between its workers.
pub(crate) struct Exchange {
    state: Mutex<State>,
    /// Signalled when a chunk is walked, the slowest worker moves on, or the file is abandoned,
    /// while some worker waits.
    changed: Condvar,
    workers: usize,
    /// The replay's failure flag ([`super::split::Links::failed`]).
    failed: Arc<AtomicBool>,
}

struct State {
    /// The first chunk no worker has claimed yet.
    next_claim: usize,
    /// Per worker: the chunk it reads (it has taken its part of every chunk before);
    /// `usize::MAX` once it has taken its part of the last.
    position: Vec<usize>,
    /// Walked chunks some worker has not taken its part of yet: chunk `c` at `c % len`.
    ring: Vec<Option<Slot>>,
    /// Bytes of the file before which the map's pages have been given back.
    released: usize,
    /// Set when a worker left the file before its end.
    abandoned: bool,
    /// Workers waiting for a change.
    waiting: usize,
}

/// One walked chunk's parts, one per worker.
struct Slot {
    chunk: usize,
    parts: Vec<Option<Walked>>,
    left: usize,
}

impl State {
    /// The chunk the slowest worker reads.
    fn slowest(&self) -> usize {
        self.position.iter().copied().min().unwrap_or(usize::MAX)
    }

    /// Whether chunk `k`'s parts are walked and waiting.
    fn is_walked(&self, k: usize) -> bool {
        let slot = &self.ring[k % self.ring.len()];
        slot.as_ref().is_some_and(|s| s.chunk == k)
    }
}

impl Exchange {
    /// For `workers` workers of a replay whose failure flag is `failed`.
    pub fn new(workers: usize, failed: Arc<AtomicBool>) -> Self {
        let window = WINDOW_PER_WORKER * workers.max(1);
        Exchange {
            state: Mutex::new(State {
                next_claim: 0,
                position: vec![0; workers],
                ring: (0..window).map(|_| None).collect(),
                released: 0,
                abandoned: false,
                waiting: 0,
            }),
            changed: Condvar::new(),
            workers,
            failed,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing under the lock panics but the checks of a broken invariant; a worker
        // unwinding from one marks the file abandoned (its seat's drop), which the others
        // read through the poisoned lock.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Chunks claimed so far.
    #[cfg(test)]
    fn claimed(&self) -> usize {
        self.lock().next_claim
    }

    fn wake(&self, state: &State) {
        if state.waiting > 0 {
            self.changed.notify_all();
        }
    }
}

/// A worker's place in a split file: takes its part of each chunk in turn ([`Seat::take`]).
/// Dropped before the last chunk's part is taken, it marks the file abandoned.
pub(crate) struct Seat<'p> {
    plan: &'p Plan,
    me: usize,
    done: bool,
}

impl<'p> Seat<'p> {
    /// Worker `me`'s place in `plan`'s file.
    pub fn new(plan: &'p Plan, me: usize) -> Self {
        Seat {
            plan,
            me,
            done: false,
        }
    }

    /// This worker's part of chunk `k` (called for every chunk in order, from 0), walking
    /// chunks as needed with `filter`. `None` when the file was abandoned by another worker,
    /// a worker of the replay failed, or `stop` is set.
    pub fn take(&mut self, k: usize, filter: &mut Filter, stop: &AtomicBool) -> Option<Walked> {
        let exchange = self.plan.exchange();
        let (chunks, workers) = (self.plan.chunks(), exchange.workers);
        debug_assert!(k < chunks, "chunk {k} of {chunks}");
        let ahead = AHEAD_PER_WORKER * workers;
        let mut state = exchange.lock();
        let slowest_before = state.slowest();
        state.position[self.me] = k;
        let slowest = state.slowest();
        if slowest != slowest_before {
            exchange.wake(&state);
            let (from, to) = (state.released, self.plan.releasable_before(slowest));
            if self.plan.worth_releasing(from, to) {
                state.released = to;
                drop(state);
                self.plan.release(from, to);
                state = exchange.lock();
            }
        }
        loop {
            if state.abandoned
                || stop.load(Ordering::Relaxed)
                || exchange.failed.load(Ordering::Relaxed)
            {
                return None;
            }
            let ready = state.is_walked(k);
            let c = state.next_claim;
            let claimable = c < chunks && c < state.slowest().saturating_add(state.ring.len());
            if claimable && (!ready || c < k + ahead) {
                state.next_claim += 1;
                drop(state);
                let parts = walk(
                    self.plan,
                    c,
                    self.plan.walker_start(c),
                    (workers, None),
                    filter,
                );
                state = exchange.lock();
                let at = c % state.ring.len();
                debug_assert!(state.ring[at].is_none(), "chunk {c}'s place is taken");
                state.ring[at] = Some(Slot {
                    chunk: c,
                    left: parts.len(),
                    parts: parts.into_iter().map(Some).collect(),
                });
                exchange.wake(&state);
                continue;
            }
            if ready {
                let at = k % state.ring.len();
                let slot = state.ring[at].as_mut().expect("a walked chunk's slot");
                let part = slot.parts[self.me].take();
                slot.left -= 1;
                if slot.left == 0 {
                    state.ring[at] = None;
                }
                if k + 1 == chunks {
                    self.done = true;
                    state.position[self.me] = usize::MAX;
                    exchange.wake(&state);
                }
                return part;
            }
            state.waiting += 1;
            state = exchange
                .changed
                .wait_timeout(state, STOP_CHECK)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            state.waiting -= 1;
        }
    }
}

impl Drop for Seat<'_> {
    fn drop(&mut self) {
        if !self.done {
            let exchange = self.plan.exchange();
            let mut state = exchange.lock();
            state.abandoned = true;
            exchange.wake(&state);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::test_files::pcap_with_records;
    use crate::pipeline::split::FailsOnPanic;
    use std::time::Instant;

    /// A pcap file of 200 records of 60 bytes (76 with their headers) in chunks of 100 bytes:
    /// each chunk holds the start of one record or two.
    fn plan(workers: usize) -> Plan {
        plan_of_replay(workers, &Arc::new(AtomicBool::new(false)))
    }

    /// [`plan`] in a replay whose failure flag is `failed`.
    fn plan_of_replay(workers: usize, failed: &Arc<AtomicBool>) -> Plan {
        let frame = [0u8; 60];
        let records: Vec<&[u8]> = (0..200).map(|_| &frame[..]).collect();
        Plan::in_memory(pcap_with_records(&records), 100, workers, failed).expect("a plan")
    }

    /// Worker 0 of `plan` taking chunks until it is told no more: how many it took.
    fn take_all(plan: &Plan, stop: &AtomicBool) -> usize {
        let (mut seat, mut filter) = (Seat::new(plan, 0), Filter::none());
        let mut taken = 0;
        while seat.take(taken, &mut filter, stop).is_some() {
            taken += 1;
        }
        taken
    }

    /// Wait (a few seconds at most) until `plan`'s workers have claimed `chunks` chunks, then
    /// a while longer: they claim no more.
    fn until_claimed(plan: &Plan, chunks: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while plan.exchange().claimed() < chunks {
            assert!(
                Instant::now() < deadline,
                "{} claimed",
                plan.exchange().claimed()
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(plan.exchange().claimed(), chunks);
    }

    /// What `worker` returns once it has ended by itself within a few seconds; else it is
    /// stopped through `rescue` (so that the test ends) and the test fails.
    fn ended_by_itself(worker: std::thread::ScopedJoinHandle<usize>, rescue: &AtomicBool) -> usize {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !worker.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        let ended = worker.is_finished();
        rescue.store(true, Ordering::Relaxed);
        let taken = worker.join().unwrap();
        assert!(ended, "still waiting after {taken} chunks");
        taken
    }

    #[test]
    fn a_worker_ahead_walks_what_the_other_needs_and_the_other_walks_nothing() {
        let plan = plan(2);
        let never = AtomicBool::new(false);
        let (mut first, mut second) = (Seat::new(&plan, 0), Seat::new(&plan, 1));
        let mut filter = Filter::none();
        for k in 0..4 {
            first.take(k, &mut filter, &never).expect("chunk taken");
        }
        // Chunks 0 to 3, and one more: two workers keep two chunks walked ahead.
        assert_eq!(plan.exchange().claimed(), 5);
        for k in 0..4 {
            let part = second.take(k, &mut filter, &never).expect("chunk taken");
            assert_eq!(part.start, plan.walker_start(k).0, "chunk {k}");
        }
        assert_eq!(
            plan.exchange().claimed(),
            5,
            "the second worker walked nothing"
        );
    }

    #[test]
    fn a_worker_runs_no_further_ahead_of_the_slowest_than_the_window_and_stops_when_asked() {
        let plan = plan(2);
        let window = WINDOW_PER_WORKER * 2;
        assert!(plan.chunks() > 2 * window);
        let stop = AtomicBool::new(false);
        let _slowest = Seat::new(&plan, 1);
        std::thread::scope(|scope| {
            let first = scope.spawn(|| take_all(&plan, &stop));
            until_claimed(&plan, window);
            stop.store(true, Ordering::Relaxed);
            assert_eq!(first.join().unwrap(), window);
        });
    }

    #[test]
    fn a_worker_failing_before_it_comes_to_the_file_releases_the_others() {
        let failed = Arc::new(AtomicBool::new(false));
        let plan = plan_of_replay(2, &failed);
        let rescue = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let first = scope.spawn(|| take_all(&plan, &rescue));
            until_claimed(&plan, WINDOW_PER_WORKER * 2);
            // Worker 1 fails in another file: it never takes a seat in this one.
            let flag = Arc::clone(&failed);
            let failing = std::thread::spawn(move || {
                let _fails = FailsOnPanic(flag);
                panic!("a worker fails");
            });
            assert!(failing.join().is_err());
            assert!(failed.load(Ordering::Relaxed));
            assert_eq!(ended_by_itself(first, &rescue), WINDOW_PER_WORKER * 2);
        });
    }

    #[test]
    fn a_worker_leaving_the_file_early_releases_the_others() {
        let plan = plan(2);
        let rescue = AtomicBool::new(false);
        let leaving = Seat::new(&plan, 1);
        std::thread::scope(|scope| {
            let first = scope.spawn(|| take_all(&plan, &rescue));
            until_claimed(&plan, WINDOW_PER_WORKER * 2);
            drop(leaving);
            assert_eq!(ended_by_itself(first, &rescue), WINDOW_PER_WORKER * 2);
        });
    }
}
