//! The capture thread for files and standard input: read, dispatch (blocking when a queue is
//! full: no packet is dropped), report progress.

use std::cell::RefCell;
use std::ops::ControlFlow;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::dispatch::{Dispatcher, WhenFull};
use super::{Lanes, Progress, RunConfig, RunReport};
use crate::capture::{self, Inputs, ReadEnd};

/// Size of a pcap record header: progress counts it as read.
const RECORD_HEADER: u64 = 16;

pub(crate) fn capture(
    config: &mut RunConfig,
    inputs: &Inputs,
    lanes: Lanes,
    report: &mut RunReport,
) {
    let alerts = Arc::clone(&lanes.alerts);
    for _ in 0..lanes.queues.len() * (super::QUEUE_DEPTH + 2) {
        let _ = lanes.recycle_tx.send(Default::default());
    }
    // The two callbacks of a read take turns, never both at once.
    let dispatcher = RefCell::new(Dispatcher::new(
        lanes.queues,
        lanes.recycle,
        WhenFull::Block,
    ));
    let mut bytes_read = 0u64;
    let mut packets = 0u64;
    let mut last_file = 0;
    // Sizes of the files read so far (progress never goes back when a file held less).
    let mut whole_files = 0u64;
    for (index, input) in inputs.files.iter().enumerate() {
        last_file = index as u32;
        let stop = Arc::clone(&config.stop);
        let on_idle = || {
            // A stream paused: what was read reaches the workers now.
            if !dispatcher.borrow_mut().flush() || stop.load(Ordering::Relaxed) {
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        };
        let progress = &mut config.progress;
        let stop = &config.stop;
        let end = capture::read_file(input, &mut config.filter, on_idle, |raw| {
            if stop.load(Ordering::Relaxed) {
                return ControlFlow::Break(());
            }
            packets += 1;
            bytes_read += raw.data.len() as u64 + RECORD_HEADER;
            if !dispatcher
                .borrow_mut()
                .packet(raw.ts_us, raw.linktype, index as u32, raw.data)
            {
                return ControlFlow::Break(());
            }
            if packets.is_multiple_of(4096) {
                if let Some(progress) = progress.as_mut() {
                    progress(Progress {
                        bytes_read,
                        packets,
                        alerts: alerts.load(Ordering::Relaxed),
                    });
                }
            }
            ControlFlow::Continue(())
        });
        match end {
            Ok(ReadEnd::Complete) | Ok(ReadEnd::Stopped) => {}
            Ok(ReadEnd::CutShort(reason)) => {
                report.cut_short.push(format!("{}: {reason}", input.name))
            }
            Err(e) => report.failed.push(e),
        }
        whole_files += input.size.unwrap_or(0);
        bytes_read = bytes_read.max(whole_files);
        if let Some(progress) = config.progress.as_mut() {
            progress(Progress {
                bytes_read,
                packets,
                alerts: alerts.load(Ordering::Relaxed),
            });
        }
    }
    report.defrag = dispatcher.into_inner().finish(last_file);
    report.packets_read = packets;
}
