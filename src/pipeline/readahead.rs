//! Reading small capture files ahead of the replay workers ([`super::replay`]): one thread
//! opens and reads each file under the map threshold once, while the workers inspect the
//! files before it, and hands every worker the same bytes. For a directory of many small
//! captures the kernel's cost of opening and reading each file (~10–20 µs here) is then spent
//! on another core instead of between the workers' files, and only once for all workers.
//!
//! Files go over in batches of consecutive files (up to [`BATCH_BYTES`] or [`BATCH_FILES`]),
//! shared by all workers: a queue hand-over per file woke a sleeping thread per file (the
//! reader and the worker take turns when they run at about the same speed), which on this
//! kind of virtual machine cost more than reading a 30-packet file.
//!
//! Larger files are left to the workers, which map them ([`crate::capture::mapped`]). At most
//! [`BATCHES_AHEAD`] batches wait per worker; a batch holds under `BATCH_BYTES` plus one
//! file under 4 MB. A worker that ends early drops its queue; the reader stops when no worker
//! is left or the run is stopped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crossbeam_channel::{bounded, Receiver, Sender};

use crate::capture::{mapped, InputFile, Inputs};

/// Batches read ahead of each worker.
pub const BATCHES_AHEAD: usize = 4;
/// A batch is handed over once it holds this many bytes of files...
pub const BATCH_BYTES: usize = 1 << 20;
/// ... or this many files.
pub const BATCH_FILES: usize = 64;

/// One input file, in order, as the reader leaves it for the workers.
pub(crate) enum Ahead {
    /// The file's bytes.
    Loaded(Vec<u8>),
    /// The file could not be read (`path: reason`).
    Failed(String),
    /// A large file: the worker maps it.
    Map,
}

/// Consecutive input files, shared by every worker.
type Batch = Arc<Vec<Ahead>>;

/// A worker's end of the read-ahead: the input files in order, one at a time.
pub(crate) struct Behind {
    queue: Receiver<Batch>,
    batch: Batch,
    next: usize,
}

/// One file of a batch, held by the worker that reads it.
pub(crate) struct AheadFile {
    batch: Batch,
    index: usize,
}

impl AheadFile {
    /// What the reader left for this file.
    pub fn get(&self) -> &Ahead {
        &self.batch[self.index]
    }
}

impl Behind {
    /// The next input file, or `None` when the reader has stopped (the worker then reads the
    /// rest itself).
    pub fn next_file(&mut self) -> Option<AheadFile> {
        if self.next == self.batch.len() {
            self.batch = self.queue.recv().ok()?;
            self.next = 0;
        }
        let index = self.next;
        self.next += 1;
        (index < self.batch.len()).then(|| AheadFile {
            batch: Arc::clone(&self.batch),
            index,
        })
    }
}

/// True when reading ahead pays: several files small enough to be read whole.
pub(crate) fn suits(inputs: &Inputs) -> bool {
    inputs.files.iter().filter(|f| mapped::is_small(f)).count() >= 2
}

/// A queue per worker, and their receiving ends.
pub(crate) fn queues(workers: usize) -> (Vec<Sender<Batch>>, Vec<Behind>) {
    (0..workers)
        .map(|_| {
            let (tx, rx) = bounded(BATCHES_AHEAD);
            let behind = Behind {
                queue: rx,
                batch: Arc::new(Vec::new()),
                next: 0,
            };
            (tx, behind)
        })
        .unzip()
}

/// Read every input file in order, handing each worker every batch.
pub(crate) fn read_ahead(stop: &AtomicBool, inputs: &Inputs, mut workers: Vec<Sender<Batch>>) {
    let mut batch = Vec::new();
    let mut bytes = 0;
    for (index, file) in inputs.files.iter().enumerate() {
        if stop.load(Ordering::Relaxed) || workers.is_empty() {
            return;
        }
        let ahead = Ahead::of(file);
        if let Ahead::Loaded(loaded) = &ahead {
            bytes += loaded.len();
        }
        batch.push(ahead);
        let last = index + 1 == inputs.files.len();
        if bytes >= BATCH_BYTES || batch.len() >= BATCH_FILES || last {
            let shared = Arc::new(std::mem::take(&mut batch));
            bytes = 0;
            // A worker that has ended (stopped) takes nothing more.
            workers.retain(|worker| worker.send(Arc::clone(&shared)).is_ok());
        }
    }
}

impl Ahead {
    /// What the workers get of `file`.
    fn of(file: &InputFile) -> Ahead {
        if !mapped::is_small(file) {
            return Ahead::Map;
        }
        match mapped::load(file) {
            Ok(bytes) => Ahead::Loaded(bytes),
            Err(e) => Ahead::Failed(e),
        }
    }
}
