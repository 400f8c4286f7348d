//! EVE JSON output, in Suricata's format, so a SIEM's existing parsers take it unchanged.
//!
//! One JSON object per line, UTF-8. Every record has `timestamp` (packet time, UTC,
//! `2025-01-15T10:20:30.123456+0000`), `flow_id` (stable for the flow), `event_type`,
//! `src_ip`/`src_port`/`dest_ip`/`dest_port` (the packet that carried what is logged),
//! `proto`, `app_proto`, `community_id` (v1) and, for file input, `pcap_filename`.
//!
//! `event_type: "alert"` records carry:
//! ```text
//! alert.action        "allowed"
//! alert.gid           1
//! alert.signature_id  one per match location (see MatchLocation), stable across releases
//! alert.signature     e.g. "IOC-SENSOR DNS query for a listed name"
//! alert.metadata      {"feed":[..], "campaign":[..], "tag":[..]}   (object of string arrays)
//! alert.context       {"indicator", "indicator_type", "location", "observed",
//!                      "feed", "campaign", "references", "tags"}
//! ```
//! and the application object that matched: `dns` (EVE DNS v3: `queries[]`, `answers[]`),
//! `tls` (`sni`), `http` (`hostname`, `http_port`, `url`, `http_method`, `http_user_agent`).
//! Name events (`--events dns,tls,http`) are the same objects without `alert`.
//!
//! Bytes that are not printable UTF-8 are written as `\xNN` ([`escape`]).
//! Records are valid against Suricata 8's EVE schema (checked by the test suite).

pub mod community_id;
pub mod escape;
pub mod record;
pub mod sink;
pub mod time;

/// Where in the traffic an indicator matched: each has its own stable signature id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchLocation {
    /// A DNS question name.
    DnsQuery = 1,
    /// A name or address in a DNS answer.
    DnsAnswer = 2,
    /// TLS SNI over TCP.
    TlsSni = 3,
    /// TLS SNI in a QUIC Initial.
    QuicSni = 4,
    /// HTTP Host header, absolute-URI host or CONNECT target.
    HttpHost = 5,
    /// An address of the flow.
    FlowAddress = 6,
    /// HTTP host and path (URL indicators).
    HttpUrl = 7,
}

/// First signature id: ours are `SIGNATURE_BASE + location`.
pub const SIGNATURE_BASE: u32 = 9_100_000;

impl MatchLocation {
    /// Stable signature id.
    pub fn signature_id(self) -> u32 {
        SIGNATURE_BASE + self as u32
    }

    /// Signature text.
    pub fn signature(self) -> &'static str {
        match self {
            MatchLocation::DnsQuery => "IOC-SENSOR DNS query for a listed name",
            MatchLocation::DnsAnswer => "IOC-SENSOR DNS answer with a listed name or address",
            MatchLocation::TlsSni => "IOC-SENSOR TLS SNI of a listed name",
            MatchLocation::QuicSni => "IOC-SENSOR QUIC SNI of a listed name",
            MatchLocation::HttpHost => "IOC-SENSOR HTTP request to a listed host",
            MatchLocation::FlowAddress => "IOC-SENSOR traffic with a listed address",
            MatchLocation::HttpUrl => "IOC-SENSOR HTTP request for a listed URL",
        }
    }

    /// Short name, in `alert.context.location`.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchLocation::DnsQuery => "dns.query",
            MatchLocation::DnsAnswer => "dns.answer",
            MatchLocation::TlsSni => "tls.sni",
            MatchLocation::QuicSni => "quic.sni",
            MatchLocation::HttpHost => "http.hostname",
            MatchLocation::FlowAddress => "ip",
            MatchLocation::HttpUrl => "http.url",
        }
    }
}
