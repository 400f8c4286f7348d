//! The EVE record types and their serialisation: small structs that borrow what they print.

use std::net::IpAddr;

use serde::Serialize;

use super::escape::Escaped;
use super::MatchLocation;
use crate::intel::{Kind, Source};

/// Fields every flow record starts with.
#[derive(Debug, Serialize)]
pub struct Record<'a> {
    /// Packet time.
    pub timestamp: String,
    /// Flow id, stable across the records of a flow.
    pub flow_id: u64,
    /// Capture file the packet came from (file input only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pcap_filename: Option<&'a str>,
    /// `alert`, `dns`, `tls`, `http`.
    pub event_type: &'static str,
    /// VLAN ids, outermost first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlan: Option<&'a [u16]>,
    /// The outermost tunnel the packet came through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tunnel: Option<Tunnel>,
    /// Sender of the packet.
    pub src_ip: IpAddr,
    /// Sender's port.
    pub src_port: u16,
    /// Receiver of the packet.
    pub dest_ip: IpAddr,
    /// Receiver's port.
    pub dest_port: u16,
    /// `TCP`, `UDP`, or the protocol number.
    pub proto: std::borrow::Cow<'static, str>,
    /// Application protocol of the flow (`dns`, `tls`, `http`, `failed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_proto: Option<&'static str>,
    /// Community ID v1.
    pub community_id: String,
    /// The alert, for `event_type: alert`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert: Option<Alert<'a>>,
    /// DNS message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns: Option<&'a Dns>,
    /// TLS ClientHello.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<Tls<'a>>,
    /// HTTP request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<Http<'a>>,
    /// QUIC Initial ClientHello.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quic: Option<Quic<'a>>,
    /// Flow summary, for `event_type: flow`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow: Option<&'a FlowRecord>,
}

/// The `flow` object of a flow record, as Suricata writes it when a flow ends.
#[derive(Debug, Serialize)]
pub struct FlowRecord {
    /// Packets from the side that opened the flow.
    pub pkts_toserver: u64,
    /// Packets from the other side.
    pub pkts_toclient: u64,
    /// Bytes from the side that opened the flow.
    pub bytes_toserver: u64,
    /// Bytes from the other side.
    pub bytes_toclient: u64,
    /// First packet time.
    pub start: String,
    /// Last packet time.
    pub end: String,
    /// Seconds between them.
    pub age: i64,
    /// `new` (one side only), `established`, `closed` (FIN both ways or RST).
    pub state: &'static str,
    /// Why the record was written: `timeout` or `shutdown` (end of input).
    pub reason: &'static str,
    /// True when the flow raised an alert.
    pub alerted: bool,
}

/// The `tunnel` object: the outer addresses, as Suricata logs them.
#[derive(Debug, Serialize)]
pub struct Tunnel {
    /// Outer source.
    pub src_ip: IpAddr,
    /// Outer destination.
    pub dest_ip: IpAddr,
    /// Outer source port (UDP tunnels).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_port: Option<u16>,
    /// Outer destination port (UDP tunnels).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dest_port: Option<u16>,
    /// Outer protocol (`GRE`, `UDP`, `IPv4`, `IPv6`).
    pub proto: std::borrow::Cow<'static, str>,
    /// Tunnels entered.
    pub depth: u8,
}

/// Protocol name as Suricata writes it.
pub fn proto_name(proto: u8) -> std::borrow::Cow<'static, str> {
    match proto {
        6 => "TCP".into(),
        17 => "UDP".into(),
        1 => "ICMP".into(),
        58 => "IPv6-ICMP".into(),
        132 => "SCTP".into(),
        47 => "GRE".into(),
        4 => "IPv4".into(),
        41 => "IPv6".into(),
        n => n.to_string().into(),
    }
}

/// The `alert` object.
#[derive(Debug, Serialize)]
pub struct Alert<'a> {
    /// Always `allowed`: the sensor watches, it does not block.
    pub action: &'static str,
    /// Generator id: 1, as for Suricata rules.
    pub gid: u32,
    /// One stable id per match location ([`MatchLocation::signature_id`]).
    pub signature_id: u32,
    /// Revision of the signature.
    pub rev: u32,
    /// Signature text.
    pub signature: &'static str,
    /// Classification.
    pub category: &'static str,
    /// 1 (high) to 3 (low).
    pub severity: u8,
    /// What a SIEM filters on: feed, campaign, tags.
    pub metadata: AlertMetadata<'a>,
    /// Everything about the indicator.
    pub context: AlertContext<'a>,
}

/// `alert.metadata`: Suricata's shape, an object of string arrays.
#[derive(Debug, Serialize)]
pub struct AlertMetadata<'a> {
    /// Feed file name.
    pub feed: [&'a str; 1],
    /// Campaign, when the feed names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign: Option<[&'a str; 1]>,
    /// Tags.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub tag: &'a [String],
}

/// `alert.context`: the indicator and its source.
#[derive(Debug, Serialize)]
pub struct AlertContext<'a> {
    /// The indicator as listed (normalised).
    pub indicator: String,
    /// Its type.
    pub indicator_type: &'static str,
    /// Where it matched.
    pub location: &'static str,
    /// What the traffic carried (the observed name, address or URL).
    pub observed: Escaped<'a>,
    /// Feed file name.
    pub feed: &'a str,
    /// Campaign.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign: Option<&'a str>,
    /// References the feed gives.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub references: &'a [String],
    /// Tags.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub tags: &'a [String],
    /// The feed's description of the indicator (event info, indicator name, comment).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'a str>,
    /// Confidence 0..=100, when the feed gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<u8>,
    /// Start of the indicator's validity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<String>,
    /// End of the indicator's validity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
    /// The indicator's id in its feed (STIX id, MISP uuid, sealed-feed id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<&'a str>,
    /// Set on SNI matches when the ClientHello offered Encrypted Client Hello: the name
    /// matched is the provider's public name, the real server is hidden.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ech: bool,
}

impl<'a> Alert<'a> {
    /// The alert for a match of `kind` from `source` at `location`.
    pub fn new(
        location: MatchLocation,
        kind: Kind,
        source: &'a Source,
        indicator: String,
        observed: &'a [u8],
    ) -> Self {
        Alert {
            action: "allowed",
            gid: 1,
            signature_id: location.signature_id(),
            rev: 1,
            signature: location.signature(),
            category: "A Network Trojan was detected",
            severity: 1,
            metadata: AlertMetadata {
                feed: [&source.feed],
                campaign: source.campaign.as_deref().map(|c| [c]),
                tag: &source.tags,
            },
            context: AlertContext {
                indicator,
                indicator_type: kind.as_str(),
                location: location.as_str(),
                observed: Escaped(observed),
                feed: &source.feed,
                campaign: source.campaign.as_deref(),
                references: &source.references,
                tags: &source.tags,
                description: source.description.as_deref(),
                confidence: source.confidence,
                valid_from: source.valid_from_us.map(crate::eve::time::format_timestamp),
                valid_until: source
                    .valid_until_us
                    .map(crate::eve::time::format_timestamp),
                id: source.id.as_deref(),
                ech: false,
            },
        }
    }
}

/// The `dns` object (EVE DNS version 3).
#[derive(Debug, Serialize, Default)]
pub struct Dns {
    /// Always 3.
    pub version: u8,
    /// `request` or `response`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Transaction id.
    pub id: u16,
    /// Flags word in hex, as Suricata writes it.
    pub flags: String,
    /// Response bit.
    pub qr: bool,
    /// Recursion desired.
    pub rd: bool,
    /// Recursion available (responses).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ra: Option<bool>,
    /// Response code (responses).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rcode: Option<&'static str>,
    /// Questions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub queries: Vec<DnsQuery>,
    /// Answers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub answers: Vec<DnsAnswer>,
}

/// One question.
#[derive(Debug, Serialize)]
pub struct DnsQuery {
    /// Name (escaped).
    pub rrname: String,
    /// Type mnemonic.
    pub rrtype: String,
    /// Set when the name was cut at the parser's limit.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub rrname_truncated: bool,
}

/// One answer.
#[derive(Debug, Serialize)]
pub struct DnsAnswer {
    /// Owner name (escaped).
    pub rrname: String,
    /// Type mnemonic.
    pub rrtype: String,
    /// TTL.
    pub ttl: u32,
    /// Address or target name, for the types we read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rdata: Option<String>,
}

/// Response code mnemonic.
pub fn rcode_name(rcode: u16) -> &'static str {
    match rcode {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        _ => "OTHER",
    }
}

/// The `tls` object.
#[derive(Debug, Serialize)]
pub struct Tls<'a> {
    /// Server name from the ClientHello.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sni: Option<Escaped<'a>>,
    /// What the ClientHello offered. An Encrypted Client Hello shows as extension 65037
    /// (0xfe0d) in `exts`: the SNI is then the provider's public name, not the real server.
    pub client_handshake: ClientHandshake<'a>,
}

/// `tls.client_handshake`, as Suricata 8 logs it.
#[derive(Debug, Serialize)]
pub struct ClientHandshake<'a> {
    /// Highest version offered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<&'static str>,
    /// Extension types, in the order sent.
    #[serde(skip_serializing_if = "<[u16]>::is_empty")]
    pub exts: &'a [u16],
}

/// The `quic` object, as Suricata logs it.
#[derive(Debug, Serialize)]
pub struct Quic<'a> {
    /// QUIC version (`1`, `6b3343cf` for v2, `ff00001d` for draft 29).
    pub version: String,
    /// Server name from the ClientHello.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sni: Option<Escaped<'a>>,
}

/// The `http` object.
#[derive(Debug, Serialize)]
pub struct Http<'a> {
    /// Host, without port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<Escaped<'a>>,
    /// Port from the Host header or target, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_port: Option<u16>,
    /// Request target.
    pub url: Escaped<'a>,
    /// Method.
    pub http_method: Escaped<'a>,
    /// User-Agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_user_agent: Option<Escaped<'a>>,
    /// Protocol version.
    pub protocol: Escaped<'a>,
}
