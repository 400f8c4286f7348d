//! Indicators: feed formats, normalisation and the [`IndicatorSet`] that workers match against.
//!
//! Loading is the only place feed bytes are interpreted. Every bad line becomes a
//! [`FeedError`] (`path:line: reason`); good lines load regardless. Without `-f`, the feeds
//! shipped in `feeds/` (compiled into the binary, see [`shipped`]) are used.
//!
//! Formats: plain lists and Maltrail trails ([`plain`]); CSV, STIX 2.1, MISP, Zeek Intel and
//! Suricata datasets ([`formats`], which also detects the format of each file).

pub mod formats;
pub mod frozen;
pub mod normalize;
pub mod plain;
pub mod reload;
pub mod sealed;
pub mod set;
pub mod shipped;

use std::fmt;
use std::path::{Path, PathBuf};

pub use set::{IndicatorSet, IndicatorSetBuilder, Kind, KindCounts, NameHit, Source};

/// One bad feed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedError {
    /// File as the user named it.
    pub path: String,
    /// 1-based line number; 0 when the error is about the whole file.
    pub line: usize,
    /// What is wrong with it.
    pub reason: String,
}

impl FeedError {
    /// An error at `path:line`.
    pub fn new(path: &str, line: usize, reason: impl Into<String>) -> Self {
        FeedError {
            path: path.to_string(),
            line,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for FeedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.path, self.reason)
        } else {
            write!(f, "{}:{}: {}", self.path, self.line, self.reason)
        }
    }
}

/// What one feed file gave.
#[derive(Debug, Clone)]
pub struct FileReport {
    /// The file as named.
    pub name: String,
    /// The format it was read as.
    pub format: formats::FeedFormat,
    /// Indicators it added, by kind.
    pub counts: KindCounts,
    /// Entries skipped, by reason (bad lines are also in [`Loaded::errors`]).
    pub skipped: std::collections::BTreeMap<String, usize>,
    /// Bad lines in this file.
    pub errors: usize,
}

/// What loading feeds produced: the set, a report per file, and every bad line.
pub struct Loaded {
    /// The indicators.
    pub set: IndicatorSet,
    /// One report per feed file read, in order.
    pub files: Vec<FileReport>,
    /// Bad lines, in file and line order.
    pub errors: Vec<FeedError>,
}

impl Loaded {
    /// Names of the files read.
    pub fn file_names(&self) -> Vec<&str> {
        self.files.iter().map(|f| f.name.as_str()).collect()
    }
}

/// A feed that could not be read at all (missing, unreadable): a configuration error.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct UnreadableFeed {
    /// The path the user gave.
    pub path: String,
    /// Why it could not be read.
    pub reason: String,
}

/// Load feeds from files and directories (a directory: every regular file in it, in name
/// order, except `README*`, `*.md` and hidden files).
pub fn load_paths(paths: &[PathBuf]) -> Result<Loaded, UnreadableFeed> {
    load_paths_with_key(paths, None)
}

/// [`load_paths`], with the key of sealed feeds.
pub fn load_paths_with_key(
    paths: &[PathBuf],
    key: Option<&sealed::SealKey>,
) -> Result<Loaded, UnreadableFeed> {
    let mut files = Vec::new();
    for path in paths {
        expand(path, &mut files)?;
    }
    let mut contents = Vec::with_capacity(files.len());
    for file in &files {
        let display = file.display().to_string();
        let bytes = std::fs::read(file).map_err(|e| UnreadableFeed {
            path: display.clone(),
            reason: io_reason(&e),
        })?;
        contents.push((display, bytes));
    }
    let loaded = load_contents(
        contents.iter().map(|(n, b)| (n.as_str(), b.as_slice())),
        key,
    );
    drop(contents);
    release_free_memory();
    Ok(loaded)
}

/// Give the memory that loading used and freed (file contents, the builder's tables, the
/// lines classified on helper threads) back to the system, so that a sensor's resident size
/// is its indicators and not the high-water mark of its last reload.
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists; no pointer is passed.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Load the feeds compiled into the binary.
pub fn load_shipped() -> Loaded {
    load_contents(
        shipped::FEEDS
            .iter()
            .map(|(name, text)| (*name, text.as_bytes())),
        None,
    )
}

/// Build one set from (name, bytes) feeds.
fn load_contents<'a>(
    feeds: impl Iterator<Item = (&'a str, &'a [u8])>,
    key: Option<&sealed::SealKey>,
) -> Loaded {
    let mut builder = match key {
        Some(key) => IndicatorSetBuilder::with_seal_key(key.clone()),
        None => IndicatorSetBuilder::new(),
    };
    let mut errors = Vec::new();
    let mut files = Vec::new();
    for (name, bytes) in feeds {
        let before = builder.counts().clone();
        let errors_before = errors.len();
        let summary = formats::load(name, bytes, &mut builder, &mut errors);
        let mut counts = builder.counts().clone();
        for (c, b) in counts.by_kind.iter_mut().zip(before.by_kind) {
            *c -= b;
        }
        files.push(FileReport {
            name: name.to_string(),
            format: summary.format,
            counts,
            skipped: summary.skipped,
            errors: errors.len() - errors_before,
        });
    }
    Loaded {
        set: builder.build(),
        files,
        errors,
    }
}

/// The feed files a path names: itself, or a directory's feed files in name order.
pub fn expand(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), UnreadableFeed> {
    let meta = std::fs::metadata(path).map_err(|e| UnreadableFeed {
        path: path.display().to_string(),
        reason: io_reason(&e),
    })?;
    if !meta.is_dir() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let entries = std::fs::read_dir(path).map_err(|e| UnreadableFeed {
        path: path.display().to_string(),
        reason: io_reason(&e),
    })?;
    let mut inside: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_file() && is_feed_file_name(p))
        .collect();
    inside.sort();
    out.extend(inside);
    Ok(())
}

fn is_feed_file_name(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    !(name.starts_with('.') || name.starts_with("README") || name.ends_with(".md"))
}

/// An I/O error in the words of a message for people.
pub fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}
