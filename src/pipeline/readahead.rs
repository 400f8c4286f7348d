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
//! file under 4 MB. Batches are shared, so at most six are alive whatever the number of
//! workers (the slowest worker's current one, four queued for it, one being filled): about
//! 30 MB at worst. A worker that ends early drops its queue; the reader stops when no worker
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
        while self.next >= self.batch.len() {
            self.batch = self.queue.recv().ok()?;
            self.next = 0;
        }
        let index = self.next;
        self.next += 1;
        Some(AheadFile {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::InputFile;

    /// Every worker gets every file, in order, once, then `None`: batches closed by their
    /// file count, by their bytes, and by the last file, with a large file among the small.
    #[test]
    fn every_worker_gets_each_file_once_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = Vec::new();
        for i in 0..150usize {
            let path = dir.path().join(format!("{i:03}"));
            // Mostly tiny files (batches of BATCH_FILES), a run of 300 KB ones (batches closed
            // by BATCH_BYTES) and one over the map threshold.
            let size = match i {
                70..=79 => 300 << 10,
                100 => (4 << 20) + 1,
                _ => 10,
            };
            let mut content = vec![0u8; size];
            content[..8].copy_from_slice(&(i as u64).to_le_bytes());
            std::fs::write(&path, &content).unwrap();
            files.push(InputFile {
                name: path.display().to_string().into(),
                path,
                size: Some(size as u64),
            });
        }
        let inputs = Inputs {
            files,
            skipped: Vec::new(),
        };
        let (senders, behinds) = queues(2);
        let stop = AtomicBool::new(false);
        std::thread::scope(|scope| {
            scope.spawn(|| read_ahead(&stop, &inputs, senders));
            // Each worker on its own thread, as in a run: the reader waits for the slowest.
            for mut behind in behinds {
                scope.spawn(move || {
                    for i in 0..150u64 {
                        let file = behind.next_file().expect("a file for each input");
                        match file.get() {
                            Ahead::Loaded(bytes) => {
                                assert_ne!(i, 100, "the large file is mapped");
                                assert_eq!(bytes[..8], i.to_le_bytes(), "file {i} in its place");
                            }
                            Ahead::Map => assert_eq!(i, 100),
                            Ahead::Failed(e) => panic!("{e}"),
                        }
                    }
                    assert!(behind.next_file().is_none(), "nothing after the last file");
                });
            }
        });
    }
}
