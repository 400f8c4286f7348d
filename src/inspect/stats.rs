//! Counters kept by each worker and merged at the end of a run (and for `stats` events).

use std::collections::BTreeMap;

use crate::decode::defrag::DefragStats;
use crate::decode::SkipCounts;

/// What one worker counted.
#[derive(Debug, Clone, Default)]
pub struct WorkerStats {
    /// Packets handed to the worker.
    pub packets: u64,
    /// Their captured bytes.
    pub bytes: u64,
    /// Packets not inspected, by reason.
    pub skipped: SkipCounts,
    /// Flows created.
    pub flows: u64,
    /// Flows ended early because the flow table was full.
    pub flows_evicted: u64,
    /// Packets of flows that could not be tracked (table full).
    pub untracked_packets: u64,
    /// DNS question names seen.
    pub dns_queries: u64,
    /// DNS answer records seen.
    pub dns_answers: u64,
    /// DNS messages that could not be read to the end.
    pub dns_malformed: u64,
    /// TLS ClientHellos with an SNI.
    pub tls_sni: u64,
    /// QUIC Initial ClientHellos with an SNI.
    pub quic_sni: u64,
    /// ClientHellos offering Encrypted Client Hello.
    pub tls_ech: u64,
    /// HTTP request heads.
    pub http_requests: u64,
    /// TCP holes given up.
    pub tcp_gaps: u64,
    /// Alerts written.
    pub alerts: u64,
    /// Matches not alerted: the indicator's validity had ended at the packet's time.
    pub expired: u64,
    /// Matches not alerted: the indicator's validity had not begun.
    pub not_yet_valid: u64,
    /// Matches not alerted: the allow-list covers what the traffic carried.
    pub allowed: u64,
    /// Alerts by "indicator (feed)".
    pub alerts_by_indicator: BTreeMap<String, u64>,
    /// IP fragment reassembly, when the worker does it (the only worker of a run).
    pub defrag: DefragStats,
}

impl WorkerStats {
    /// Add another worker's counters.
    pub fn merge(&mut self, o: &WorkerStats) {
        self.packets += o.packets;
        self.bytes += o.bytes;
        self.skipped.merge(&o.skipped);
        self.flows += o.flows;
        self.flows_evicted += o.flows_evicted;
        self.untracked_packets += o.untracked_packets;
        self.dns_queries += o.dns_queries;
        self.dns_answers += o.dns_answers;
        self.dns_malformed += o.dns_malformed;
        self.tls_sni += o.tls_sni;
        self.tls_ech += o.tls_ech;
        self.quic_sni += o.quic_sni;
        self.http_requests += o.http_requests;
        self.tcp_gaps += o.tcp_gaps;
        self.alerts += o.alerts;
        self.expired += o.expired;
        self.not_yet_valid += o.not_yet_valid;
        self.allowed += o.allowed;
        self.defrag.merge(&o.defrag);
        for (k, v) in &o.alerts_by_indicator {
            *self.alerts_by_indicator.entry(k.clone()).or_default() += v;
        }
    }
}
