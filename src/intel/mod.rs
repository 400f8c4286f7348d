//! Indicators: feed formats, normalisation and the [`IndicatorSet`] that workers match against.
//!
//! Loading is the only place feed bytes are interpreted. Every bad line becomes a
//! [`FeedError`] (`path:line: reason`); good lines load regardless. Without `-f`, the feeds
//! shipped in `feeds/` (compiled into the binary, see [`shipped`]) are used.
//!
//! Formats today: plain lists and Maltrail trails ([`plain`]).

pub mod formats;
pub mod normalize;
pub mod plain;
pub mod set;
pub mod shipped;

use std::fmt;
use std::path::{Path, PathBuf};

pub use set::{IndicatorSet, IndicatorSetBuilder, Kind, NameHit, Source};

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

/// What loading feeds produced: the set, the files read, and every bad line.
pub struct Loaded {
    /// The indicators.
    pub set: IndicatorSet,
    /// Feed files read (display names).
    pub files: Vec<String>,
    /// Bad lines, in file and line order.
    pub errors: Vec<FeedError>,
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
    let mut files = Vec::new();
    for path in paths {
        expand(path, &mut files)?;
    }
    let mut builder = IndicatorSetBuilder::new();
    let mut errors = Vec::new();
    let mut names = Vec::new();
    for file in &files {
        let display = file.display().to_string();
        let bytes = std::fs::read(file).map_err(|e| UnreadableFeed {
            path: display.clone(),
            reason: io_reason(&e),
        })?;
        formats::load(&display, &bytes, &mut builder, &mut errors);
        names.push(display);
    }
    Ok(Loaded {
        set: builder.build(),
        files: names,
        errors,
    })
}

/// Load the feeds compiled into the binary.
pub fn load_shipped() -> Loaded {
    let mut builder = IndicatorSetBuilder::new();
    let mut errors = Vec::new();
    let mut names = Vec::new();
    for (name, text) in shipped::FEEDS {
        formats::load(name, text.as_bytes(), &mut builder, &mut errors);
        names.push(name.to_string());
    }
    Loaded {
        set: builder.build(),
        files: names,
        errors,
    }
}

fn expand(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), UnreadableFeed> {
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
