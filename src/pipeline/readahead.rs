//! Reading small capture files ahead of the replay workers ([`super::replay`]): one thread
//! opens and reads each file under the map threshold once, while the workers inspect the
//! files before it, and hands every worker the same bytes. For a directory of many small
//! captures the kernel's cost of opening and reading each file (~10–20 µs here) is then spent
//! on another core instead of between the workers' files, and only once for all workers.
//!
//! Larger files are left to the workers, which map them ([`crate::capture::mapped`]). At most
//! [`FILES_AHEAD`] files wait per worker (each under 4 MB). A worker that ends early drops its
//! queue; the reader stops when no worker is left or the run is stopped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crossbeam_channel::{bounded, Receiver, Sender};

use crate::capture::{mapped, InputFile, Inputs};

/// Files read ahead of each worker.
pub const FILES_AHEAD: usize = 4;

/// One input file, in order, as the reader leaves it for a worker.
pub(crate) enum Ahead {
    /// The file's bytes.
    Loaded(Arc<[u8]>),
    /// The file could not be read (`path: reason`).
    Failed(String),
    /// A large file: the worker maps it.
    Map,
}

/// True when reading ahead pays: several files small enough to be read whole.
pub(crate) fn suits(inputs: &Inputs) -> bool {
    inputs.files.iter().filter(|f| mapped::is_small(f)).count() >= 2
}

/// A queue per worker, and their receiving ends.
pub(crate) fn queues(workers: usize) -> (Vec<Sender<Ahead>>, Vec<Receiver<Ahead>>) {
    (0..workers).map(|_| bounded(FILES_AHEAD)).unzip()
}

/// Read every input file in order, handing each worker its turn of each.
pub(crate) fn read_ahead(stop: &AtomicBool, inputs: &Inputs, mut workers: Vec<Sender<Ahead>>) {
    for file in &inputs.files {
        if stop.load(Ordering::Relaxed) || workers.is_empty() {
            return;
        }
        let ahead = Ahead::of(file);
        // A worker that has ended (stopped) takes nothing more.
        workers.retain(|worker| worker.send(ahead.share()).is_ok());
    }
}

impl Ahead {
    /// What the workers get of `file`.
    fn of(file: &InputFile) -> Ahead {
        if !mapped::is_small(file) {
            return Ahead::Map;
        }
        match mapped::load(file) {
            Ok(bytes) => Ahead::Loaded(bytes.into()),
            Err(e) => Ahead::Failed(e),
        }
    }

    /// The same file for another worker (the bytes are shared, not copied).
    fn share(&self) -> Ahead {
        match self {
            Ahead::Loaded(bytes) => Ahead::Loaded(Arc::clone(bytes)),
            Ahead::Failed(e) => Ahead::Failed(e.clone()),
            Ahead::Map => Ahead::Map,
        }
    }
}
