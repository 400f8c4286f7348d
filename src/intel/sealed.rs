//! Sealed feeds: indicators a seized sensor does not give away.
//!
//! `ioc-sensor feeds seal --key-file KEY FEED…` writes a feed that holds, per indicator, only
//! a keyed hash (HMAC-SHA-256, first 128 bits) of its normalised value and type, an opaque id,
//! and the metadata the publisher chose to keep. The sensor loads it with the same key and
//! matches traffic against it without ever holding the plain values: for each observed name it
//! computes the keyed hash of every label suffix (so subdomain matching keeps working), for
//! each address the hash of the address, of the address and port, and of each network prefix
//! length the feed uses. Alerts carry the name or address seen in the traffic and the opaque
//! id.
//!
//! What it protects against: someone who takes the sensor (or its disk) without the key
//! learns how many indicators of each type it holds and which prefix lengths its networks
//! have, and nothing else. Keep the key off the sensor's disk (for example on a token, or
//! given at start from a secret store).
//! What it does not: whoever holds both the key and the feed can test guesses ("is
//! evil.example listed?") at the speed of HMAC; a sensor that is running has the key in
//! memory; and every alert names the indicator it matched, as it must.
//!
//! Format (text, one record a line):
//! ```text
//! #ioc-sensor-sealed v1
//! #key-check: <hex of HMAC(key, "ioc-sensor key check"), 8 bytes>
//! #networks-v4: 24,16            prefix lengths of sealed IPv4 networks
//! #networks-v6: 48
//! <type>\t<hex digest, 16 bytes>\t<opaque id>\t<metadata JSON: feed, campaign, tags, …>
//! ```
//! Types: `domain` (and subdomains), `hostname`, `ip`, `ip-port` (an address on one port),
//! `cidr-N` (a network of prefix length N), `url`, `url-path`. Hashed values: tag byte string, then the value — names in
//! lowercase ASCII, addresses as their 4 or 16 bytes (a port as 2 more bytes, a network's
//! prefix length as 1), URLs as host and path.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::normalize::{mask, Indicator};
use super::set::{IndicatorSink, Kind, Source};
use super::FeedError;

/// First line of a sealed feed.
pub const MAGIC: &str = "#ioc-sensor-sealed v1";
/// Shortest key accepted, in bytes.
pub const MIN_KEY_LEN: usize = 16;

/// Tags that keep the hashes of different kinds of value apart.
pub mod tag {
    /// A name (domain or hostname), lowercase.
    pub const NAME: &[u8] = b"name";
    /// An address (4 or 16 bytes).
    pub const ADDR: &[u8] = b"addr";
    /// An address and port.
    pub const ADDR_PORT: &[u8] = b"addr-port";
    /// A network: masked address and prefix length.
    pub const NET: &[u8] = b"net";
    /// An HTTP host and path.
    pub const URL: &[u8] = b"url";
    /// An HTTP path.
    pub const PATH: &[u8] = b"path";
}

/// The sealing key, ready to hash with.
#[derive(Clone)]
pub struct SealKey {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(..)")
    }
}

impl SealKey {
    /// A key from its bytes (at least [`MIN_KEY_LEN`]).
    pub fn new(bytes: &[u8]) -> Result<SealKey, String> {
        if bytes.len() < MIN_KEY_LEN {
            return Err(format!("a key needs at least {MIN_KEY_LEN} bytes (make one: head -c 32 /dev/urandom > sensor.key)"));
        }
        let mac = Hmac::<Sha256>::new_from_slice(bytes).map_err(|e| e.to_string())?;
        Ok(SealKey { mac })
    }

    /// Read a key file (its bytes are the key; a trailing newline is kept out).
    pub fn from_file(path: &Path) -> Result<SealKey, String> {
        let bytes = std::fs::read(path)
            .map_err(|e| format!("{}: {}", path.display(), super::io_reason(&e)))?;
        let bytes = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
        SealKey::new(bytes).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The keyed hash of `parts` under `tag`: 128 bits.
    #[inline]
    pub fn digest(&self, tag: &[u8], parts: &[&[u8]]) -> u128 {
        let mut m = self.mac.clone();
        m.update(tag);
        m.update(&[0]);
        for p in parts {
            m.update(p);
        }
        let out = m.finalize().into_bytes();
        u128::from_be_bytes(out[..16].try_into().unwrap_or([0; 16]))
    }

    /// A short value that tells whether two keys are the same, without revealing either.
    pub fn check_value(&self) -> String {
        format!(
            "{:016x}",
            (self.digest(b"ioc-sensor key check", &[]) >> 64) as u64
        )
    }
}

/// The bytes an address is hashed as.
pub fn addr_bytes(addr: &IpAddr) -> ([u8; 16], usize) {
    let mut b = [0u8; 16];
    match addr {
        IpAddr::V4(a) => {
            b[..4].copy_from_slice(&a.octets());
            (b, 4)
        }
        IpAddr::V6(a) => {
            b.copy_from_slice(&a.octets());
            (b, 16)
        }
    }
}

/// Which metadata a sealed feed keeps (the rest could name what it hides: a reference URL or
/// a description often spells out the domain).
#[derive(Debug, Clone, Copy)]
pub struct Keep {
    /// Campaign name.
    pub campaign: bool,
    /// Tags.
    pub tags: bool,
    /// Confidence and validity.
    pub validity: bool,
    /// References.
    pub references: bool,
    /// Description.
    pub description: bool,
}

impl Default for Keep {
    fn default() -> Self {
        Keep {
            campaign: true,
            tags: true,
            validity: true,
            references: false,
            description: false,
        }
    }
}

impl Keep {
    /// From a comma list of `campaign,tags,validity,references,description`.
    pub fn parse(list: &str) -> Result<Keep, String> {
        let mut k = Keep {
            campaign: false,
            tags: false,
            validity: false,
            references: false,
            description: false,
        };
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match item {
                "campaign" => k.campaign = true,
                "tags" => k.tags = true,
                "validity" => k.validity = true,
                "references" => k.references = true,
                "description" => k.description = true,
                other => return Err(format!("--keep: unknown field {other:?}; choose from campaign,tags,validity,references,description")),
            }
        }
        Ok(k)
    }
}

/// Writes a sealed feed from indicators as the loaders hand them over.
pub struct SealWriter {
    key: SealKey,
    keep: Keep,
    sources: Vec<Source>,
    lines: Vec<String>,
    v4_prefixes: Vec<u8>,
    v6_prefixes: Vec<u8>,
    counts: super::KindCounts,
}

impl SealWriter {
    /// A writer sealing with `key`, keeping the metadata fields in `keep`.
    pub fn new(key: SealKey, keep: Keep) -> Self {
        SealWriter {
            key,
            keep,
            sources: Vec::new(),
            lines: Vec::new(),
            v4_prefixes: Vec::new(),
            v6_prefixes: Vec::new(),
            counts: Default::default(),
        }
    }

    /// Indicators sealed so far, by kind.
    pub fn counts(&self) -> &super::KindCounts {
        &self.counts
    }

    /// The sealed feed.
    pub fn finish(mut self) -> String {
        let mut out = format!("{MAGIC}\n#key-check: {}\n", self.key.check_value());
        for (name, list) in [("v4", &mut self.v4_prefixes), ("v6", &mut self.v6_prefixes)] {
            list.sort_unstable();
            list.dedup();
            if !list.is_empty() {
                let joined: Vec<String> = list.iter().map(u8::to_string).collect();
                let _ = writeln!(out, "#networks-{name}: {}", joined.join(","));
            }
        }
        // In digest order: the order of the source feed (often alphabetical) would leak.
        self.lines
            .sort_unstable_by(|a, b| a.split('\t').nth(1).cmp(&b.split('\t').nth(1)));
        for line in &self.lines {
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    fn metadata(&self, source: &Source) -> String {
        let mut m = serde_json::Map::new();
        m.insert("feed".into(), source.feed.to_string().into());
        if self.keep.campaign {
            if let Some(c) = &source.campaign {
                m.insert("campaign".into(), c.clone().into());
            }
        }
        if self.keep.tags && !source.tags.is_empty() {
            m.insert("tags".into(), source.tags.clone().into());
        }
        if self.keep.validity {
            if let Some(c) = source.confidence {
                m.insert("confidence".into(), c.into());
            }
            if let Some(v) = source.valid_from_us {
                m.insert("valid_from_us".into(), v.into());
            }
            if let Some(v) = source.valid_until_us {
                m.insert("valid_until_us".into(), v.into());
            }
        }
        if self.keep.references && !source.references.is_empty() {
            m.insert("references".into(), source.references.clone().into());
        }
        if self.keep.description {
            if let Some(d) = &source.description {
                m.insert("description".into(), d.clone().into());
            }
        }
        serde_json::Value::Object(m).to_string()
    }
}

impl IndicatorSink for SealWriter {
    fn add_source(&mut self, source: Source) -> u32 {
        self.sources.push(source);
        (self.sources.len() - 1) as u32
    }

    fn add(&mut self, indicator: &Indicator, source: u32, exact_host: bool) {
        let key = &self.key;
        let (kind, digest) = match indicator {
            Indicator::Domain(name) => (
                if exact_host {
                    Kind::Hostname
                } else {
                    Kind::Domain
                },
                key.digest(tag::NAME, &[name.as_bytes()]),
            ),
            Indicator::Address { addr, port: None } => {
                let (b, n) = addr_bytes(addr);
                (Kind::Address, key.digest(tag::ADDR, &[&b[..n]]))
            }
            Indicator::Address {
                addr,
                port: Some(p),
            } => {
                let (b, n) = addr_bytes(addr);
                (
                    Kind::Address,
                    key.digest(tag::ADDR_PORT, &[&b[..n], &p.to_be_bytes()]),
                )
            }
            Indicator::Network { addr, prefix_len } => {
                let (b, n) = addr_bytes(&mask(*addr, *prefix_len));
                if addr.is_ipv4() {
                    &mut self.v4_prefixes
                } else {
                    &mut self.v6_prefixes
                }
                .push(*prefix_len);
                (
                    Kind::Network,
                    key.digest(tag::NET, &[&b[..n], &[*prefix_len]]),
                )
            }
            Indicator::Url { host, path } => (
                Kind::Url,
                key.digest(tag::URL, &[host.as_bytes(), path.as_bytes()]),
            ),
            Indicator::UrlPath(path) => (Kind::UrlPath, key.digest(tag::PATH, &[path.as_bytes()])),
        };
        let type_name = match (kind, indicator) {
            (Kind::Address, Indicator::Address { port: Some(_), .. }) => "ip-port".to_string(),
            (Kind::Network, Indicator::Network { prefix_len, .. }) => format!("cidr-{prefix_len}"),
            _ => kind.as_str().to_string(),
        };
        let Some(src) = self.sources.get(source as usize) else {
            return;
        };
        // An id that says nothing of the value or of its place in the feed.
        let id = src
            .id
            .clone()
            .unwrap_or_else(|| format!("ioc-{:012x}", digest >> 80));
        let meta = self.metadata(src);
        self.lines
            .push(format!("{type_name}\t{digest:032x}\t{id}\t{meta}"));
        self.counts.by_kind[kind as usize] += 1;
    }
}

/// True when `bytes` is a sealed feed.
pub fn is_sealed(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC.as_bytes())
}

/// One sealed record, as loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedKind {
    /// A name and its subdomains.
    Domain,
    /// One exact name.
    Hostname,
    /// An address.
    Address,
    /// An address on one port.
    AddressPort,
    /// A network.
    Network,
    /// Host and path.
    Url,
    /// Path on any host.
    UrlPath,
}

/// Load a sealed feed into `builder` (which holds the key). Returns the records added.
pub fn load(
    path: &str,
    bytes: &[u8],
    builder: &mut super::IndicatorSetBuilder,
    errors: &mut Vec<FeedError>,
) -> usize {
    let Some(key) = builder.seal_key().cloned() else {
        errors.push(FeedError::new(
            path,
            0,
            "a sealed feed: give its key with --key-file",
        ));
        return 0;
    };
    let Ok(text) = std::str::from_utf8(bytes) else {
        errors.push(FeedError::new(path, 0, "a sealed feed must be UTF-8 text"));
        return 0;
    };
    let feed_name = super::plain::feed_name(path);
    let mut added = 0;
    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        if let Some(value) = line.strip_prefix("#key-check:") {
            if value.trim() != key.check_value() {
                errors.push(FeedError::new(
                    path,
                    line_no,
                    "sealed with another key (the key check does not match); nothing loaded",
                ));
                return 0;
            }
            continue;
        }
        if let Some(list) = line
            .strip_prefix("#networks-v4:")
            .or_else(|| line.strip_prefix("#networks-v6:"))
        {
            let v6 = line.starts_with("#networks-v6");
            for len in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                match len.parse::<u8>() {
                    Ok(l) if l <= if v6 { 128 } else { 32 } => builder.add_sealed_prefix(v6, l),
                    _ => errors.push(FeedError::new(
                        path,
                        line_no,
                        format!("bad prefix length {len:?}"),
                    )),
                }
            }
            continue;
        }
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut fields = line.splitn(4, '\t');
        let (Some(kind), Some(digest), Some(id), meta) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            errors.push(FeedError::new(
                path,
                line_no,
                "expected: type, digest, id, metadata (tab-separated)",
            ));
            continue;
        };
        let mut prefix_len = 0;
        let kind = match kind {
            "domain" => SealedKind::Domain,
            "hostname" => SealedKind::Hostname,
            "ip" => SealedKind::Address,
            "ip-port" => SealedKind::AddressPort,
            "url" => SealedKind::Url,
            "url-path" => SealedKind::UrlPath,
            net if net
                .strip_prefix("cidr-")
                .and_then(|l| l.parse::<u8>().ok())
                .is_some_and(|l| l <= 128) =>
            {
                prefix_len = net[5..].parse().unwrap_or(0);
                SealedKind::Network
            }
            other => {
                errors.push(FeedError::new(
                    path,
                    line_no,
                    format!("unknown sealed type {other:?}"),
                ));
                continue;
            }
        };
        let Ok(digest) = u128::from_str_radix(digest, 16) else {
            errors.push(FeedError::new(path, line_no, "digest is not 32 hex digits"));
            continue;
        };
        let meta: serde_json::Value = match meta.map(serde_json::from_str).transpose() {
            Ok(m) => m.unwrap_or_default(),
            Err(e) => {
                errors.push(FeedError::new(
                    path,
                    line_no,
                    format!("metadata is not JSON: {e}"),
                ));
                continue;
            }
        };
        let strings = |field: &str| -> Vec<String> {
            meta[field]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        };
        let source = Source {
            feed: meta["feed"]
                .as_str()
                .map(std::sync::Arc::from)
                .unwrap_or_else(|| feed_name.into()),
            campaign: meta["campaign"].as_str().map(String::from),
            references: strings("references"),
            tags: strings("tags"),
            description: meta["description"].as_str().map(String::from),
            confidence: meta["confidence"]
                .as_u64()
                .and_then(|c| u8::try_from(c).ok()),
            valid_from_us: meta["valid_from_us"].as_i64(),
            valid_until_us: meta["valid_until_us"].as_i64(),
            id: Some(id.to_string()),
        };
        let source = builder.add_source(source);
        builder.add_sealed(kind, digest, source, prefix_len);
        added += 1;
    }
    added
}
