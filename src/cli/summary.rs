//! Run feedback on stderr: the progress bar while replaying files, and the summary at the end.

use std::fmt::Write;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use std::sync::atomic::Ordering;

use crate::intel::reload::SharedIndicators;
use crate::pipeline::{Progress, RunReport};

/// A progress bar over `total` input bytes.
pub fn progress_bar(total: u64) -> ProgressBar {
    let bar =
        ProgressBar::with_draw_target(Some(total.max(1)), ProgressDrawTarget::stderr_with_hz(4));
    let style = ProgressStyle::with_template("{bar:30} {bytes}/{total_bytes} {msg} ETA {eta}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

/// Move the bar.
pub fn update_progress(bar: &ProgressBar, p: Progress) {
    bar.set_position(p.bytes_read);
    let secs = bar.elapsed().as_secs_f64().max(1e-3);
    bar.set_message(format!(
        "{:.0} pkt/s, {} alerts",
        p.packets as f64 / secs,
        p.alerts
    ));
}

/// The end-of-run summary: `files` is the number of capture files read, `None` for a live
/// capture.
pub fn render(report: &RunReport, files: Option<u64>, indicators: &SharedIndicators) -> String {
    let s = &report.stats;
    let secs = report.elapsed.as_secs_f64().max(1e-6);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "ioc-sensor: {}, {} packets, {} bytes in {:.2} s ({:.0} packets/s, {:.1} Mbit/s)",
        match files {
            Some(files) => format!("{files} file(s)"),
            None => "live".to_string(),
        },
        s.packets,
        s.bytes,
        secs,
        s.packets as f64 / secs,
        s.bytes as f64 * 8.0 / secs / 1e6
    );
    let _ = writeln!(
        out,
        "  flows {}, dns queries {}, dns answers {}, tls sni {}, quic sni {} (ech {}), http requests {}",
        s.flows, s.dns_queries, s.dns_answers, s.tls_sni, s.quic_sni, s.tls_ech, s.http_requests
    );
    if report.kernel_packets + report.queue_drops + report.interface_errors > 0 {
        let _ = writeln!(
            out,
            "  capture: kernel saw {}, kernel dropped {}, interfaces dropped {}, queue-full drops {}, interface failures {}",
            report.kernel_packets, report.kernel_drops, report.kernel_ifdrops, report.queue_drops, report.interface_errors
        );
    }
    let d = &report.defrag;
    if d.fragments > 0 {
        let _ = writeln!(
            out,
            "  ip fragments {}: {} datagrams reassembled, {} given up unfinished, {} overlaps (first copy kept), {} refused at limits, {} invalid",
            d.fragments, d.reassembled, d.timed_out, d.overlaps, d.refused_full, d.invalid
        );
    }
    let _ = writeln!(
        out,
        "  alerts {} ({} EVE lines written)",
        s.alerts, report.lines_written
    );
    for (indicator, n) in &s.alerts_by_indicator {
        let _ = writeln!(out, "    {n:>6}  {indicator}");
    }
    if s.expired + s.not_yet_valid + s.allowed > 0 {
        let _ = writeln!(
            out,
            "  matches not alerted: {} expired indicator, {} not yet valid, {} allow-listed",
            s.expired, s.not_yet_valid, s.allowed
        );
    }
    let reloads = indicators.reloads.load(Ordering::Relaxed);
    let failed = indicators.failed_reloads.load(Ordering::Relaxed);
    if reloads + failed > 0 {
        let _ = writeln!(
            out,
            "  feed reloads {reloads}, refused {failed} (previous indicators kept)"
        );
    }
    let mut skipped: Vec<String> = s
        .skipped
        .nonzero()
        .map(|(r, n)| format!("{} {n}", r.as_str()))
        .collect();
    if s.dns_malformed > 0 {
        skipped.push(format!("malformed DNS {}", s.dns_malformed));
    }
    if s.flows_evicted > 0 {
        skipped.push(format!(
            "flows ended early (table full) {}",
            s.flows_evicted
        ));
    }
    if s.untracked_packets > 0 {
        skipped.push(format!("flow table full {}", s.untracked_packets));
    }
    if s.tcp_gaps > 0 {
        skipped.push(format!("TCP gaps given up {}", s.tcp_gaps));
    }
    if !skipped.is_empty() {
        let _ = writeln!(out, "  not inspected: {}", skipped.join(", "));
    }
    out
}
