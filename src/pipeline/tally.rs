//! What reading the input files has got to: packets and bytes read (for the progress bar),
//! and how each file ended (for the run report). Kept by whichever thread reads the files:
//! the capture thread, or worker 0 of a replay ([`super::replay`]).

use super::{Progress, RunReport};
use crate::capture::{self, InputFile, ReadEnd};

/// Size of a pcap record header: progress counts it as read.
const RECORD_HEADER: u64 = 16;
/// Packets between two progress reports.
const PROGRESS_EVERY: u64 = 4096;

/// Input read so far.
#[derive(Debug, Default)]
pub(crate) struct InputTally {
    /// Packets read (fragments included).
    pub packets: u64,
    bytes_read: u64,
    /// Sizes of the files read to the end so far: progress never goes back when a file held
    /// less than its size (a cut-short file).
    whole_files: u64,
    cut_short: Vec<String>,
    failed: Vec<String>,
    files_read: u64,
}

impl InputTally {
    /// One packet of `captured` bytes read; true when it is time to report progress.
    #[inline]
    pub fn packet(&mut self, captured: usize) -> bool {
        self.packets_read(1, captured as u64)
    }

    /// `packets` read at once, with `captured` bytes between them; true when it is time to
    /// report progress.
    #[inline]
    pub fn packets_read(&mut self, packets: u64, captured: u64) -> bool {
        let before = self.packets / PROGRESS_EVERY;
        self.packets += packets;
        self.bytes_read += captured + packets * RECORD_HEADER;
        self.packets / PROGRESS_EVERY != before
    }

    /// A file read to its end (or stopped, cut short, unreadable).
    pub fn file_done(&mut self, file: &InputFile, end: Result<ReadEnd, String>) {
        match end {
            Ok(ReadEnd::Complete) | Ok(ReadEnd::Stopped) => self.files_read += 1,
            Ok(ReadEnd::CutShort(reason)) => {
                self.files_read += 1;
                self.cut_short.push(capture::named(file, reason));
            }
            Err(e) => self.failed.push(e),
        }
        self.whole_files += file.size.unwrap_or(0);
        self.bytes_read = self.bytes_read.max(self.whole_files);
    }

    /// Progress now, with the alerts written so far.
    pub fn progress(&self, alerts: u64) -> Progress {
        Progress {
            bytes_read: self.bytes_read,
            packets: self.packets,
            alerts,
        }
    }

    /// Add the files this tally could not read that `report` does not name yet.
    pub fn add_failures_to(self, report: &mut RunReport) {
        // A set: a directory may hold thousands of broken files, each named by every worker.
        let named: std::collections::HashSet<&String> = report.failed.iter().collect();
        let new: Vec<String> = (self.failed.into_iter())
            .filter(|failed| !named.contains(failed))
            .collect();
        report.failed.extend(new);
    }

    /// Put what was read into the run's report.
    pub fn report_into(self, report: &mut RunReport) {
        report.packets_read = self.packets;
        report.cut_short = self.cut_short;
        report.failed = self.failed;
        report.files_read = self.files_read;
    }
}
