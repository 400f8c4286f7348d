//! From names to records: match what a flow revealed against the indicator set, and write
//! alerts and name events as EVE lines into the worker's output buffer.
//!
//! Matching costs nothing but hash probes; allocation happens only for a record that is
//! actually written (an alert, or a name event the user asked for).

use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::Arc;

use crate::decode::TunnelInfo;
use crate::eve::escape::Escaped;
use crate::eve::record::{self, Alert, Dns, DnsAnswer, DnsQuery, Http, Record, Tls};
use crate::eve::{community_id::community_id, time::format_timestamp, MatchLocation};
use crate::flow::{AppLayer, FlowExtras, FlowKey, PendingAddressHit, Side};
use crate::intel::normalize::mask;
use crate::intel::{IndicatorSet, Kind};
use crate::proto::dns::{self, RData};
use crate::proto::{http, tls};

use super::stats::WorkerStats;

/// Which record types the user asked for besides alerts (which are always on).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventTypes {
    /// `dns` events.
    pub dns: bool,
    /// `tls` events.
    pub tls: bool,
    /// `http` events.
    pub http: bool,
    /// `quic` events.
    pub quic: bool,
    /// `flow` records at the end of each flow.
    pub flow: bool,
}

/// The packet-level fields of a record.
#[derive(Debug, Clone, Copy)]
pub struct Head<'a> {
    /// Packet time.
    pub ts_us: i64,
    /// The flow's key, which with its first packet's time gives its id ([`Head::flow_id`]).
    pub flow_key: &'a FlowKey,
    /// Packet time of the flow's first packet.
    pub flow_first_seen_us: i64,
    /// Sender.
    pub src: (IpAddr, u16),
    /// Receiver.
    pub dst: (IpAddr, u16),
    /// IP protocol.
    pub proto: u8,
    /// VLAN ids.
    pub vlans: &'a [u16],
    /// Capture file.
    pub file: Option<&'a str>,
    /// Application protocol of the flow, when known.
    pub app_proto: Option<AppLayer>,
    /// The outermost tunnel the packet came through.
    pub tunnel: Option<TunnelInfo>,
}

impl<'a> Head<'a> {
    /// The head for a packet sent by `sender` in the flow `key`.
    pub fn new(
        key: &'a FlowKey,
        sender: Side,
        ts_us: i64,
        flow_first_seen_us: i64,
        vlans: &'a [u16],
        file: Option<&'a str>,
    ) -> Self {
        let (src, dst) = match sender {
            Side::A => (key.a, key.b),
            Side::B => (key.b, key.a),
        };
        Head {
            ts_us,
            flow_key: key,
            flow_first_seen_us,
            src,
            dst,
            proto: key.proto,
            vlans,
            file,
            app_proto: None,
            tunnel: None,
        }
    }
}

impl Head<'_> {
    /// The flow id of the records (derived when a record is written, not kept per flow).
    pub fn flow_id(&self) -> u64 {
        self.flow_key.flow_id(self.flow_first_seen_us)
    }
}

/// The application object a record carries.
#[derive(Clone, Copy)]
pub enum App<'a> {
    /// None.
    None,
    /// A DNS message.
    Dns(&'a Dns),
    /// A ClientHello over TCP.
    Tls(&'a tls::ClientHello<'a>),
    /// A ClientHello in QUIC Initials, and the QUIC version.
    Quic(&'a tls::ClientHello<'a>, u32),
    /// An HTTP request.
    Http(&'a http::Request<'a>),
    /// The summary of a flow that ended.
    Flow(&'a record::FlowRecord),
}

/// Writes a worker's records.
pub struct Emitter {
    /// The indicators.
    pub set: Arc<IndicatorSet>,
    /// What must never alert (`--allow`).
    pub allow: Option<Arc<IndicatorSet>>,
    /// Name events asked for.
    pub events: EventTypes,
    /// EVE lines not yet handed to the writer.
    pub out: Vec<u8>,
    /// Lines in `out`.
    pub out_lines: u64,
    /// Counters.
    pub stats: WorkerStats,
    /// Name buffers reused by every DNS message (boxed: 2 KiB).
    dns_names: Box<dns::NameBuffers>,
}

/// A hit on something a packet carried, before it is written.
struct Hit {
    location: MatchLocation,
    entry: u32,
    indicator: String,
    observed: Vec<u8>,
}

impl Hit {
    /// What makes this hit the same as another for "one alert per flow per indicator per
    /// location": the indicator's text, so it holds across a feed reload.
    fn dedup_key(&self) -> u64 {
        foldhash::fast::FixedState::with_seed(0xa1e7)
            .hash_one((self.location as u8, &self.indicator))
    }
}

impl Emitter {
    /// A new emitter.
    pub fn new(
        set: Arc<IndicatorSet>,
        allow: Option<Arc<IndicatorSet>>,
        events: EventTypes,
    ) -> Self {
        Emitter {
            set,
            allow,
            events,
            out: Vec::with_capacity(64 * 1024),
            out_lines: 0,
            stats: WorkerStats::default(),
            dns_names: Box::default(),
        }
    }

    /// Check both addresses of a new flow; hits wait in `alerts.pending` for the application
    /// layer, so that their alert can carry what the flow turned out to be.
    pub fn check_addresses(
        &mut self,
        key: &FlowKey,
        head: &Head<'_>,
        sender: Side,
        file: Option<&Arc<str>>,
        alerts: &mut FlowExtras,
    ) {
        if !self.set.has_addresses() {
            return;
        }
        let mut vlans = [0u16; 2];
        vlans[..head.vlans.len().min(2)].copy_from_slice(&head.vlans[..head.vlans.len().min(2)]);
        for (side, (addr, port)) in [(Side::A, key.a), (Side::B, key.b)] {
            self.set.match_addr(addr, port, |entry| {
                alerts.push_pending(PendingAddressHit {
                    entry,
                    side,
                    ts_us: head.ts_us,
                    sender,
                    vlans,
                    vlan_count: head.vlans.len().min(2) as u8,
                    file: file.cloned(),
                    tunnel: head.tunnel,
                    set: Arc::clone(&self.set),
                })
            });
        }
    }

    /// Write the `flow` record of a flow that ended (when asked for).
    pub fn flow_record(&mut self, key: &FlowKey, flow: &crate::flow::Flow, reason: &'static str) {
        if !self.events.flow {
            return;
        }
        let first = flow.initiator;
        let server = if first == Side::A { Side::B } else { Side::A };
        let mut head = Head::new(
            key,
            first,
            flow.first_seen_us,
            flow.first_seen_us,
            &[],
            None,
        );
        head.tunnel = flow.extras.tunnel();
        head.app_proto = flow.app_proto;
        let state = if flow.rst || (flow.fin[0] && flow.fin[1]) {
            "closed"
        } else if flow.pkts[server.index()] > 0 {
            "established"
        } else {
            "new"
        };
        let record = record::FlowRecord {
            pkts_toserver: flow.pkts[first.index()],
            pkts_toclient: flow.pkts[server.index()],
            bytes_toserver: flow.bytes[first.index()],
            bytes_toclient: flow.bytes[server.index()],
            start: format_timestamp(flow.first_seen_us),
            end: format_timestamp(flow.last_seen_us),
            age: (flow.last_seen_us - flow.first_seen_us) / 1_000_000,
            state,
            reason,
            alerted: flow.extras.alerted(),
        };
        self.write(&head, "flow", None, App::Flow(&record));
    }

    /// Write the pending address alerts of a flow, carrying `app` and the `app_proto` of
    /// `current` (each alert keeps the time and direction of the flow's first packet).
    pub fn flush_pending(
        &mut self,
        key: &FlowKey,
        current: &Head<'_>,
        app: App<'_>,
        alerts: &mut FlowExtras,
    ) {
        let pending = alerts.take_pending();
        for hit in pending {
            let vlans = &hit.vlans[..hit.vlan_count as usize];
            let mut head = Head::new(
                key,
                hit.sender,
                hit.ts_us,
                current.flow_first_seen_us,
                vlans,
                hit.file.as_deref(),
            );
            head.app_proto = current.app_proto;
            head.tunnel = hit.tunnel;
            let (addr, port) = if hit.side == Side::A { key.a } else { key.b };
            // The set the hit came from: the indicators may have been reloaded since.
            let set = hit.set;
            let e = set.entry(hit.entry);
            let observed = if e.port != 0 {
                std::net::SocketAddr::new(addr, port).to_string()
            } else {
                addr.to_string()
            };
            let hit = Hit {
                location: MatchLocation::FlowAddress,
                entry: hit.entry,
                indicator: address_indicator(addr, e.kind, e.prefix_len, e.port),
                observed: observed.into_bytes(),
            };
            if alerts.first_alert(hit.location as u8, hit.dedup_key()) {
                self.alert(&set, &head, &hit, app);
            }
        }
    }

    /// A DNS message (UDP payload or TCP message).
    pub fn dns(
        &mut self,
        key: &FlowKey,
        head: &Head<'_>,
        msg: &[u8],
        alerts: &mut FlowExtras,
    ) -> bool {
        let mut finder = DnsHits {
            set: &self.set,
            hits: Vec::new(),
            queries: 0,
            answers: 0,
        };
        let result = dns::parse_with(msg, &mut finder, &mut self.dns_names);
        self.stats.dns_queries += finder.queries;
        self.stats.dns_answers += finder.answers;
        let hits = finder.hits;
        let header = match result {
            Ok(header) => header,
            Err(_) => {
                self.stats.dns_malformed += 1;
                // Names read before the error still count; without a header there are none.
                match dns::read_header(msg) {
                    Ok(header) => header,
                    Err(_) => return false,
                }
            }
        };
        let fresh: Vec<Hit> = hits
            .into_iter()
            .filter(|h| alerts.first_alert(h.location as u8, h.dedup_key()))
            .collect();
        if fresh.is_empty() && !self.events.dns && !alerts.has_pending() {
            return true;
        }
        let record = dns_record(msg, &header);
        for hit in &fresh {
            self.alert(&Arc::clone(&self.set), head, hit, App::Dns(&record));
        }
        if self.events.dns {
            self.write(head, "dns", None, App::Dns(&record));
        }
        self.flush_pending(key, head, App::Dns(&record), alerts);
        true
    }

    /// A ClientHello, over TCP (`quic_version` None) or in QUIC Initials.
    pub fn client_hello(
        &mut self,
        key: &FlowKey,
        head: &Head<'_>,
        hello: &tls::ClientHello<'_>,
        alerts: &mut FlowExtras,
        quic_version: Option<u32>,
    ) {
        let (location, app, event, wanted) = match quic_version {
            None => (
                MatchLocation::TlsSni,
                App::Tls(hello),
                "tls",
                self.events.tls,
            ),
            Some(v) => (
                MatchLocation::QuicSni,
                App::Quic(hello, v),
                "quic",
                self.events.quic,
            ),
        };
        if hello.ech {
            self.stats.tls_ech += 1;
        }
        if let Some(sni) = hello.sni {
            match quic_version {
                None => self.stats.tls_sni += 1,
                Some(_) => self.stats.quic_sni += 1,
            }
            for hit in self.name_hits(sni, location) {
                if alerts.first_alert(hit.location as u8, hit.dedup_key()) {
                    self.alert(&Arc::clone(&self.set), head, &hit, app);
                }
            }
        }
        if wanted {
            self.write(head, event, None, app);
        }
        self.flush_pending(key, head, app, alerts);
    }

    /// An HTTP request head.
    pub fn http(
        &mut self,
        key: &FlowKey,
        head: &Head<'_>,
        req: &http::Request<'_>,
        alerts: &mut FlowExtras,
    ) {
        self.stats.http_requests += 1;
        let header = req.host_header.map(http::split_host_port);
        let target = req.target_authority().map(http::split_host_port);
        let header_host = header.map(|h| h.0);
        let target_host = target.map(|t| t.0);
        let mut hits = Vec::new();
        for (host, port) in header
            .into_iter()
            .chain(target.filter(|t| Some(t.0) != header_host))
        {
            hits.extend(self.host_hits(host, port.unwrap_or(head.dst.1)));
        }
        if let Some(host) = target_host.or(header_host) {
            let path = req.path();
            self.set.match_url(host, path, |entry| {
                let mut observed = host.to_vec();
                observed.extend_from_slice(path);
                let e = self.set.entry(entry);
                let indicator = if e.kind == Kind::UrlPath {
                    String::from_utf8_lossy(path).into_owned()
                } else {
                    String::from_utf8_lossy(&observed).to_ascii_lowercase()
                };
                hits.push(Hit {
                    location: MatchLocation::HttpUrl,
                    entry,
                    indicator,
                    observed,
                });
            });
        }
        for hit in &hits {
            if alerts.first_alert(hit.location as u8, hit.dedup_key()) {
                self.alert(&Arc::clone(&self.set), head, hit, App::Http(req));
            }
        }
        if self.events.http {
            self.write(head, "http", None, App::Http(req));
        }
        self.flush_pending(key, head, App::Http(req), alerts);
    }

    /// Hits on an HTTP host: a name, or an address literal (a request through a proxy names
    /// the C2 address only here, not in the flow's addresses).
    fn host_hits(&self, host: &[u8], port: u16) -> Vec<Hit> {
        let literal = std::str::from_utf8(host)
            .ok()
            .and_then(|h| h.parse::<IpAddr>().ok());
        let Some(addr) = literal else {
            return self.name_hits(host, MatchLocation::HttpHost);
        };
        let mut hits = Vec::new();
        self.set.match_addr(addr, port, |entry| {
            let e = self.set.entry(entry);
            hits.push(Hit {
                location: MatchLocation::HttpHost,
                entry,
                indicator: address_indicator(addr, e.kind, e.prefix_len, e.port),
                observed: host.to_vec(),
            })
        });
        hits
    }

    fn name_hits(&self, name: &[u8], location: MatchLocation) -> Vec<Hit> {
        let mut hits = Vec::new();
        self.set
            .match_name(name, |h| hits.push(name_hit(name, h, location)));
        hits
    }

    /// Write an alert, unless the indicator is not valid at the packet's time (judged by
    /// packet time, which is wall time when capturing live) or the allow-list covers what
    /// the traffic carried.
    fn alert(&mut self, set: &IndicatorSet, head: &Head<'_>, hit: &Hit, app: App<'_>) {
        let entry = set.entry(hit.entry);
        let source = set.source(entry);
        if source
            .valid_until_us
            .is_some_and(|until| head.ts_us > until)
        {
            self.stats.expired += 1;
            return;
        }
        if source.valid_from_us.is_some_and(|from| head.ts_us < from) {
            self.stats.not_yet_valid += 1;
            return;
        }
        if self.allowed(&hit.observed, hit.location) {
            self.stats.allowed += 1;
            return;
        }
        let alert = Alert::new(
            hit.location,
            entry.kind,
            source,
            hit.indicator.clone(),
            &hit.observed,
        );
        self.stats.alerts += 1;
        *self
            .stats
            .alerts_by_indicator
            .entry(format!("{} ({})", hit.indicator, source.feed))
            .or_default() += 1;
        self.write(head, "alert", Some(alert), app);
    }

    /// True when the allow-list covers what the traffic carried: a name (and its parents
    /// listed as domains), an address, or the host of a URL.
    fn allowed(&self, observed: &[u8], location: MatchLocation) -> bool {
        let Some(allow) = &self.allow else {
            return false;
        };
        let text = std::str::from_utf8(observed).unwrap_or("");
        let addr = text
            .parse::<IpAddr>()
            .ok()
            .or_else(|| text.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()));
        if let Some(addr) = addr {
            let mut hit = false;
            allow.match_addr(addr, 0, |_| hit = true);
            return hit;
        }
        let name = if location == MatchLocation::HttpUrl {
            observed.split(|&b| b == b'/').next().unwrap_or(observed)
        } else {
            observed
        };
        let mut hit = false;
        allow.match_name(name, |_| hit = true);
        hit
    }

    fn write(
        &mut self,
        head: &Head<'_>,
        event_type: &'static str,
        alert: Option<Alert<'_>>,
        app: App<'_>,
    ) {
        let mut rec = Record {
            timestamp: format_timestamp(head.ts_us),
            flow_id: head.flow_id(),
            pcap_filename: head.file,
            event_type,
            vlan: (!head.vlans.is_empty()).then_some(head.vlans),
            tunnel: head.tunnel.map(|t| record::Tunnel {
                src_ip: t.src,
                dest_ip: t.dst,
                src_port: (t.src_port != 0).then_some(t.src_port),
                dest_port: (t.dst_port != 0).then_some(t.dst_port),
                proto: record::proto_name(t.proto),
                depth: t.depth,
            }),
            src_ip: head.src.0,
            src_port: head.src.1,
            dest_ip: head.dst.0,
            dest_port: head.dst.1,
            proto: record::proto_name(head.proto),
            app_proto: head.app_proto.map(AppLayer::name),
            community_id: community_id(head.src.0, head.src.1, head.dst.0, head.dst.1, head.proto),
            alert,
            dns: None,
            tls: None,
            http: None,
            quic: None,
            flow: None,
        };
        match app {
            App::None => {}
            App::Flow(f) => rec.flow = Some(f),
            App::Dns(d) => rec.dns = Some(d),
            App::Tls(h) => {
                rec.tls = Some(Tls {
                    sni: h.sni.map(Escaped),
                    client_handshake: record::ClientHandshake {
                        version: h.version_name(),
                        exts: h.extensions(),
                    },
                });
                if let Some(alert) = rec.alert.as_mut() {
                    alert.context.ech = h.ech;
                }
            }
            App::Quic(h, version) => {
                rec.quic = Some(record::Quic {
                    version: crate::proto::quic::version_name(version),
                    sni: h.sni.map(Escaped),
                });
                if let Some(alert) = rec.alert.as_mut() {
                    alert.context.ech = h.ech;
                }
            }
            App::Http(r) => {
                let (host, port) = match r.target_authority().or(r.host_header) {
                    Some(a) => {
                        let (h, p) = http::split_host_port(a);
                        (Some(h), p)
                    }
                    None => (None, None),
                };
                rec.http = Some(Http {
                    hostname: host.map(Escaped),
                    http_port: port,
                    url: Escaped(r.target),
                    http_method: Escaped(r.method),
                    http_user_agent: r.user_agent.map(Escaped),
                    protocol: Escaped(r.version),
                });
            }
        }
        // Serialising plain structs into a Vec cannot fail.
        if serde_json::to_writer(&mut self.out, &rec).is_ok() {
            self.out.push(b'\n');
            self.out_lines += 1;
        }
    }
}

fn name_hit(name: &[u8], h: crate::intel::NameHit, location: MatchLocation) -> Hit {
    let suffix = &name[h.suffix_start..];
    let suffix = suffix.strip_suffix(b".").unwrap_or(suffix);
    Hit {
        location,
        entry: h.entry,
        indicator: String::from_utf8_lossy(suffix).to_ascii_lowercase(),
        observed: name.to_vec(),
    }
}

/// The indicator text of an address hit: the address, the network, or `address:port`.
fn address_indicator(addr: IpAddr, kind: Kind, prefix_len: u8, port: u16) -> String {
    match kind {
        Kind::Network => format!("{}/{}", mask(addr, prefix_len), prefix_len),
        _ if port != 0 => std::net::SocketAddr::new(addr, port).to_string(),
        _ => addr.to_string(),
    }
}

/// First pass over a DNS message: count and match, no allocation unless something matches.
struct DnsHits<'s> {
    set: &'s IndicatorSet,
    hits: Vec<Hit>,
    queries: u64,
    answers: u64,
}

impl dns::Visitor for DnsHits<'_> {
    fn question(&mut self, name: &dns::Name, _qtype: u16) {
        self.queries += 1;
        if name.truncated {
            return; // not the whole name: a suffix match would be a guess
        }
        let n = name.as_bytes();
        self.set.match_name(n, |h| {
            self.hits.push(name_hit(n, h, MatchLocation::DnsQuery))
        });
    }

    fn answer(&mut self, name: &dns::Name, _rtype: u16, _ttl: u32, rdata: RData<'_>) {
        // Owner names are the question or the target of an earlier CNAME: both matched already.
        let _ = name;
        self.answers += 1;
        match rdata {
            RData::Name(target) if !target.truncated => {
                let t = target.as_bytes();
                self.set.match_name(t, |h| {
                    self.hits.push(name_hit(t, h, MatchLocation::DnsAnswer))
                });
            }
            RData::Addr(addr) => {
                let set = self.set;
                set.match_addr(addr, 0, |entry| {
                    let e = set.entry(entry);
                    self.hits.push(Hit {
                        location: MatchLocation::DnsAnswer,
                        entry,
                        indicator: address_indicator(addr, e.kind, e.prefix_len, 0),
                        observed: addr.to_string().into_bytes(),
                    })
                });
            }
            RData::Name(_) | RData::Other => {}
        }
    }
}

/// Second pass: the EVE `dns` object (only when a record is written).
fn dns_record(msg: &[u8], header: &dns::Header) -> Dns {
    struct Collect(Dns);
    impl dns::Visitor for Collect {
        fn question(&mut self, name: &dns::Name, qtype: u16) {
            self.0.queries.push(DnsQuery {
                rrname: presentation(name.as_bytes()),
                rrtype: dns::rrtype::name(qtype).into_owned(),
                rrname_truncated: name.truncated,
            });
        }
        fn answer(&mut self, name: &dns::Name, rtype: u16, ttl: u32, rdata: RData<'_>) {
            let rdata = match rdata {
                RData::Addr(a) => Some(a.to_string()),
                RData::Name(n) => Some(presentation(n.as_bytes())),
                RData::Other => None,
            };
            self.0.answers.push(DnsAnswer {
                rrname: presentation(name.as_bytes()),
                rrtype: dns::rrtype::name(rtype).into_owned(),
                ttl,
                rdata,
            });
        }
    }
    let response = header.is_response();
    let mut c = Collect(Dns {
        version: 3,
        kind: if response { "response" } else { "request" },
        id: header.id,
        flags: format!("{:x}", header.flags),
        qr: response,
        rd: header.flags & 0x0100 != 0,
        ra: response.then_some(header.flags & 0x0080 != 0),
        rcode: response.then(|| record::rcode_name(header.rcode())),
        ..Dns::default()
    });
    let _ = dns::parse(msg, &mut c);
    c.0
}

/// A name as Suricata logs it: escaped bytes, `<root>` for the root.
fn presentation(name: &[u8]) -> String {
    if name.is_empty() {
        "<root>".to_string()
    } else {
        crate::eve::escape::escape_bytes(name).into_owned()
    }
}
