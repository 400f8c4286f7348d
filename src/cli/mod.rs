//! The command line: validate what the user typed, build the working objects, run, and turn
//! the outcome into messages and an exit code.
//!
//! Messages name their subject first and say what to do: `ioc-sensor: feeds/x.txt:17: not an
//! IP, domain or URL: "exa mple"`. Exit codes: 0 done, 1 runtime failure, 2 bad usage or
//! configuration (reported before any packet is read).

pub mod args;
pub mod summary;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

use crate::capture;
use crate::eve::sink::{Destination, Sink};
use crate::inspect::EventTypes;
use crate::intel::{self, Kind, Loaded};
use crate::pipeline::{self, RunConfig};
use args::{Args, Command, FeedsAction};

/// Exit status for a runtime failure.
pub const EXIT_FAILURE: u8 = 1;
/// Exit status for bad usage or configuration.
pub const EXIT_USAGE: u8 = 2;

/// Print a message for people on stderr.
pub fn complain(msg: impl std::fmt::Display) {
    eprintln!("ioc-sensor: {msg}");
}

/// Parse the command line and run.
pub fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(code) => ExitCode::from(code),
        Err(Usage(msg)) => {
            complain(msg);
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// A usage or configuration error: exit 2.
#[derive(Debug)]
pub struct Usage(pub String);

fn run(args: Args) -> Result<u8, Usage> {
    if let Some(Command::Feeds {
        action: FeedsAction::Check { paths },
    }) = args.command
    {
        return feeds_check(&paths);
    }
    if !args.interface.is_empty() {
        return Err(Usage(
            "-i: live capture is not available in this build yet; read capture files with -r"
                .into(),
        ));
    }
    if args.read.is_empty() {
        return Err(Usage(
            "nothing to read: give a capture with -r FILE|DIR|- (see --help)".into(),
        ));
    }
    let events = parse_events(&args.events)?;
    let workers = match args.workers {
        Some(0) => return Err(Usage("--workers: must be at least 1".into())),
        Some(n) => n,
        None => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
    };
    let filter = match &args.bpf {
        Some(expr) => capture::Filter::new(expr).map_err(Usage)?,
        None => capture::Filter::none(),
    };
    let loaded = load_feeds(&args.feeds)?;
    let inputs = capture::resolve_inputs(&args.read).map_err(Usage)?;
    for skipped in &inputs.skipped {
        complain(format!("{skipped} (skipped)"));
    }
    let dest = Destination::parse(&args.output);
    let sink = Sink::open(&dest)
        .map_err(|e| Usage(format!("{}: {}", args.output, intel::io_reason(&e))))?;

    let show_progress = !args.quiet && std::io::stderr().is_terminal();
    let bar = show_progress.then(|| summary::progress_bar(inputs.total_bytes()));
    let progress = bar.clone().map(|bar| {
        Box::new(move |p: pipeline::Progress| summary::update_progress(&bar, p))
            as Box<dyn FnMut(pipeline::Progress) + Send>
    });
    let skipped_inputs = inputs.skipped.len();
    let files = inputs.files.len();
    let config = RunConfig {
        inputs,
        set: Arc::new(loaded.set),
        events,
        workers,
        filter,
        progress,
    };
    let report = pipeline::run_files(config, sink);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    for cut in &report.cut_short {
        complain(format!(
            "{cut}: capture file cut short; every packet before the cut was processed"
        ));
    }
    for failed in &report.failed {
        complain(failed);
    }
    if let Some(e) = &report.write_error {
        complain(format!("{}: writing output failed: {e}", args.output));
    }
    if !args.quiet {
        eprint!("{}", summary::render(&report, files));
    }
    let failed = skipped_inputs > 0 || !report.failed.is_empty() || report.write_error.is_some();
    Ok(if failed { EXIT_FAILURE } else { 0 })
}

fn parse_events(list: &[String]) -> Result<EventTypes, Usage> {
    let mut events = EventTypes::default();
    for name in list.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        match name {
            "alert" => {}
            "dns" => events.dns = true,
            "tls" => events.tls = true,
            "http" => events.http = true,
            "quic" => events.quic = true,
            "flow" => events.flow = true,
            other => {
                return Err(Usage(format!(
                "--events: unknown record type {other:?}; choose from alert,dns,tls,http,quic,flow"
            )))
            }
        }
    }
    Ok(events)
}

/// Load `-f` feeds (or the shipped ones), reporting every bad line.
fn load_feeds(paths: &[std::path::PathBuf]) -> Result<Loaded, Usage> {
    let loaded = if paths.is_empty() {
        intel::load_shipped()
    } else {
        intel::load_paths(paths).map_err(|e| Usage(e.to_string()))?
    };
    for e in &loaded.errors {
        complain(e);
    }
    if loaded.set.is_empty() {
        return Err(Usage(format!(
            "no usable indicator in {}: give feeds with -f (one domain, address, CIDR or URL per line)",
            loaded.files.join(", ")
        )));
    }
    Ok(loaded)
}

fn feeds_check(paths: &[std::path::PathBuf]) -> Result<u8, Usage> {
    let loaded = intel::load_paths(paths).map_err(|e| Usage(e.to_string()))?;
    for e in &loaded.errors {
        println!("{e}");
    }
    let counts = loaded.set.counts();
    println!(
        "{} file(s): {}",
        loaded.files.len(),
        loaded.files.join(", ")
    );
    for kind in [
        Kind::Domain,
        Kind::Hostname,
        Kind::Address,
        Kind::Network,
        Kind::Url,
        Kind::UrlPath,
    ] {
        println!("  {:<10} {}", kind.as_str(), counts.get(kind));
    }
    println!("  {:<10} {}", "total", counts.total());
    println!("  {:<10} {}", "bad lines", loaded.errors.len());
    Ok(if loaded.errors.is_empty() {
        0
    } else {
        EXIT_FAILURE
    })
}
