//! Indicators that can change while the sensor runs: loaded from their feed files, shared
//! with the workers, and replaced whole when a feed file changes or on SIGHUP.
//!
//! - [`SharedIndicators`] holds the current [`Indicators`] behind an `ArcSwap`; a worker reads
//!   a generation counter once per batch (one atomic load) and takes the new set only when it
//!   changed, between batches: no lock on the packet path, and no packet sees half a reload.
//! - [`FeedSources`] knows where the indicators come from (feed files or the shipped feeds,
//!   and the allow-list) and loads them.
//! - [`Watcher`] is a thread that looks at the feed files' size and modification time every
//!   [`POLL_INTERVAL`] (an atomic `mv` over a feed counts as a change) and at the SIGHUP flag,
//!   waits until a change has settled for one interval, then reloads off the packet path.
//!
//! A reload that fails keeps the old indicators and says why on stderr and in the next
//! `stats`: a file that cannot be read, no usable indicator at all, or a file that held
//! indicators and now holds none (half-written).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;

use super::{load_paths_with_key, load_shipped, FeedError, FileReport, IndicatorSet, Loaded};

/// How often feed files are looked at.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// What workers match against.
pub struct Indicators {
    /// Indicators from the feeds.
    pub set: Arc<IndicatorSet>,
    /// Names and addresses that never alert (`--allow`).
    pub allow: Option<Arc<IndicatorSet>>,
}

/// The current indicators, swapped whole on reload.
pub struct SharedIndicators {
    current: ArcSwap<Indicators>,
    generation: AtomicU64,
    /// Reloads done.
    pub reloads: AtomicU64,
    /// Reloads refused (the old indicators were kept).
    pub failed_reloads: AtomicU64,
    /// Why the last reload failed, for the next stats record.
    pub last_failure: Mutex<Option<String>>,
}

impl SharedIndicators {
    /// Share `indicators`.
    pub fn new(indicators: Indicators) -> Self {
        SharedIndicators {
            current: ArcSwap::from_pointee(indicators),
            generation: AtomicU64::new(0),
            reloads: AtomicU64::new(0),
            failed_reloads: AtomicU64::new(0),
            last_failure: Mutex::new(None),
        }
    }

    /// The current indicators.
    pub fn load(&self) -> Arc<Indicators> {
        self.current.load_full()
    }

    /// Changes each time the indicators are replaced.
    #[inline]
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Replace the indicators.
    pub fn replace(&self, indicators: Indicators) {
        self.current.store(Arc::new(indicators));
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.reloads.fetch_add(1, Ordering::Relaxed);
    }
}

/// Where the indicators come from.
#[derive(Debug, Clone)]
pub struct FeedSources {
    /// `-f` paths; empty means the shipped feeds.
    pub feeds: Vec<PathBuf>,
    /// `--allow` paths.
    pub allow: Vec<PathBuf>,
    /// Key of sealed feeds (`--key-file`).
    pub key: Option<super::sealed::SealKey>,
}

/// A successful load: the indicators, what each feed file held, and the bad lines.
pub struct LoadedIndicators {
    /// Ready to share.
    pub indicators: Indicators,
    /// One report per feed file (the allow-list's files after the feeds').
    pub files: Vec<FileReport>,
    /// Bad lines of all files.
    pub errors: Vec<FeedError>,
}

impl FeedSources {
    /// Load everything. Errors are for people (`path: reason`).
    pub fn load(&self) -> Result<LoadedIndicators, String> {
        let Loaded {
            set,
            mut files,
            mut errors,
        } = if self.feeds.is_empty() {
            load_shipped()
        } else {
            load_paths_with_key(&self.feeds, self.key.as_ref()).map_err(|e| e.to_string())?
        };
        if set.is_empty() {
            let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
            let mut problems: String = errors
                .iter()
                .map(|e| format!("{e}\nioc-sensor: "))
                .collect();
            problems.push_str(&format!(
                "no usable indicator in {}: give feeds with -f (one domain, address, CIDR or URL per line, or CSV, STIX, MISP, Zeek intel or Suricata dataset files)",
                names.join(", ")
            ));
            return Err(problems);
        }
        let allow = if self.allow.is_empty() {
            None
        } else {
            let loaded =
                load_paths_with_key(&self.allow, self.key.as_ref()).map_err(|e| e.to_string())?;
            files.extend(loaded.files);
            errors.extend(loaded.errors);
            Some(Arc::new(loaded.set))
        };
        Ok(LoadedIndicators {
            indicators: Indicators {
                set: Arc::new(set),
                allow,
            },
            files,
            errors,
        })
    }

    /// Size and modification time of every feed file (and the directories' listings): a
    /// change in any of them means a reload is due.
    fn signature(&self) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
        let mut out = Vec::new();
        for path in self.feeds.iter().chain(&self.allow) {
            let mut entries = vec![path.clone()];
            if path.is_dir() {
                if let Ok(dir) = std::fs::read_dir(path) {
                    entries.extend(dir.filter_map(|e| e.ok().map(|e| e.path())));
                }
            }
            for p in entries {
                let meta = std::fs::metadata(&p).ok();
                out.push((
                    p,
                    meta.as_ref().map_or(0, |m| m.len()),
                    meta.and_then(|m| m.modified().ok()),
                ));
            }
        }
        out.sort();
        out
    }
}

/// Reject a reload that would lose a whole feed: a file that held indicators and now holds
/// none (typically caught half-written).
fn check_reload(old: &[FileReport], new: &[FileReport]) -> Result<(), String> {
    for before in old.iter().filter(|f| f.counts.total() > 0) {
        match new.iter().find(|f| f.name == before.name) {
            Some(after) if after.counts.total() == 0 => {
                return Err(format!(
                    "{}: no indicator any more (it had {}); half-written?",
                    after.name,
                    before.counts.total()
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Watches the feeds and reloads them.
pub struct Watcher {
    stop: crossbeam_channel::Sender<()>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watcher {
    /// Start watching `sources` (files: when `-f` was given) and the `hup` flag, replacing the
    /// indicators in `shared`. `files` is the report of the load in use.
    pub fn start(
        sources: FeedSources,
        shared: Arc<SharedIndicators>,
        hup: Arc<AtomicBool>,
        files: Vec<FileReport>,
    ) -> Watcher {
        let (stop, stopped) = crossbeam_channel::bounded(1);
        let thread = std::thread::Builder::new()
            .name("feed-watcher".into())
            .spawn(move || watch(sources, shared, hup, files, stopped))
            .ok();
        Watcher { stop, thread }
    }

    /// Stop the thread and wait for it.
    pub fn stop(mut self) {
        let _ = self.stop.send(());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn watch(
    sources: FeedSources,
    shared: Arc<SharedIndicators>,
    hup: Arc<AtomicBool>,
    mut files: Vec<FileReport>,
    stop: crossbeam_channel::Receiver<()>,
) {
    let watch_files = !sources.feeds.is_empty() || !sources.allow.is_empty();
    let mut seen = sources.signature();
    let mut changed_at: Option<Vec<(PathBuf, u64, Option<SystemTime>)>> = None;
    loop {
        // Wait one interval in small steps (SIGHUP is a flag), or until told to stop.
        let mut stopping = false;
        for _ in 0..10 {
            if hup.load(Ordering::Relaxed) {
                break;
            }
            if stop.recv_timeout(POLL_INTERVAL / 10).is_ok() {
                stopping = true;
                break;
            }
        }
        if stopping {
            return;
        }
        let signal = hup.swap(false, Ordering::Relaxed);
        let mut due = signal;
        if watch_files {
            let now = sources.signature();
            if now != seen {
                // Reload once the files have stopped changing for one interval.
                if changed_at.as_ref() == Some(&now) {
                    due = true;
                } else {
                    changed_at = Some(now);
                }
            }
        }
        if !due {
            continue;
        }
        changed_at = None;
        seen = sources.signature();
        let why = if signal {
            "SIGHUP"
        } else {
            "feed files changed"
        };
        match sources
            .load()
            .and_then(|l| check_reload(&files, &l.files).map(|_| l))
        {
            Ok(loaded) => {
                for e in &loaded.errors {
                    eprintln!("ioc-sensor: {e}");
                }
                eprintln!(
                    "ioc-sensor: feeds reloaded ({why}): {} indicators (were {})",
                    loaded.indicators.set.counts().total(),
                    shared.load().set.counts().total()
                );
                files = loaded.files;
                shared.replace(loaded.indicators);
            }
            Err(reason) => {
                eprintln!("ioc-sensor: feed reload failed ({why}), keeping the previous indicators: {reason}");
                shared.failed_reloads.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut last) = shared.last_failure.lock() {
                    *last = Some(reason);
                }
            }
        }
    }
}
