//! The benchmark indicator feed: `count` random domains and `count` random addresses, which
//! the mix of the same seed does not contain (barring coincidence), and first the few names
//! and addresses that the mix plants in some of its flows, so that a benchmark run raises
//! alerts. A plain list, as `feeds/*.txt`.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::Ipv4Addr;
use std::path::Path;

use super::names;

/// Writes the feed; returns (0, bytes written).
pub fn write(count: u64, seed: u64, path: &Path) -> io::Result<(u64, u64)> {
    let mut out = BufWriter::new(File::create(path)?);
    writeln!(out, "# Benchmark feed made by `cargo run --example gen_captures -- feed --count {count} --seed {seed}`.")?;
    writeln!(out, "# Campaign: bench")?;
    writeln!(
        out,
        "# First the indicators planted in the `mix` captures of seed {seed}, then {count} random"
    )?;
    writeln!(
        out,
        "# domains and {count} random addresses that do not occur there."
    )?;
    let mut name = String::new();
    for i in 0..names::PLANTED_NAMES {
        name.clear();
        names::planted_name(seed, i, &mut name);
        writeln!(out, "{name}")?;
    }
    for i in 0..names::PLANTED_ADDRS {
        writeln!(out, "{}", Ipv4Addr::from(names::planted_addr(seed, i)))?;
    }
    for i in 0..count {
        name.clear();
        names::feed_name(seed, i, &mut name);
        writeln!(out, "{name}")?;
    }
    for i in 0..count {
        writeln!(out, "{}", Ipv4Addr::from(names::feed_addr(seed, i)))?;
    }
    out.flush()?;
    let bytes = out.get_ref().metadata()?.len();
    Ok((0, bytes))
}
