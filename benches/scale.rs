//! Indicator-set scale: 10 million domains and 2 million addresses (the figures of issue 6),
//! side by side with a `HashSet<String>` baseline. Measures load time (parse + normalise +
//! build, from a feed file), resident memory per indicator beyond the process's base, and
//! warm lookup time of a whole name (every suffix) and of an address.
//!
//! Run: `cargo bench --bench scale` (about a minute and ~4 GB of memory at full size);
//! `SCALE_DOMAINS=1000000 SCALE_ADDRESSES=200000 cargo bench --bench scale` for a quicker run.
//! Figures go to docs/performance.md.

use std::collections::HashSet;
use std::hint::black_box;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use ioc_sensor::intel;

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn domain(r: &mut Rng) -> String {
    const TLDS: [&str; 8] = ["com", "net", "org", "info", "ru", "kz", "io", "xyz"];
    let x = r.next();
    format!("{:x}-{}.{}", x >> 24, x % 1000, TLDS[(x % 8) as usize])
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // cargo bench -- --list
    }
    let n_domains = env("SCALE_DOMAINS", 10_000_000);
    let n_addrs = env("SCALE_ADDRESSES", 2_000_000);
    let dir = std::env::temp_dir().join("ioc-sensor-scale");
    std::fs::create_dir_all(&dir).unwrap();
    // Two files, so that memory can be measured per kind: names, then addresses.
    let names_path = dir.join(format!("names-{n_domains}.txt"));
    let addrs_path = dir.join(format!("addresses-{n_addrs}.txt"));
    let mut rng = Rng(0x5ca1e);
    let mut sample_names = Vec::new();
    let mut sample_addrs = Vec::new();
    let fresh = !names_path.exists() || !addrs_path.exists();
    let mut names_file =
        fresh.then(|| std::io::BufWriter::new(std::fs::File::create(&names_path).unwrap()));
    for i in 0..n_domains {
        let d = domain(&mut rng);
        if let Some(f) = names_file.as_mut() {
            writeln!(f, "{d}").unwrap();
        }
        if i % (n_domains / 1000).max(1) == 0 {
            sample_names.push(d);
        }
    }
    let mut addrs_file =
        fresh.then(|| std::io::BufWriter::new(std::fs::File::create(&addrs_path).unwrap()));
    for i in 0..n_addrs {
        let a = Ipv4Addr::from(rng.next() as u32);
        if let Some(f) = addrs_file.as_mut() {
            writeln!(f, "{a}").unwrap();
        }
        if i % (n_addrs / 1000).max(1) == 0 {
            sample_addrs.push(IpAddr::V4(a));
        }
    }
    drop((names_file, addrs_file));
    let file_mb = |p: &std::path::Path| std::fs::metadata(p).unwrap().len() >> 20;
    println!(
        "indicators: {n_domains} domains ({} MB file), {n_addrs} addresses ({} MB file)",
        file_mb(&names_path),
        file_mb(&addrs_path)
    );

    // ioc-sensor's IndicatorSet: each file loaded as the sensor loads feeds.
    let load = |path: &std::path::Path| {
        let base = rss_bytes();
        let t = Instant::now();
        let loaded = intel::load_paths(&[path.to_path_buf()]).unwrap();
        let load_s = t.elapsed().as_secs_f64();
        let set = loaded.set;
        drop(loaded.files);
        (set, load_s, rss_bytes().saturating_sub(base))
    };
    let (names_set, names_s, names_grown) = load(&names_path);
    let (addrs_set, addrs_s, addrs_grown) = load(&addrs_path);
    let load_s = names_s + addrs_s;
    assert!(
        names_set.counts().total() * 1000 >= n_domains * 999
            && addrs_set.counts().total() * 1000 >= n_addrs * 999,
        "nearly every indicator is distinct"
    );
    let set = names_set;
    let huge_kb = std::fs::read_to_string("/proc/self/smaps_rollup")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("AnonHugePages:"))
        .map(|v| v.trim().to_string())
        .unwrap_or_default();
    println!("huge pages backing the sets: {huge_kb}");
    // Subdomains of listed names (hits) and unlisted names (misses), 4 labels each.
    let hits: Vec<String> = sample_names
        .iter()
        .map(|n| format!("www.cdn.{n}"))
        .collect();
    let misses: Vec<String> = sample_names
        .iter()
        .map(|n| format!("www.cdn.{n}x"))
        .collect();
    let time_names = |names: &[String], f: &dyn Fn(&str) -> usize| {
        let rounds = 2000;
        let t = Instant::now();
        let mut found = 0;
        for _ in 0..rounds {
            for n in names {
                found += f(black_box(n));
            }
        }
        (
            t.elapsed().as_nanos() as f64 / (rounds * names.len()) as f64,
            found,
        )
    };
    let lookup = |n: &str| {
        let mut c = 0;
        set.match_name(n.as_bytes(), |_| c += 1);
        c
    };
    let (hit_ns, found) = time_names(&hits, &lookup);
    assert!(found > 0);
    let (miss_ns, _) = time_names(&misses, &lookup);
    let t = Instant::now();
    let rounds = 2000;
    let mut found = 0;
    for _ in 0..rounds {
        for a in &sample_addrs {
            addrs_set.match_addr(black_box(*a), 443, |_| found += 1);
        }
    }
    let addr_ns = t.elapsed().as_nanos() as f64 / (rounds * sample_addrs.len()) as f64;
    assert!(found > 0);
    report(
        "IndicatorSet",
        load_s,
        (names_grown, n_domains),
        (addrs_grown, n_addrs),
        (hit_ns, miss_ns, addr_ns),
    );
    drop((set, addrs_set));

    // Baseline: HashSet<String> of the normalised names and HashSet<IpAddr>, lookups of
    // every suffix.
    let base = rss_bytes();
    let t = Instant::now();
    let text = std::fs::read_to_string(&names_path).unwrap();
    let names: HashSet<String> = text.lines().map(|l| l.to_ascii_lowercase()).collect();
    drop(text);
    let names_grown = rss_bytes().saturating_sub(base);
    let base = rss_bytes();
    let text = std::fs::read_to_string(&addrs_path).unwrap();
    let addrs: HashSet<IpAddr> = text.lines().filter_map(|l| l.parse().ok()).collect();
    drop(text);
    let addrs_grown = rss_bytes().saturating_sub(base);
    let load_s = t.elapsed().as_secs_f64();
    let lookup = |n: &str| {
        let lower = n.to_ascii_lowercase();
        let mut rest = lower.as_str();
        let mut c = 0;
        loop {
            if names.contains(rest) {
                c += 1;
            }
            match rest.split_once('.') {
                Some((_, tail)) => rest = tail,
                None => break,
            }
        }
        c
    };
    let (hit_ns, _) = time_names(&hits, &lookup);
    let (miss_ns, _) = time_names(&misses, &lookup);
    let t = Instant::now();
    let mut found_baseline = 0;
    for _ in 0..rounds {
        for a in &sample_addrs {
            found_baseline += addrs.contains(black_box(a)) as usize;
        }
    }
    let addr_ns = t.elapsed().as_nanos() as f64 / (rounds * sample_addrs.len()) as f64;
    assert!(found_baseline > 0);
    report(
        "HashSet<String>",
        load_s,
        (names_grown, n_domains),
        (addrs_grown, n_addrs),
        (hit_ns, miss_ns, addr_ns),
    );
}

/// One result line: load time, resident bytes per name and per address, lookup times.
fn report(
    what: &str,
    load_s: f64,
    (names_bytes, names): (u64, usize),
    (addrs_bytes, addrs): (u64, usize),
    (hit_ns, miss_ns, addr_ns): (f64, f64, f64),
) {
    println!(
        "{what:16} load {load_s:6.2} s   memory {:6.1} MB: {:5.1} B/name, {:5.1} B/address   \
         name lookup (4 labels) hit {hit_ns:5.1} ns, miss {miss_ns:5.1} ns   address {addr_ns:5.1} ns",
        (names_bytes + addrs_bytes) as f64 / 1e6,
        names_bytes as f64 / names.max(1) as f64,
        addrs_bytes as f64 / addrs.max(1) as f64,
    );
}
