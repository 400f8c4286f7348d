//! The machine's memory latency: nanoseconds per dependent load from a working set of 1 MB to
//! 256 MB (a random cycle through the set, so that neither the prefetchers nor out-of-order
//! execution can hide a load). It is what one cache miss costs the sensor here: the flow table
//! of a flood of new flows and a large indicator set do not fit in cache, and docs/performance.md
//! compares their per-packet costs with this figure.
//!
//! Run: `cargo bench --bench latency` (about 10 s).

use std::time::Instant;

fn main() {
    for mb in [1usize, 4, 32, 256] {
        let slots = mb * 1024 * 1024 / std::mem::size_of::<usize>();
        // One random cycle through every slot (Sattolo's shuffle), as a successor table.
        let mut order: Vec<usize> = (0..slots).collect();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for i in (1..slots).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            order.swap(i, (x % i as u64) as usize);
        }
        let mut next = vec![0usize; slots];
        for k in 0..slots {
            next[order[k]] = order[(k + 1) % slots];
        }
        let loads = 20_000_000;
        let started = Instant::now();
        let mut at = 0;
        for _ in 0..loads {
            at = next[at];
        }
        let ns = started.elapsed().as_nanos() as f64 / loads as f64;
        println!("working set {mb:4} MB: {ns:6.1} ns per dependent load (ended at {at})");
    }
}
