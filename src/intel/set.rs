//! The indicator set: every loaded indicator, held as hashes, ready for lookups.
//!
//! What it holds, and what it costs:
//! - names (domains, exact hostnames): one 64-bit keyed hash per indicator in a table.
//!   The hash of a name is a chain over its labels from the right (`h(com)`, then
//!   `h(h(com), example)`, ...), so a lookup computes the hashes of *all* suffixes of an
//!   observed name in one right-to-left pass and probes once per suffix: no string compare,
//!   no allocation. The hasher is seeded per process, so keys chosen to collide cannot be
//!   prepared in advance.
//! - addresses: exact IPv4/IPv6 in one table each; networks in one table per prefix length
//!   present (a lookup probes each length once, longest first). This layout works for
//!   hashed (sealed) values too, which a trie would not.
//! - URLs: a hash of host and path; bare paths: a hash of the path.
//! - an indicator alone under its key (nearly all) lives in its table slot: kind and source
//!   index packed in the slot's 32-bit value; the others (duplicates from several feeds,
//!   `IP:port`, networks) take an [`Entry`] of 12 bytes in a chain. The [`Source`] table (feed,
//!   references, tags) is shared by every indicator of a feed block.
//!
//! The set does not keep the indicator's text: a hit reports which suffix of the observed name
//! (or which prefix length of the observed address) matched, and that *is* the indicator.
//! A 64-bit hash collision can cause a false match with a probability of about n/2^64 per
//! lookup; it cannot cause a missed match.
//!
//! A set is immutable once built: it is shared between workers through an `Arc`. Its tables
//! are [`FrozenMap`]s (no spare capacity: ~15 bytes per name, ~11 per IPv4 address); the
//! builder grows hashbrown maps and freezes them at the end.

use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::net::IpAddr;
use std::sync::Arc;

use hashbrown::HashMap;

use super::frozen::{FrozenKey, FrozenMap};
use super::normalize::{mask_v4, mask_v6, Indicator, MAX_NAME_LEN};
use super::sealed::{self, SealKey};
use crate::mix::fold_mul;

/// Kind of an indicator, as it appears in alerts (`alert.context.indicator_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A domain and all its subdomains.
    Domain,
    /// One exact host name.
    Hostname,
    /// One address (optionally with a port).
    Address,
    /// A CIDR network.
    Network,
    /// Host and path of an HTTP request.
    Url,
    /// Path of an HTTP request on any host.
    UrlPath,
}

impl Kind {
    /// Every kind, in counter order.
    pub const ALL: [Kind; 6] = [
        Kind::Domain,
        Kind::Hostname,
        Kind::Address,
        Kind::Network,
        Kind::Url,
        Kind::UrlPath,
    ];

    /// The name used in EVE output and summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Domain => "domain",
            Kind::Hostname => "hostname",
            Kind::Address => "ip",
            Kind::Network => "cidr",
            Kind::Url => "url",
            Kind::UrlPath => "url-path",
        }
    }
}

/// Where a group of indicators came from: shared by every indicator of the same feed block.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Source {
    /// Feed name (the file name without its directory).
    pub feed: Arc<str>,
    /// Campaign or threat actor the feed block names, if any.
    pub campaign: Option<String>,
    /// Reference URLs the feed gives for the block.
    pub references: Vec<String>,
    /// Tags (aliases, malware families, labels).
    pub tags: Vec<String>,
    /// Description (event info, indicator name, comment).
    pub description: Option<String>,
    /// Confidence 0..=100, when the feed gives one.
    pub confidence: Option<u8>,
    /// Start of validity, microseconds since the epoch.
    pub valid_from_us: Option<i64>,
    /// End of validity, microseconds since the epoch: past it the indicator does not alert.
    pub valid_until_us: Option<i64>,
    /// Opaque id of the indicator in its feed (STIX id, MISP uuid, sealed-feed id).
    pub id: Option<String>,
}

/// One indicator as stored: 12 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// Index into [`IndicatorSet::source`].
    pub source: u32,
    next: u32,
    /// 0 = any port.
    pub port: u16,
    /// What the indicator is.
    pub kind: Kind,
    /// For networks: the prefix length; otherwise the full length.
    pub prefix_len: u8,
}

const NO_ENTRY: u32 = u32::MAX;
/// A table value with this bit holds its only indicator in place (kind and source) instead of
/// the index of a chain in `entries`: most indicators are alone under their key, so most cost
/// nothing beyond their table slot. (`NO_ENTRY` has it too, with kind 7, which no kind uses.)
const INLINE: u32 = 1 << 31;
/// Sources an in-place value can name (28 bits).
const INLINE_MAX_SOURCE: u32 = (1 << 28) - 1;

/// The value of a lone indicator kept in place, if it can be.
fn inline_value(kind: Kind, port: u16, source: u32) -> Option<u32> {
    let fits = port == 0 && kind != Kind::Network && source <= INLINE_MAX_SOURCE;
    fits.then_some(INLINE | ((kind as u32) << 28) | source)
}

/// The entry an in-place value stands for.
fn decode_inline(value: u32) -> Entry {
    let kind = Kind::ALL[((value >> 28) & 0x7) as usize % Kind::ALL.len()];
    Entry {
        source: value & INLINE_MAX_SOURCE,
        next: NO_ENTRY,
        port: 0,
        kind,
        prefix_len: 0,
    }
}
const URL_TAG: u8 = 1;
const PATH_TAG: u8 = 2;

/// Identity hasher for keys that already are keyed hashes.
#[derive(Default)]
pub struct IdentityHasher(u64);
impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}
type HashKeyMap = HashMap<u64, u32, BuildHasherDefault<IdentityHasher>>;

/// A name indicator, hashed: what the set keeps of it. Computed by [`NameHasher::name_key`],
/// on any thread (a large feed's names are hashed by the threads that read them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameKey {
    key: u64,
    /// Labels, 1 to 64 (64 stands for 64 or more).
    depth: u8,
}

/// The keyed hash of names, seeded per process.
#[derive(Clone)]
pub struct NameHasher {
    state: foldhash::fast::FixedState,
    seed: [u64; 2],
}

impl NameHasher {
    /// The hasher of this process: seeded once at random, so that every set built in the
    /// process (after a reload too) gives an indicator the same key, and keys chosen to
    /// collide cannot be prepared in advance.
    fn new() -> Self {
        static SEED: std::sync::OnceLock<[u64; 2]> = std::sync::OnceLock::new();
        let [a, b] = *SEED.get_or_init(crate::mix::random_seed);
        NameHasher {
            state: foldhash::fast::FixedState::with_seed(a),
            seed: [a, b],
        }
    }

    /// The label of `name` that ends at `end`, hashed under the suffix whose hash is
    /// `parent`: the suffix's new hash, and where the label starts. One pass from `end`
    /// leftwards, 8 bytes at a time: each word is searched for a dot and, when it holds none,
    /// is part of the label and goes straight into the hash (a folded 64×64→128-bit multiply
    /// with the process's secret multiplier, the construction of wyhash and foldhash, inlined
    /// here because this runs once per label of every name on the wire). The word that holds
    /// the dot (or the name's start) gives the label's first bytes, which go in last with the
    /// label's length. ASCII letters are folded to lowercase on the way, so any case hashes
    /// alike. In a name of 8 bytes or more, a label shorter than 8 bytes costs one load and
    /// one multiply.
    #[inline(always)]
    fn next_label(&self, parent: u64, name: &[u8], end: usize) -> (u64, usize) {
        let mut hash = parent ^ self.seed[0];
        let mut pos = end;
        loop {
            let window = word_ending_at(name, pos);
            let dots = dot_bytes(window);
            if dots == 0 && pos >= 8 {
                hash = fold_mul(hash ^ lowercase_word(window), self.seed[1]);
                pos -= 8;
                continue;
            }
            // The label's first `head` (< 8) bytes are the window's top bytes.
            let head = if dots != 0 {
                (dots.leading_zeros() / 8) as usize
            } else {
                pos
            };
            let word = window.checked_shr(64 - 8 * head as u32).unwrap_or(0);
            let start = pos - head;
            let len = (end - start) as u64;
            let hash = fold_mul(hash ^ lowercase_word(word) ^ (len << 56), self.seed[1]);
            return (hash, start);
        }
    }

    /// Key of a whole normalised name (no trailing dot).
    pub fn name_key(&self, name: &[u8]) -> NameKey {
        let (mut key, mut depth, mut end) = (0, 0u32, name.len());
        loop {
            let start;
            (key, start) = self.next_label(key, name, end);
            depth += 1;
            if start == 0 {
                break;
            }
            end = start - 1;
        }
        NameKey {
            key,
            depth: depth.clamp(1, 64) as u8,
        }
    }

    fn url_key(&self, host: &[u8], path: &[u8]) -> u64 {
        self.state.hash_one((URL_TAG, host, path))
    }

    fn path_key(&self, path: &[u8]) -> u64 {
        self.state.hash_one((PATH_TAG, path))
    }
}

/// The 8 bytes of `name` that end at `pos`, as a little-endian word; bytes before the
/// name's start read as zero. One load when the name has 8 bytes.
#[inline(always)]
fn word_ending_at(name: &[u8], pos: usize) -> u64 {
    match pos.checked_sub(8) {
        Some(from) => read_word(&name[from..pos]),
        None if pos == 0 => 0,
        None => match name.get(..8) {
            Some(first) => read_word(first) << (8 * (8 - pos)),
            None => name[..pos]
                .iter()
                .fold(0, |word, &b| (word >> 8) | (u64::from(b) << 56)),
        },
    }
}

/// Eight bytes (`bytes.len()` must be 8) as one little-endian word.
#[inline(always)]
fn read_word(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(bytes.try_into().unwrap_or_default())
}

/// The high bit of each byte of `word` that is a `.`, every other bit clear (exact: no carry
/// between bytes).
#[inline(always)]
fn dot_bytes(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let x = word ^ (ONES * u64::from(b'.'));
    !(((x & LOW7) + LOW7) | x | LOW7)
}

/// ASCII `A`–`Z` in each byte of `word` made lowercase; every other byte (digits, `-`, `_`,
/// non-ASCII) left as it is. Eight bytes at once instead of a lowercase copy of the name.
#[inline(always)]
fn lowercase_word(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let low7 = word & !HIGH;
    // Bit 7 of each byte: set when the byte's low 7 bits are ≥ 'A', and when they are > 'Z'.
    let from_a = low7 + ONES * (0x80 - u64::from(b'A'));
    let past_z = low7 + ONES * (0x80 - u64::from(b'Z') - 1);
    let upper = from_a & !past_z & !word & HIGH;
    word | (upper >> 2)
}

/// A table that grows while a set is built.
type GrowingMap<K> = HashMap<K, u32, foldhash::fast::RandomState>;

/// The entries of a builder's table, as a frozen map is built from them.
fn entries_of<K: Copy, S>(
    table: &HashMap<K, u32, S>,
) -> impl ExactSizeIterator<Item = (K, u32)> + Clone + '_ {
    table.iter().map(|(&key, &value)| (key, value))
}

/// Addresses of one family: exact table plus one table per network prefix length. Growing
/// maps in the builder, frozen ones in the set.
struct AddressTable<M> {
    exact: M,
    /// (prefix length, table), longest first.
    networks: Vec<(u8, M)>,
}

impl<K: std::hash::Hash + Eq + Copy> AddressTable<GrowingMap<K>> {
    fn new() -> Self {
        AddressTable {
            exact: HashMap::default(),
            networks: Vec::new(),
        }
    }

    fn slot(&mut self, prefix_len: u8, full: u8) -> &mut GrowingMap<K> {
        if prefix_len == full {
            return &mut self.exact;
        }
        let pos = match self.networks.iter().position(|(len, _)| *len <= prefix_len) {
            Some(p) if self.networks[p].0 == prefix_len => p,
            Some(p) => {
                self.networks.insert(p, (prefix_len, HashMap::default()));
                p
            }
            None => {
                self.networks.push((prefix_len, HashMap::default()));
                self.networks.len() - 1
            }
        };
        &mut self.networks[pos].1
    }

    fn freeze(self, seed: u64) -> AddressTable<FrozenMap<K>>
    where
        K: FrozenKey,
    {
        AddressTable {
            exact: FrozenMap::build(seed, entries_of(&self.exact)),
            networks: self
                .networks
                .into_iter()
                .map(|(len, table)| (len, FrozenMap::build(seed, entries_of(&table))))
                .collect(),
        }
    }
}

impl<K: FrozenKey> AddressTable<FrozenMap<K>> {
    fn len(&self) -> usize {
        self.exact.len() + self.networks.iter().map(|(_, m)| m.len()).sum::<usize>()
    }

    /// Ask for the filter lines that [`Self::probe`] of `bits` reads first.
    #[inline]
    fn prefetch(&self, bits: K, mask: impl Fn(K, u8) -> K) {
        self.exact.prefetch(bits);
        for (len, table) in &self.networks {
            table.prefetch(mask(bits, *len));
        }
    }

    /// Hand `check` the head of every entry covering `bits`: the exact table, then each
    /// network length (`mask` clears the host bits beyond a length).
    #[inline]
    fn probe(&self, bits: K, mask: impl Fn(K, u8) -> K, check: &mut impl FnMut(u32)) {
        if let Some(head) = self.exact.get(bits) {
            check(head);
        }
        for (len, table) in &self.networks {
            if let Some(head) = table.get(mask(bits, *len)) {
                check(head);
            }
        }
    }
}

/// Counts of loaded indicators by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KindCounts {
    /// Indexed by `Kind as usize`.
    pub by_kind: [usize; 6],
}

impl KindCounts {
    /// Total indicators.
    pub fn total(&self) -> usize {
        self.by_kind.iter().sum()
    }
    /// Count for one kind.
    pub fn get(&self, kind: Kind) -> usize {
        self.by_kind[kind as usize]
    }
}

/// A hit on a name: the entry and where in the observed name the matching suffix starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameHit {
    /// Index of the entry (stable for the life of the set; see [`IndicatorSet::entry`]).
    pub entry: u32,
    /// Byte offset in the observed name where the indicator's suffix starts.
    pub suffix_start: usize,
}

/// All indicators, as hashes. Build it with [`IndicatorSetBuilder`].
pub struct IndicatorSet {
    hasher: NameHasher,
    names: FrozenMap<u64>,
    /// Bit d-1 set when some name indicator has d labels (d ≥ 64 sets bit 63): suffixes of
    /// other depths are not looked up, and labels beyond the deepest are not hashed.
    name_depths: u64,
    urls: FrozenMap<u64>,
    v4: AddressTable<FrozenMap<u32>>,
    v6: AddressTable<FrozenMap<u128>>,
    entries: Vec<Entry>,
    sources: Vec<Source>,
    counts: KindCounts,
    /// Indicators from sealed feeds: keyed hashes only (see [`super::sealed`]).
    sealed: Option<Box<SealedTables<FrozenMap<u128>>>>,
    /// Any address or network indicator, plain or sealed (asked for every new flow, and for
    /// every held-back packet whose flow looks new).
    any_addresses: bool,
}

/// The sealed part of a set: one table of 128-bit keyed hashes (the hash's tag keeps names,
/// addresses, networks and URLs apart), and the prefix lengths the sealed networks use.
struct SealedTables<M> {
    key: SealKey,
    digests: M,
    v4_prefixes: Vec<u8>,
    v6_prefixes: Vec<u8>,
}

impl SealedTables<FrozenMap<u128>> {
    #[inline]
    fn get(&self, tag: &[u8], parts: &[&[u8]]) -> Option<u32> {
        if self.digests.is_empty() {
            return None;
        }
        self.digests.get(self.key.digest(tag, parts))
    }
}

impl std::fmt::Debug for IndicatorSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IndicatorSet({} indicators)", self.counts.total())
    }
}

impl IndicatorSet {
    /// The entry behind a hit.
    pub fn entry(&self, id: u32) -> Entry {
        if id & INLINE != 0 {
            decode_inline(id)
        } else {
            self.entries[id as usize]
        }
    }

    /// The source of an entry.
    pub fn source(&self, entry: Entry) -> &Source {
        &self.sources[entry.source as usize]
    }

    /// Indicators loaded, by kind.
    pub fn counts(&self) -> &KindCounts {
        &self.counts
    }

    /// True when no indicator was loaded.
    pub fn is_empty(&self) -> bool {
        self.counts.total() == 0
    }

    /// Report every domain or hostname indicator that `name` (as seen on the wire: any case,
    /// trailing dot allowed) falls under. One hash probe per label depth that some indicator
    /// has; no copy, no allocation. Sealed indicators cost one keyed hash (HMAC-SHA-256) of a
    /// lowercase copy per label on top.
    #[inline]
    pub fn match_name(&self, name: &[u8], mut on_hit: impl FnMut(NameHit)) {
        if self.names.is_empty() && self.sealed.is_none() {
            return;
        }
        let name = name.strip_suffix(b".").unwrap_or(name);
        if name.is_empty() || name.len() > MAX_NAME_LEN {
            return;
        }
        match &self.sealed {
            None => self.match_labels(name, None, &mut on_hit),
            Some(sealed) => {
                let mut lower = [0u8; MAX_NAME_LEN];
                let lower = &mut lower[..name.len()];
                lower.copy_from_slice(name);
                lower.make_ascii_lowercase();
                self.match_labels(lower, Some(sealed), &mut on_hit)
            }
        }
    }

    /// The label walk of [`Self::match_name`], right to left: the suffix hash grows by one
    /// label per step and is looked up at the depths indicators have. `sealed` needs `name`
    /// in lowercase.
    #[inline(always)]
    fn match_labels(
        &self,
        name: &[u8],
        sealed: Option<&SealedTables<FrozenMap<u128>>>,
        on_hit: &mut impl FnMut(NameHit),
    ) {
        // Bit 0: plain indicators have as many labels as this step has reached; shifted once
        // per label. The top bit (64 labels or more) stays set once it is. Plain indicators
        // need no label past the deepest of them; sealed ones every label.
        let mut depths = self.name_depths;
        let mut hash = 0u64;
        let mut end = name.len();
        loop {
            let start;
            (hash, start) = self.hasher.next_label(hash, name, end);
            let plain = if depths & 1 != 0 {
                self.names.get(hash)
            } else {
                None
            };
            let sealed_head = sealed.and_then(|s| s.get(sealed::tag::NAME, &[&name[start..]]));
            for head in [plain, sealed_head].into_iter().flatten() {
                self.walk(head, |id, e| {
                    if e.kind == Kind::Domain || start == 0 {
                        on_hit(NameHit {
                            entry: id,
                            suffix_start: start,
                        });
                    }
                });
            }
            depths = (depths >> 1) | (depths & (1 << 63));
            if start == 0 || (depths == 0 && sealed.is_none()) {
                break;
            }
            end = start - 1;
        }
    }

    /// Ask for the lines that [`Self::match_addr`] of `addr` reads first (plain indicators).
    #[inline]
    pub fn prefetch_addr(&self, addr: IpAddr) {
        match addr {
            IpAddr::V4(a) => self.v4.prefetch(u32::from(a), mask_v4),
            IpAddr::V6(a) => self.v6.prefetch(u128::from(a), mask_v6),
        }
    }

    /// Report every address or network indicator that covers `addr` (the `port` is the flow's
    /// port at that address, for `IP:port` indicators).
    #[inline]
    pub fn match_addr(&self, addr: IpAddr, port: u16, mut on_hit: impl FnMut(u32)) {
        let mut check = |head: u32| {
            self.walk(head, |id, e| {
                if e.port == 0 || e.port == port {
                    on_hit(id)
                }
            })
        };
        match addr {
            IpAddr::V4(a) => self.v4.probe(u32::from(a), mask_v4, &mut check),
            IpAddr::V6(a) => self.v6.probe(u128::from(a), mask_v6, &mut check),
        }
        if let Some(sealed) = &self.sealed {
            self.match_sealed_addr(sealed, addr, port, &mut on_hit);
        }
    }

    /// Sealed addresses: the address, the address and port, and each network length in use.
    fn match_sealed_addr(
        &self,
        sealed: &SealedTables<FrozenMap<u128>>,
        addr: IpAddr,
        port: u16,
        on_hit: &mut impl FnMut(u32),
    ) {
        let (bytes, n) = sealed::addr_bytes(&addr);
        let mut all = |head: Option<u32>| {
            if let Some(head) = head {
                self.walk(head, |id, _| on_hit(id));
            }
        };
        all(sealed.get(sealed::tag::ADDR, &[&bytes[..n]]));
        all(sealed.get(sealed::tag::ADDR_PORT, &[&bytes[..n], &port.to_be_bytes()]));
        let prefixes = if addr.is_ipv4() {
            &sealed.v4_prefixes
        } else {
            &sealed.v6_prefixes
        };
        for &len in prefixes {
            let (masked, n) = sealed::addr_bytes(&super::normalize::mask(addr, len));
            all(sealed.get(sealed::tag::NET, &[&masked[..n], &[len]]));
        }
    }

    /// True when the set holds any address or network indicator.
    pub fn has_addresses(&self) -> bool {
        self.any_addresses
    }

    /// True when the set holds any URL or path indicator.
    pub fn has_urls(&self) -> bool {
        !self.urls.is_empty() || self.sealed.is_some()
    }

    /// Report URL indicators for an HTTP request: host (any case) and request target path
    /// (`/a/b?q`). Tries host+path, host+path-without-query, and the bare path forms.
    pub fn match_url(&self, host: &[u8], path: &[u8], mut on_hit: impl FnMut(u32)) {
        if (self.urls.is_empty() && self.sealed.is_none()) || host.len() > MAX_NAME_LEN {
            return;
        }
        let host = host.strip_suffix(b".").unwrap_or(host);
        let mut lower = [0u8; MAX_NAME_LEN];
        let lower = &mut lower[..host.len()];
        for (dst, src) in lower.iter_mut().zip(host) {
            *dst = src.to_ascii_lowercase();
        }
        let without_query = path.split(|&b| b == b'?').next().unwrap_or(path);
        let mut seen_head = [NO_ENTRY; 4];
        let keys = [
            self.hasher.url_key(lower, path),
            self.hasher.url_key(lower, without_query),
            self.hasher.path_key(path),
            self.hasher.path_key(without_query),
        ];
        for (i, &key) in keys.iter().enumerate() {
            if let Some(head) = self.urls.get(key) {
                if seen_head[..i].contains(&head) {
                    continue;
                }
                seen_head[i] = head;
                self.walk(head, |id, _| on_hit(id));
            }
        }
        if let Some(sealed) = &self.sealed {
            let heads = [
                sealed.get(sealed::tag::URL, &[lower, path]),
                (without_query != path)
                    .then(|| sealed.get(sealed::tag::URL, &[lower, without_query]))
                    .flatten(),
                sealed.get(sealed::tag::PATH, &[path]),
                (without_query != path)
                    .then(|| sealed.get(sealed::tag::PATH, &[without_query]))
                    .flatten(),
            ];
            for head in heads.into_iter().flatten() {
                self.walk(head, |id, _| on_hit(id));
            }
        }
    }

    #[inline]
    fn walk(&self, mut id: u32, mut f: impl FnMut(u32, &Entry)) {
        while id != NO_ENTRY {
            let e = self.entry(id);
            f(id, &e);
            id = e.next;
        }
    }
}

/// Put `new` under a table slot: in place when it is alone and fits, else in a chain of
/// `entries` (an in-place value moves into the chain first). False when the same indicator
/// from the same source is already there.
fn insert(slot: &mut u32, entries: &mut Vec<Entry>, new: Entry) -> bool {
    if *slot == NO_ENTRY {
        if let Some(value) = inline_value(new.kind, new.port, new.source) {
            *slot = value;
            return true;
        }
    } else if *slot & INLINE != 0 {
        let lone = decode_inline(*slot);
        if lone.kind == new.kind && lone.port == new.port && lone.source == new.source {
            return false;
        }
        entries.push(lone);
        *slot = (entries.len() - 1) as u32;
    }
    let mut id = *slot;
    while id != NO_ENTRY {
        let e = &entries[id as usize];
        if e.kind == new.kind && e.port == new.port && e.source == new.source {
            return false;
        }
        id = e.next;
    }
    entries.push(Entry { next: *slot, ..new });
    *slot = (entries.len() - 1) as u32;
    true
}

/// Where feed loaders put what they read: a set being built, or a sealed feed being written.
pub trait IndicatorSink {
    /// Register a source; indicators added with the returned id carry it.
    fn add_source(&mut self, source: Source) -> u32;
    /// Add one indicator. `exact_host` makes a name match only itself.
    fn add(&mut self, indicator: &Indicator, source: u32, exact_host: bool);
    /// The set builder, when this sink is one (sealed feeds load only into a set).
    fn as_builder(&mut self) -> Option<&mut IndicatorSetBuilder> {
        None
    }
}

impl IndicatorSink for IndicatorSetBuilder {
    fn add_source(&mut self, source: Source) -> u32 {
        IndicatorSetBuilder::add_source(self, source)
    }
    fn add(&mut self, indicator: &Indicator, source: u32, exact_host: bool) {
        IndicatorSetBuilder::add(self, indicator, source, exact_host)
    }
    fn as_builder(&mut self) -> Option<&mut IndicatorSetBuilder> {
        Some(self)
    }
}

/// Builds an [`IndicatorSet`] from normalised indicators: growing tables, frozen by
/// [`IndicatorSetBuilder::build`].
pub struct IndicatorSetBuilder {
    hasher: NameHasher,
    names: HashKeyMap,
    name_depths: u64,
    urls: HashKeyMap,
    v4: AddressTable<GrowingMap<u32>>,
    v6: AddressTable<GrowingMap<u128>>,
    entries: Vec<Entry>,
    sources: Vec<Source>,
    counts: KindCounts,
    sealed: Option<Box<SealedTables<GrowingMap<u128>>>>,
}

impl Default for IndicatorSetBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl IndicatorSetBuilder {
    /// An empty builder with the per-process hash seed.
    pub fn new() -> Self {
        IndicatorSetBuilder {
            hasher: NameHasher::new(),
            names: HashKeyMap::default(),
            name_depths: 0,
            urls: HashKeyMap::default(),
            v4: AddressTable::new(),
            v6: AddressTable::new(),
            entries: Vec::new(),
            sources: Vec::new(),
            counts: KindCounts::default(),
            sealed: None,
        }
    }

    /// Register a source; indicators added with the returned id carry it.
    pub fn add_source(&mut self, source: Source) -> u32 {
        if let Some(last) = self.sources.last() {
            if *last == source {
                return (self.sources.len() - 1) as u32;
            }
        }
        self.sources.push(source);
        (self.sources.len() - 1) as u32
    }

    /// Add one indicator. `exact_host` makes a name match only itself, not its subdomains.
    /// An identical indicator from the same source is stored once; from another source both
    /// are kept, so an alert can name every feed that lists it.
    pub fn add(&mut self, indicator: &Indicator, source: u32, exact_host: bool) {
        let (slot, kind, port, prefix_len) = match indicator {
            Indicator::Domain(name) => {
                let name = self.hasher.name_key(name.as_bytes());
                return self.add_name(name, source, exact_host);
            }
            Indicator::Url { host, path } => {
                let key = self.hasher.url_key(host.as_bytes(), path.as_bytes());
                (self.urls.entry(key).or_insert(NO_ENTRY), Kind::Url, 0, 0)
            }
            Indicator::UrlPath(path) => {
                let key = self.hasher.path_key(path.as_bytes());
                (
                    self.urls.entry(key).or_insert(NO_ENTRY),
                    Kind::UrlPath,
                    0,
                    0,
                )
            }
            Indicator::Address { addr, port } => {
                let (slot, len) = match addr {
                    IpAddr::V4(a) => (
                        self.v4
                            .slot(32, 32)
                            .entry(u32::from(*a))
                            .or_insert(NO_ENTRY),
                        32,
                    ),
                    IpAddr::V6(a) => (
                        self.v6
                            .slot(128, 128)
                            .entry(u128::from(*a))
                            .or_insert(NO_ENTRY),
                        128,
                    ),
                };
                (slot, Kind::Address, port.unwrap_or(0), len)
            }
            Indicator::Network { addr, prefix_len } => {
                let len = *prefix_len;
                let slot = match addr {
                    IpAddr::V4(a) => self
                        .v4
                        .slot(len, 32)
                        .entry(u32::from(*a))
                        .or_insert(NO_ENTRY),
                    IpAddr::V6(a) => self
                        .v6
                        .slot(len, 128)
                        .entry(u128::from(*a))
                        .or_insert(NO_ENTRY),
                };
                (slot, Kind::Network, 0, *prefix_len)
            }
        };
        let entry = Entry {
            source,
            next: NO_ENTRY,
            port,
            kind,
            prefix_len,
        };
        if insert(slot, &mut self.entries, entry) {
            self.counts.by_kind[kind as usize] += 1;
        }
    }

    /// Add a name already hashed with [`Self::name_hasher`]'s hasher (same as [`Self::add`]
    /// with an [`Indicator::Domain`]).
    pub fn add_name(&mut self, name: NameKey, source: u32, exact_host: bool) {
        let kind = if exact_host {
            Kind::Hostname
        } else {
            Kind::Domain
        };
        self.name_depths |= 1 << (name.depth - 1);
        let slot = self.names.entry(name.key).or_insert(NO_ENTRY);
        let entry = Entry {
            source,
            next: NO_ENTRY,
            port: 0,
            kind,
            prefix_len: 0,
        };
        if insert(slot, &mut self.entries, entry) {
            self.counts.by_kind[kind as usize] += 1;
        }
    }

    /// The hasher this builder keys names with, for threads that prepare names for
    /// [`Self::add_name`].
    pub fn name_hasher(&self) -> NameHasher {
        self.hasher.clone()
    }

    /// A builder that can load sealed feeds made with `key`.
    pub fn with_seal_key(key: SealKey) -> Self {
        let mut b = Self::new();
        b.sealed = Some(Box::new(SealedTables {
            key,
            digests: HashMap::default(),
            v4_prefixes: Vec::new(),
            v6_prefixes: Vec::new(),
        }));
        b
    }

    /// The key for sealed feeds, if one was given.
    pub fn seal_key(&self) -> Option<&SealKey> {
        self.sealed.as_ref().map(|s| &s.key)
    }

    /// A network prefix length used by sealed networks.
    pub fn add_sealed_prefix(&mut self, v6: bool, len: u8) {
        if let Some(sealed) = self.sealed.as_mut() {
            let list = if v6 {
                &mut sealed.v6_prefixes
            } else {
                &mut sealed.v4_prefixes
            };
            if !list.contains(&len) {
                list.push(len);
            }
        }
    }

    /// Add a sealed indicator: its keyed hash, what kind it is, and its source.
    pub fn add_sealed(
        &mut self,
        kind: sealed::SealedKind,
        digest: u128,
        source: u32,
        prefix_len: u8,
    ) {
        let set = self;
        let Some(sealed) = set.sealed.as_mut() else {
            return;
        };
        let kind = match kind {
            sealed::SealedKind::Domain => Kind::Domain,
            sealed::SealedKind::Hostname => Kind::Hostname,
            sealed::SealedKind::Address | sealed::SealedKind::AddressPort => Kind::Address,
            sealed::SealedKind::Network => Kind::Network,
            sealed::SealedKind::Url => Kind::Url,
            sealed::SealedKind::UrlPath => Kind::UrlPath,
        };
        let slot = sealed.digests.entry(digest).or_insert(NO_ENTRY);
        if insert(
            slot,
            &mut set.entries,
            Entry {
                source,
                next: NO_ENTRY,
                port: 0,
                kind,
                prefix_len,
            },
        ) {
            set.counts.by_kind[kind as usize] += 1;
        }
    }

    /// Indicators added so far, by kind.
    pub fn counts(&self) -> &KindCounts {
        &self.counts
    }

    /// Finish: the set, ready to share (its tables frozen: compact and read-only).
    pub fn build(mut self) -> IndicatorSet {
        let seed = self.hasher.seed[0];
        self.entries.shrink_to_fit();
        let mut set = IndicatorSet {
            names: FrozenMap::build(seed, entries_of(&self.names)),
            urls: FrozenMap::build(seed, entries_of(&self.urls)),
            v4: self.v4.freeze(seed),
            v6: self.v6.freeze(seed),
            sealed: self.sealed.map(|s| {
                Box::new(SealedTables {
                    key: s.key,
                    digests: FrozenMap::build(seed, entries_of(&s.digests)),
                    v4_prefixes: s.v4_prefixes,
                    v6_prefixes: s.v6_prefixes,
                })
            }),
            hasher: self.hasher,
            name_depths: self.name_depths,
            entries: self.entries,
            sources: self.sources,
            counts: self.counts,
            any_addresses: false,
        };
        set.any_addresses = set.v4.len() + set.v6.len() > 0 || set.sealed.is_some();
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intel::normalize::classify;

    fn set_of(values: &[&str]) -> IndicatorSet {
        let mut b = IndicatorSetBuilder::new();
        let src = b.add_source(Source {
            feed: "t".into(),
            ..Default::default()
        });
        for v in values {
            b.add(&classify(v).unwrap(), src, false);
        }
        b.build()
    }

    fn name_hits(set: &IndicatorSet, name: &str) -> Vec<String> {
        let mut out = Vec::new();
        set.match_name(name.as_bytes(), |h| {
            out.push(
                name[h.suffix_start..]
                    .trim_end_matches('.')
                    .to_ascii_lowercase(),
            )
        });
        out
    }

    #[test]
    fn domain_matches_itself_and_subdomains_only() {
        let set = set_of(&["evil.com", "lookup.ink"]);
        assert_eq!(name_hits(&set, "evil.com"), ["evil.com"]);
        assert_eq!(name_hits(&set, "A.B.Evil.COM."), ["evil.com"]);
        assert!(name_hits(&set, "notevil.com").is_empty());
        assert!(name_hits(&set, "evil.com.example").is_empty());
        assert!(name_hits(&set, "com").is_empty());
        assert!(name_hits(&set, "").is_empty());
        assert!(name_hits(&set, "..").is_empty());
    }

    #[test]
    fn word_lowercasing_equals_ascii_lowercasing() {
        for b in 0..=255u8 {
            for pos in 0..8 {
                let word =
                    u64::from_le_bytes(std::array::from_fn(|i| if i == pos { b } else { b'Q' }));
                let want = u64::from_le_bytes(std::array::from_fn(|i| {
                    if i == pos {
                        b.to_ascii_lowercase()
                    } else {
                        b'q'
                    }
                }));
                assert_eq!(lowercase_word(word), want, "byte {b:#x} at {pos}");
            }
        }
    }

    #[test]
    fn label_steps_find_every_label_and_hash_it_like_the_reference() {
        let hasher = NameHasher::new();
        let names = [
            "a",
            "a.b",
            "..",
            "abc.defghijkl.mnopqrstuvwxyz0123.x",
            ".lead",
            "trail.",
            "12345678.12345678.1234567",
            "ABCDEFGH.Ab.abcdefg.abcdefgh",
            "a.b.c.d.e.f.g.h.i.j",
            "x.abcdefgh",
            "abcdefgh",
            "abcdefghi",
            "abcdefg",
            "Ab.C",
            "xn--80ak6aa92e.XN--P1AI",
        ];
        // Long names put dots in every word of the map, at every offset in a word.
        let long: Vec<String> = [3usize, 7, 8, 9, 63, 64, 65]
            .iter()
            .map(|&every| {
                (0..253)
                    .map(|i| if i % every == every - 1 { '.' } else { 'a' })
                    .collect()
            })
            .collect();
        // Bytes the wire may carry: NUL, `.` with its high bit set (0xAE), 0xFF, letters
        // just outside `A`-`Z`, in names shorter and longer than a word.
        let hostile: [&[u8]; 4] = [
            b"\xae\xc1Z.\x00a..\xff",
            b"@[.\xae.`{",
            b"a\xaeb.c\xae\xae",
            b"\x00\x00\x00\x00\x00\x00\x00\x00.\x2e\xae\x00",
        ];
        let all = names.iter().map(|n| n.as_bytes());
        let all = all.chain(long.iter().map(String::as_bytes)).chain(hostile);
        for n in all {
            for end in 0..=n.len() {
                let want = n[..end]
                    .iter()
                    .rposition(|&b| b == b'.')
                    .map_or(0, |dot| dot + 1);
                let parent = end as u64 * 0x1234_5678_9abc;
                assert_eq!(
                    hasher.next_label(parent, n, end),
                    (reference_label_hash(&hasher, parent, &n[want..end]), want),
                    "{n:?} up to {end}"
                );
            }
        }
    }

    /// The label hash written the slow, obvious way: lowercase the label (ASCII letters only),
    /// hash its 8-byte words from the end, then its first `len % 8` bytes with its length.
    fn reference_label_hash(hasher: &NameHasher, parent: u64, label: &[u8]) -> u64 {
        let lower = label.to_ascii_lowercase();
        let mut hash = parent ^ hasher.seed[0];
        let mut rest = &lower[..];
        while rest.len() >= 8 {
            let (before, last) = rest.split_at(rest.len() - 8);
            hash = fold_mul(hash ^ read_word(last), hasher.seed[1]);
            rest = before;
        }
        let mut first = [0u8; 8];
        first[..rest.len()].copy_from_slice(rest);
        let word = u64::from_le_bytes(first) ^ ((label.len() as u64) << 56);
        fold_mul(hash ^ word, hasher.seed[1])
    }

    #[test]
    fn labels_hash_alike_wherever_they_sit() {
        // The same label alone, after a long label, and in capitals: one hash; labels that
        // differ in one byte: different hashes.
        let hasher = NameHasher::new();
        let mut seen = std::collections::HashMap::new();
        for n in 1..=17usize {
            for i in 0..n {
                for c in [b'a', b'b', b'-'] {
                    let mut label = vec![b'x'; n];
                    label[i] = c;
                    let (alone, start) = hasher.next_label(0, &label, n);
                    assert_eq!(start, 0);
                    let mut after = b"a-long-prefix-label.".to_vec();
                    after.extend_from_slice(&label.to_ascii_uppercase());
                    let (hash, start) = hasher.next_label(0, &after, after.len());
                    assert_eq!((hash, start), (alone, after.len() - n));
                    if let Some(other) = seen.insert(alone, label.clone()) {
                        assert_eq!(other, label, "collision");
                    }
                }
            }
        }
    }

    #[test]
    fn deep_and_long_names_hit_at_any_case() {
        let deep: Vec<String> = (0..70u8)
            .map(|i| char::from(b'a' + i % 26).to_string())
            .collect();
        let deep = deep.join(".");
        let long = format!("{}.Example-Long-Label.ORG", "Very-Long-Label-Of-Many-Bytes");
        let set = set_of(&[&deep, &long.to_ascii_lowercase(), "a.b"]);
        assert_eq!(name_hits(&set, &format!("x.{deep}")), vec![deep.clone()]);
        assert_eq!(
            name_hits(&set, &deep.to_ascii_uppercase()),
            vec![deep.clone()]
        );
        assert!(name_hits(&set, &deep[2..]).is_empty());
        assert_eq!(
            name_hits(&set, &format!("WWW.{long}")),
            [long.to_ascii_lowercase()]
        );
        assert_eq!(name_hits(&set, "x.y.A.B"), ["a.b"]);
    }

    #[test]
    fn nested_indicators_all_hit() {
        let set = set_of(&["example.com", "a.example.com"]);
        let mut hits = name_hits(&set, "x.a.example.com");
        hits.sort();
        assert_eq!(hits, ["a.example.com", "example.com"]);
    }

    #[test]
    fn hostname_is_exact() {
        let mut b = IndicatorSetBuilder::new();
        let src = b.add_source(Source::default());
        b.add(&classify("host.example").unwrap(), src, true);
        let set = b.build();
        assert_eq!(name_hits(&set, "HOST.example"), ["host.example"]);
        assert!(name_hits(&set, "a.host.example").is_empty());
    }

    #[test]
    fn addresses_networks_and_ports() {
        let set = set_of(&["1.2.3.4", "10.0.0.0/8", "2001:db8::/32", "5.6.7.8:443"]);
        let hits = |a: &str, p: u16| {
            let mut n = 0;
            set.match_addr(a.parse().unwrap(), p, |_| n += 1);
            n
        };
        assert_eq!(hits("1.2.3.4", 1), 1);
        assert_eq!(hits("10.200.1.1", 1), 1);
        assert_eq!(hits("11.0.0.1", 1), 0);
        assert_eq!(hits("2001:db8:1::5", 1), 1);
        assert_eq!(hits("2001:db9::5", 1), 0);
        assert_eq!(hits("5.6.7.8", 443), 1);
        assert_eq!(hits("5.6.7.8", 80), 0);
    }

    #[test]
    fn duplicates_keep_each_source_once() {
        let mut b = IndicatorSetBuilder::new();
        let a = b.add_source(Source {
            feed: "a".into(),
            ..Default::default()
        });
        let c = b.add_source(Source {
            feed: "c".into(),
            ..Default::default()
        });
        let ind = classify("evil.com").unwrap();
        b.add(&ind, a, false);
        b.add(&ind, a, false);
        b.add(&ind, c, false);
        let set = b.build();
        assert_eq!(name_hits(&set, "evil.com").len(), 2);
        assert_eq!(set.counts().get(Kind::Domain), 2);
    }

    #[test]
    fn urls_and_paths() {
        let set = set_of(&["evil.com/gate.php", "/hftqlbgtg.php"]);
        let hits = |h: &str, p: &str| {
            let mut n = 0;
            set.match_url(h.as_bytes(), p.as_bytes(), |_| n += 1);
            n
        };
        assert_eq!(hits("EVIL.com", "/gate.php?x=1"), 1);
        assert_eq!(hits("other.org", "/hftqlbgtg.php"), 1);
        assert_eq!(hits("evil.com", "/other.php"), 0);
    }
}
