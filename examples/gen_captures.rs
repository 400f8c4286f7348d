//! The project's capture generator: deterministic pcap files for the samples, the tests and
//! the benchmarks.
//!
//! **`office-day`** tells this story. On Tuesday 14 January 2025, from 08:55 to about 10:30
//! UTC, seven Windows workstations in a ministry office (10.20.0.0/24, resolver 10.20.0.2,
//! one gateway) start their morning: the connectivity check, settings and certificate-list
//! downloads, sign-ins to Microsoft 365, Outlook and Teams, searches, and the Kazakh government
//! and news sites, as DNS lookups followed by TLS 1.3 sessions (two of them with the
//! ClientHello split over several segments arriving out of order) and a few HTTP/1.1 requests,
//! among them two on one keep-alive connection and one to the intranet portal on port 8080.
//! At 09:12 the user at 10.20.0.57 reads mail and opens a booby-trapped document, as in
//! UAC-0063's campaign against Kazakhstan's Ministry of Foreign Affairs: at 09:14 the machine
//! looks up `diagnostic-resolver.com` and `mshta` fetches `http://diagnostic-resolver.com/kb5034441.hta`
//! (the HATVIBE loader); at 09:20 HATVIBE posts to its C2 by address, 45.136.198.184; at 09:31
//! the second stage, CHERRYSPY, looks up `lookup.ink` and calls it over TLS. With the shipped
//! feed `feeds/uac-0063.txt` the sensor raises: dns query and http host for
//! diagnostic-resolver.com; ip 45.136.198.184, and http host 45.136.198.184 as well because the
//! POST's `Host` header is that address literal; dns query and tls sni for lookup.ink. Every
//! other address is in a documentation range, and no other listed name or address appears.
//!
//! **`mix`** streams a synthetic traffic mix of about `--bytes` bytes in constant memory:
//! `--mix realistic` (DNS, TLS, HTTP, QUIC and bulk TCP with IMIX-like sizes) or `--mix small`
//! (a DNS query flood and short TCP flows: the small-packet worst case). **`feed`** writes the
//! matching benchmark indicator feed. Everything is byte-for-byte reproducible from the seed.
//!
//! ```text
//! cargo run --example gen_captures -- office-day samples/office-day.pcap
//! cargo run --release --example gen_captures -- mix --bytes 1G --seed 1 mix.pcap
//! cargo run --release --example gen_captures -- mix --mix small --bytes 1G --seed 1 small.pcap
//! cargo run --release --example gen_captures -- feed --count 100000 --seed 1 feed.txt
//! cargo run --release --example gen_captures -- split --packets 30 mix.pcap mix-parts/
//! ```
//!
//! **`split`** cuts one of these captures into files of `--packets` packets each: a directory
//! of many small captures with the same packets as the one file.

#[path = "gen_captures/feed.rs"]
mod feed;
#[path = "gen_captures/mix.rs"]
mod mix;
#[path = "gen_captures/names.rs"]
mod names;
#[path = "gen_captures/office.rs"]
mod office;
#[path = "gen_captures/pcapfile.rs"]
mod pcapfile;
#[path = "gen_captures/rng.rs"]
mod rng;
#[path = "gen_captures/split.rs"]
mod split;
#[path = "gen_captures/wire.rs"]
mod wire;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand, ValueEnum};

/// Writes the project's synthetic captures and benchmark feeds.
#[derive(Parser)]
#[command(name = "gen_captures")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The office-morning sample with a UAC-0063 infection (see the source for the story).
    OfficeDay {
        /// Output pcap file.
        out: PathBuf,
    },
    /// A streamed synthetic traffic mix for benchmarks.
    Mix {
        /// Which mix.
        #[arg(long = "mix", value_enum, default_value = "realistic")]
        mix: MixKind,
        /// Approximate file size: a number with an optional K, M or G suffix (powers of 1024).
        #[arg(long, default_value = "1G", value_parser = parse_size)]
        bytes: u64,
        /// Seed: the same seed gives the same file.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output pcap file.
        out: PathBuf,
    },
    /// A benchmark indicator feed: random domains and addresses plus the few that the mix of
    /// the same seed contains.
    Feed {
        /// How many random domains, and as many random addresses.
        #[arg(long, default_value_t = 100_000)]
        count: u64,
        /// The seed of the mix the feed goes with.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output feed file (plain list, one indicator a line).
        out: PathBuf,
    },
    /// One of this generator's captures cut into files of a few packets each.
    Split {
        /// Packets per file.
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
        packets: u64,
        /// The capture to cut.
        input: PathBuf,
        /// Directory for the parts (`part-NNNNNNNN.pcap`).
        out: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum MixKind {
    /// DNS, TLS, HTTP, QUIC and bulk TCP; most bytes in full-sized segments.
    Realistic,
    /// A DNS query flood and short TCP flows: the small-packet worst case.
    Small,
}

fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, 'k' | 'K')) => (&s[..i], 1u64 << 10),
        Some((i, 'm' | 'M')) => (&s[..i], 1 << 20),
        Some((i, 'g' | 'G')) => (&s[..i], 1 << 30),
        _ => (s, 1),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("not a size: {s:?} (try 200M or 1G)"))?;
    if !(n.is_finite() && n > 0.0) {
        return Err(format!("not a positive size: {s:?}"));
    }
    Ok((n * mult as f64) as u64)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let started = Instant::now();
    let (out, result) = match args.command {
        Command::OfficeDay { out } => {
            let r = office::write(&out);
            (out, r)
        }
        Command::Mix {
            mix,
            bytes,
            seed,
            out,
        } => {
            let kind = match mix {
                MixKind::Realistic => mix::Kind::Realistic,
                MixKind::Small => mix::Kind::Small,
            };
            let r = mix::write(kind, bytes, seed, &out);
            (out, r)
        }
        Command::Feed { count, seed, out } => {
            let r = feed::write(count, seed, &out);
            (out, r)
        }
        Command::Split {
            packets,
            input,
            out,
        } => {
            let r = split::write(&input, packets, &out);
            (out, r)
        }
    };
    match result {
        Ok((packets, bytes)) => {
            let secs = started.elapsed().as_secs_f64().max(1e-6);
            if packets > 0 {
                eprintln!(
                    "gen_captures: {}: {packets} packets, {bytes} bytes in {secs:.2} s ({:.0} MB/s)",
                    out.display(),
                    bytes as f64 / secs / 1e6
                );
            } else {
                eprintln!("gen_captures: {}: {bytes} bytes", out.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("gen_captures: {}: {e}", out.display());
            ExitCode::FAILURE
        }
    }
}
