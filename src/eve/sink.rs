//! Where EVE lines go: standard output or a file (opened for appending, as Suricata does, so
//! a restart never truncates what a shipper has not read yet).
//!
//! The writer thread owns the sink: workers hand it whole lines in batches, so lines from
//! different workers never interleave mid-line.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Output destination as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// `-`: standard output.
    Stdout,
    /// A file path.
    File(PathBuf),
}

impl Destination {
    /// `-` is standard output; anything else a path.
    pub fn parse(s: &str) -> Destination {
        if s == "-" {
            Destination::Stdout
        } else {
            Destination::File(PathBuf::from(s))
        }
    }
}

/// An open EVE sink.
pub struct Sink {
    out: BufWriter<Box<dyn Write + Send>>,
    /// Lines written.
    pub lines: u64,
    broken: bool,
}

impl Sink {
    /// Open the destination (creating the file). Errors name the path.
    pub fn open(dest: &Destination) -> io::Result<Sink> {
        let out: Box<dyn Write + Send> = match dest {
            Destination::Stdout => Box::new(io::stdout()),
            Destination::File(path) => Box::new(open_append(path)?),
        };
        Ok(Sink {
            out: BufWriter::with_capacity(256 * 1024, out),
            lines: 0,
            broken: false,
        })
    }

    /// Write a batch of complete lines. A closed pipe (`| head`) is not an error: output
    /// stops quietly, as with other command-line tools.
    pub fn write_lines(&mut self, lines: &[u8], count: u64) -> io::Result<()> {
        if self.broken {
            return Ok(());
        }
        match self.out.write_all(lines) {
            Ok(()) => {
                self.lines += count;
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.broken = true;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Flush buffered lines to the destination.
    pub fn flush(&mut self) -> io::Result<()> {
        if self.broken {
            return Ok(());
        }
        match self.out.flush() {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.broken = true;
                Ok(())
            }
            other => other,
        }
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}
