//! The capture thread for streams (standard input, pipes): read, dispatch (blocking when a
//! queue is full: no packet is dropped), report progress. Regular files are replayed by the
//! workers themselves ([`super::replay`]).

use std::cell::RefCell;
use std::ops::ControlFlow;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::dispatch::{Dispatcher, WhenFull};
use super::tally::InputTally;
use super::{Lanes, RunConfig, RunReport};
use crate::capture::{self, Inputs};

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
    let mut tally = InputTally::default();
    let mut last_file = 0;
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
            let report_progress = tally.packet(raw.data.len());
            if !dispatcher
                .borrow_mut()
                .packet(raw.ts_us, raw.linktype, index as u32, raw.data)
            {
                return ControlFlow::Break(());
            }
            if report_progress {
                if let Some(progress) = progress.as_mut() {
                    progress(tally.progress(alerts.load(Ordering::Relaxed)));
                }
            }
            ControlFlow::Continue(())
        });
        tally.file_done(input, end);
        if let Some(progress) = config.progress.as_mut() {
            progress(tally.progress(alerts.load(Ordering::Relaxed)));
        }
    }
    report.defrag = dispatcher.into_inner().finish(last_file);
    tally.report_into(report);
}
