//! The command line: validate what the user typed, build the working objects, run, and turn
//! the outcome into messages and an exit code.
//!
//! Messages name their subject first and say what to do: `ioc-sensor: feeds/x.txt:17: not an
//! IP, domain or URL: "exa mple"`. Exit codes: 0 done, 1 runtime failure, 2 bad usage or
//! configuration (reported before any packet is read).

pub mod args;
mod privileges;
pub mod summary;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

use crate::capture;
use crate::eve::sink::{Destination, Sink};
use crate::inspect::EventTypes;
use crate::intel::reload::{FeedSources, SharedIndicators, Watcher};
use crate::intel::sealed::SealKey;
use crate::intel::{self, Kind};
use crate::pipeline::stats::StatsBoard;
use crate::pipeline::{self, RunConfig, Source, WriterControl};
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
    let key = match &args.key_file {
        Some(path) => Some(SealKey::from_file(path).map_err(Usage)?),
        None => None,
    };
    if let Some(Command::Feeds { action }) = args.command {
        return match action {
            FeedsAction::Check { paths } => feeds_check(&paths, key.as_ref()),
            FeedsAction::Seal { keep, paths } => feeds_seal(&paths, key, &keep),
        };
    }
    if args.read.is_empty() && args.interface.is_empty() {
        return Err(Usage("nothing to read: give a capture with -r FILE|DIR|- or an interface with -i IFACE (see --help)".into()));
    }
    if !args.read.is_empty() && !args.interface.is_empty() {
        return Err(Usage(
            "-r and -i: read files or capture live, not both at once".into(),
        ));
    }
    if args.stats_interval == 0 {
        return Err(Usage("--stats-interval: must be at least 1 second".into()));
    }
    let (events, stats_events) = parse_events(&args.events)?;
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
    let sources = FeedSources {
        key,
        feeds: args.feeds.clone(),
        allow: args.allow.clone(),
    };
    let live = !args.interface.is_empty();
    // The capture files are resolved (a directory listed, each file's size taken) while the
    // feeds load.
    let resolve = || capture::resolve_inputs(&args.read);
    let (loaded, resolved) = std::thread::scope(|scope| {
        let resolving = (!live).then(|| {
            std::thread::Builder::new()
                .name("resolve-inputs".into())
                .spawn_scoped(scope, resolve)
        });
        let loaded = sources.load();
        let resolved = resolving.map(|spawned| match spawned {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|_| Err("resolving the inputs failed".into())),
            Err(_) => resolve(), // no thread to be had: here, after the feeds
        });
        (loaded, resolved)
    });
    let loaded = loaded.map_err(Usage)?;
    for e in &loaded.errors {
        complain(e);
    }
    let (source, total_bytes, skipped_inputs) = if live {
        let mut handles = Vec::new();
        for interface in &args.interface {
            let options = capture::live::LiveOptions {
                interface: interface.clone(),
                snaplen: args.snaplen,
                buffer_size: args.buffer_size,
                promisc: !args.no_promisc,
                bpf: args.bpf.clone(),
            };
            handles.push(capture::live::open(&options).map_err(Usage)?);
        }
        (Source::Live(handles), 0, 0)
    } else {
        // Resolved above whenever not live.
        let inputs = resolved.unwrap_or_else(resolve).map_err(Usage)?;
        for skipped in &inputs.skipped {
            complain(format!("{skipped} (skipped)"));
        }
        let (total, skipped) = (inputs.total_bytes(), inputs.skipped.len());
        (Source::Files(inputs), total, skipped)
    };
    let dest = Destination::parse(&args.output);
    let sink = Sink::open(&dest)
        .map_err(|e| Usage(format!("{}: {}", args.output, intel::io_reason(&e))))?;
    if let Some(user) = &args.user {
        privileges::drop_to(user, args.group.as_deref()).map_err(Usage)?;
    } else if args.group.is_some() {
        return Err(Usage("--group needs --user".into()));
    }
    let signals = Signals::install().map_err(|e| Usage(format!("signal handlers: {e}")))?;

    let shared = Arc::new(SharedIndicators::new(loaded.indicators));
    let watcher = Watcher::start(
        sources,
        Arc::clone(&shared),
        Arc::clone(&signals.hup),
        loaded.files,
    );
    let show_progress = !args.quiet && !live && std::io::stderr().is_terminal();
    let bar = show_progress.then(|| summary::progress_bar(total_bytes));
    let progress = bar.clone().map(|bar| {
        Box::new(move |p: pipeline::Progress| summary::update_progress(&bar, p))
            as Box<dyn FnMut(pipeline::Progress) + Send>
    });
    let config = RunConfig {
        indicators: Arc::clone(&shared),
        events,
        workers,
        max_flows: args.max_flows,
        filter,
        progress,
        stop: Arc::clone(&signals.stop),
    };
    let board = Arc::new(StatsBoard::new(workers));
    let control = WriterControl {
        destination: dest,
        reopen: Arc::clone(&signals.reopen),
        stats: (live || stats_events).then(|| (board, Duration::from_secs(args.stats_interval))),
        indicators: Arc::clone(&shared),
    };
    let report = pipeline::run(config, source, sink, control);
    watcher.stop();
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
        // Files not read at all (unreadable, or not captures after all) are named above.
        let read = (!live).then_some(report.files_read);
        eprint!("{}", summary::render(&report, read, &shared));
    }
    let failed = skipped_inputs > 0 || !report.failed.is_empty() || report.write_error.is_some();
    Ok(if failed { EXIT_FAILURE } else { 0 })
}

/// Flags set by signals: SIGTERM and SIGINT stop the capture (the pipeline then drains and
/// writes every alert); a second SIGINT exits at once with status 130; SIGHUP reloads feeds
/// and reopens the output file (for logrotate).
struct Signals {
    stop: Arc<AtomicBool>,
    hup: Arc<AtomicBool>,
    reopen: Arc<AtomicBool>,
}

impl Signals {
    fn install() -> std::io::Result<Signals> {
        use signal_hook::consts::signal::{SIGHUP, SIGINT, SIGTERM};
        let stop = Arc::new(AtomicBool::new(false));
        let hup = Arc::new(AtomicBool::new(false));
        // Order matters: the exit on a second SIGINT is armed by the first one.
        signal_hook::flag::register_conditional_shutdown(SIGINT, 130, Arc::clone(&stop))?;
        signal_hook::flag::register(SIGINT, Arc::clone(&stop))?;
        signal_hook::flag::register(SIGTERM, Arc::clone(&stop))?;
        let reopen = Arc::new(AtomicBool::new(false));
        signal_hook::flag::register(SIGHUP, Arc::clone(&hup))?;
        signal_hook::flag::register(SIGHUP, Arc::clone(&reopen))?;
        Ok(Signals { stop, hup, reopen })
    }
}

fn parse_events(list: &[String]) -> Result<(EventTypes, bool), Usage> {
    let mut events = EventTypes::default();
    let mut stats = false;
    for name in list.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        match name {
            "alert" => {}
            "dns" => events.dns = true,
            "tls" => events.tls = true,
            "http" => events.http = true,
            "quic" => events.quic = true,
            "flow" => events.flow = true,
            "stats" => stats = true,
            other => {
                return Err(Usage(format!(
                "--events: unknown record type {other:?}; choose from alert,dns,tls,http,quic,flow,stats"
            )))
            }
        }
    }
    Ok((events, stats))
}

/// `feeds check`: load as the sensor would; per file the format, counts and skips; every bad
/// line. Exit 1 when any line was bad.
fn feeds_check(paths: &[std::path::PathBuf], key: Option<&SealKey>) -> Result<u8, Usage> {
    let loaded = intel::load_paths_with_key(paths, key).map_err(|e| Usage(e.to_string()))?;
    for e in &loaded.errors {
        println!("{e}");
    }
    let kinds = Kind::ALL;
    for file in &loaded.files {
        println!("{}: {}", file.name, file.format.as_str());
        for kind in kinds {
            let n = file.counts.get(kind);
            if n > 0 {
                println!("  {:<10} {n}", kind.as_str());
            }
        }
        println!("  {:<10} {}", "total", file.counts.total());
        for (reason, n) in &file.skipped {
            println!("  skipped    {n:>6}  {reason}");
        }
        if file.errors > 0 {
            println!("  bad lines  {}", file.errors);
        }
    }
    let counts = loaded.set.counts();
    println!(
        "{} file(s), {} indicators ({}), {} bad line(s)",
        loaded.files.len(),
        counts.total(),
        kinds
            .iter()
            .map(|k| format!("{} {}", k.as_str(), counts.get(*k)))
            .collect::<Vec<_>>()
            .join(", "),
        loaded.errors.len()
    );
    Ok(if loaded.errors.is_empty() {
        0
    } else {
        EXIT_FAILURE
    })
}

/// `feeds seal`: read feeds as the sensor would, write the sealed feed to stdout; bad lines
/// and counts on stderr.
fn feeds_seal(paths: &[std::path::PathBuf], key: Option<SealKey>, keep: &str) -> Result<u8, Usage> {
    let key = key.ok_or_else(|| Usage("feeds seal: give the key with --key-file (make one: head -c 32 /dev/urandom > sensor.key)".into()))?;
    let keep = intel::sealed::Keep::parse(keep).map_err(Usage)?;
    let mut files = Vec::new();
    for path in paths {
        intel::expand(path, &mut files).map_err(|e| Usage(e.to_string()))?;
    }
    let mut writer = intel::sealed::SealWriter::new(key, keep);
    let mut errors = Vec::new();
    for file in &files {
        let name = file.display().to_string();
        let bytes =
            std::fs::read(file).map_err(|e| Usage(format!("{name}: {}", intel::io_reason(&e))))?;
        intel::formats::load(&name, &bytes, &mut writer, &mut errors);
    }
    for e in &errors {
        complain(e);
    }
    if writer.counts().total() == 0 {
        return Err(Usage("feeds seal: no usable indicator to seal".into()));
    }
    eprintln!(
        "ioc-sensor: sealed {} indicators from {} file(s)",
        writer.counts().total(),
        files.len()
    );
    use std::io::Write;
    std::io::stdout()
        .write_all(writer.finish().as_bytes())
        .map_err(|e| Usage(format!("writing the sealed feed: {e}")))?;
    Ok(if errors.is_empty() { 0 } else { EXIT_FAILURE })
}
