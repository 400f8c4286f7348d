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
    let path = dir.join(format!("feed-{n_domains}-{n_addrs}.txt"));
    let mut rng = Rng(0x5ca1e);
    let mut sample_names = Vec::new();
    let mut sample_addrs = Vec::new();
    if !path.exists() {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        for i in 0..n_domains {
            let d = domain(&mut rng);
            if i % (n_domains / 1000).max(1) == 0 {
                sample_names.push(d.clone());
            }
            writeln!(f, "{d}").unwrap();
        }
        for i in 0..n_addrs {
            let a = Ipv4Addr::from(rng.next() as u32);
            if i % (n_addrs / 1000).max(1) == 0 {
                sample_addrs.push(IpAddr::V4(a));
            }
            writeln!(f, "{a}").unwrap();
        }
    } else {
        for i in 0..n_domains {
            let d = domain(&mut rng);
            if i % (n_domains / 1000).max(1) == 0 {
                sample_names.push(d);
            }
        }
        for i in 0..n_addrs {
            let a = Ipv4Addr::from(rng.next() as u32);
            if i % (n_addrs / 1000).max(1) == 0 {
                sample_addrs.push(IpAddr::V4(a));
            }
        }
    }
    println!(
        "indicators: {n_domains} domains, {n_addrs} addresses ({} MB feed file)",
        std::fs::metadata(&path).unwrap().len() >> 20
    );

    // ioc-sensor's IndicatorSet
    let base = rss_bytes();
    let t = Instant::now();
    let loaded = intel::load_paths(std::slice::from_ref(&path)).unwrap();
    let load_s = t.elapsed().as_secs_f64();
    let set = loaded.set;
    drop(loaded.files);
    let grown = rss_bytes().saturating_sub(base);
    assert!(
        set.counts().total() * 1000 >= (n_domains + n_addrs) * 999,
        "nearly every indicator is distinct"
    );
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
            set.match_addr(black_box(*a), 443, |_| found += 1);
        }
    }
    let addr_ns = t.elapsed().as_nanos() as f64 / (rounds * sample_addrs.len()) as f64;
    assert!(found > 0);
    println!("IndicatorSet:      load {load_s:6.2} s   memory {:6.1} MB ({:5.1} B/indicator)   name lookup (4 labels) hit {hit_ns:5.1} ns, miss {miss_ns:5.1} ns   address {addr_ns:5.1} ns",
        grown as f64 / 1e6, grown as f64 / (n_domains + n_addrs) as f64);
    drop(set);

    // Baseline: HashSet<String> of the normalised values, lookups of every suffix.
    let base = rss_bytes();
    let t = Instant::now();
    let text = std::fs::read_to_string(&path).unwrap();
    let mut names: HashSet<String> = HashSet::new();
    let mut addrs: HashSet<IpAddr> = HashSet::new();
    for line in text.lines() {
        match line.parse::<IpAddr>() {
            Ok(a) => {
                addrs.insert(a);
            }
            Err(_) => {
                names.insert(line.to_ascii_lowercase());
            }
        }
    }
    drop(text);
    let load_s = t.elapsed().as_secs_f64();
    let grown = rss_bytes().saturating_sub(base);
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
    println!("HashSet<String>:   load {load_s:6.2} s   memory {:6.1} MB ({:5.1} B/indicator)   name lookup (4 labels) hit {hit_ns:5.1} ns, miss {miss_ns:5.1} ns   address {addr_ns:5.1} ns",
        grown as f64 / 1e6, grown as f64 / (n_domains + n_addrs) as f64);
}
