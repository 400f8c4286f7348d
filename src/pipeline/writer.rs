//! The writer thread: owns the EVE sink, writes the workers' lines in whole batches, flushes
//! at least every [`FLUSH_INTERVAL`] when there is something to flush (so a shipper tailing
//! the file sees an alert within a fraction of a second), writes `stats` records every
//! `stats_interval`, and reopens the output file when asked (SIGHUP, for logrotate's `create`
//! mode: lines already handed over go to the old file, later lines to the new one; no line is
//! split or lost). On shutdown it writes a last `stats` record (when asked for) and flushes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};

use super::stats::StatsBoard;
use crate::eve::sink::{Destination, Sink};
use crate::eve::time::format_timestamp;
use crate::intel::reload::SharedIndicators;

/// Longest time an alert waits in the writer before it is flushed to the sink.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(100);

/// What the writer needs besides its lines.
pub struct WriterControl {
    /// Where the lines go (to reopen it).
    pub destination: Destination,
    /// Set by SIGHUP: reopen the output file.
    pub reopen: Arc<AtomicBool>,
    /// `stats` records: the board and how often (None: no stats records).
    pub stats: Option<(Arc<StatsBoard>, Duration)>,
    /// For the reload failures in stats.
    pub indicators: Arc<SharedIndicators>,
}

/// Write until every worker has finished. Returns the lines written.
pub fn write_loop(
    mut sink: Sink,
    rx: Receiver<(Vec<u8>, u64)>,
    control: WriterControl,
) -> std::io::Result<u64> {
    let mut dirty = false;
    let mut last_flush = Instant::now();
    let mut last_stats = Instant::now();
    loop {
        match rx.recv_timeout(FLUSH_INTERVAL) {
            Ok((lines, count)) => {
                sink.write_lines(&lines, count)?;
                dirty = true;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if let Some((board, interval)) = &control.stats {
            if last_stats.elapsed() >= *interval {
                write_stats(&mut sink, board, &control.indicators)?;
                last_stats = Instant::now();
                dirty = true;
            }
        }
        if dirty && last_flush.elapsed() >= FLUSH_INTERVAL {
            sink.flush()?;
            dirty = false;
            last_flush = Instant::now();
        }
        if control.reopen.swap(false, Ordering::Relaxed) {
            sink.flush()?;
            let lines = sink.lines;
            match Sink::open(&control.destination) {
                Ok(mut fresh) => {
                    fresh.lines = lines;
                    sink = fresh;
                }
                Err(e) => eprintln!(
                    "ioc-sensor: reopening the output failed, still writing to the old file: {e}"
                ),
            }
        }
    }
    if let Some((board, _)) = &control.stats {
        write_stats(&mut sink, board, &control.indicators)?;
    }
    sink.flush()?;
    Ok(sink.lines)
}

fn write_stats(
    sink: &mut Sink,
    board: &StatsBoard,
    indicators: &SharedIndicators,
) -> std::io::Result<()> {
    let now_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64);
    let failures = indicators.failed_reloads.load(Ordering::Relaxed);
    let record = serde_json::json!({
        "timestamp": format_timestamp(now_us),
        "event_type": "stats",
        "stats": board.eve_stats(failures),
    });
    let mut line = record.to_string().into_bytes();
    line.push(b'\n');
    sink.write_lines(&line, 1)
}
