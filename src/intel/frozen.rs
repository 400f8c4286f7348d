//! A compact, immutable hash map from fixed-size keys to 32-bit values: the tables of a built
//! [`super::IndicatorSet`].
//!
//! Layout: the entries (key and value packed together, no padding) sorted by bucket, and one
//! 32-bit start offset per bucket, with one bucket per two entries. A lookup hashes the key,
//! checks a small Bloom filter (most absent keys stop there), reads the bucket's two offsets
//! (adjacent: one cache line) and compares the one to three keys of the bucket (contiguous,
//! with their values: one cache line, rarely two). Cost per entry: the key, 4 bytes of value,
//! 2 bytes of offsets and 1 of filter, at any size: 11 bytes for an IPv4 address and 15 for a
//! name hash, where a growable table (hashbrown) rounds its capacity up to a power of two and
//! spends 13 to 26 bytes on a 64-bit key. Tables of several megabytes ask the kernel for huge
//! pages, so that lookups in a large set miss the TLB less often.
//!
//! The hash is seeded per process (the same secret as the name hasher), so keys chosen to fall
//! into one bucket cannot be prepared in advance. Limits: at most 2^32 - 1 entries; built once
//! (a reload builds a new set).

use crate::mix::fold_mul;

/// A key the frozen map can hold: spread to a well-mixed 64-bit hash with the process's seed.
pub trait FrozenKey: Copy + Eq {
    /// The bucket hash of the key.
    fn spread(self, seed: u64) -> u64;
}

impl FrozenKey for u64 {
    /// Name and URL keys already are keyed hashes.
    #[inline(always)]
    fn spread(self, _seed: u64) -> u64 {
        self
    }
}

impl FrozenKey for u32 {
    #[inline(always)]
    fn spread(self, seed: u64) -> u64 {
        fold_mul(u64::from(self) ^ seed, 0x9e37_79b9_7f4a_7c15)
    }
}

impl FrozenKey for u128 {
    #[inline(always)]
    fn spread(self, seed: u64) -> u64 {
        let h = fold_mul((self as u64) ^ seed, 0x9e37_79b9_7f4a_7c15);
        fold_mul(h ^ ((self >> 64) as u64), 0x9e37_79b9_7f4a_7c15)
    }
}

/// One entry: 12 bytes for a 64-bit key, 8 for 32 bits, 20 for 128 (4-byte alignment).
#[derive(Clone, Copy)]
#[repr(C, packed(4))]
struct Slot<K: Copy> {
    key: K,
    value: u32,
}

/// An immutable key → value map. Build it with [`FrozenMap::build`].
pub struct FrozenMap<K: Copy> {
    seed: u64,
    /// A blocked Bloom filter in front of the table: one 64-bit word per key hash, with two of
    /// its bits set per key (8 bits per key: about 5 % of absent keys pass). A lookup whose
    /// two bits are not both set is a miss without touching the table: one load from an array
    /// a seventh of the table's size, which stays in the cache where the table would not.
    filter: Vec<u64>,
    /// Bucket `b` holds entries `starts[b]..starts[b + 1]`.
    starts: Vec<u32>,
    slots: Vec<Slot<K>>,
}

impl<K: FrozenKey> FrozenMap<K> {
    /// A map of `entries` (distinct keys), hashed with `seed`. The entries are gone through
    /// twice (each key hashed twice) rather than copied into a list of buckets and entries
    /// to sort: for a large feed, such a list was megabytes of fresh pages, each a page fault.
    pub fn build(seed: u64, entries: impl ExactSizeIterator<Item = (K, u32)> + Clone) -> Self {
        let len = entries.len();
        assert!(len < u32::MAX as usize, "frozen map holds < 2^32 entries");
        let buckets = (len / 2).max(1);
        let words = filter_words(len);
        let mut filter = crate::hugepages::vec_with_capacity(words);
        filter.resize(words, 0u64);
        // Counting sort by bucket. First the filter bits and each bucket's count...
        let mut starts = crate::hugepages::vec_with_capacity(buckets + 1);
        starts.resize(buckets + 1, 0u32);
        for (key, _) in entries.clone() {
            let hash = key.spread(seed);
            let (word, bits) = filter_bits(hash, words);
            filter[word] |= bits;
            starts[bucket(hash, buckets) + 1] += 1;
        }
        // ...then each bucket's start, then every entry placed.
        for b in 0..buckets {
            starts[b + 1] += starts[b];
        }
        let mut next: Vec<u32> = starts[..buckets].to_vec();
        let mut slots = crate::hugepages::vec_with_capacity(len);
        if let Some((key, value)) = entries.clone().next() {
            slots.resize(len, Slot { key, value });
        }
        for (key, value) in entries {
            let b = bucket(key.spread(seed), buckets);
            slots[next[b] as usize] = Slot { key, value };
            next[b] += 1;
        }
        FrozenMap {
            seed,
            filter,
            starts,
            slots,
        }
    }

    /// The value stored under `key`.
    #[inline]
    pub fn get(&self, key: K) -> Option<u32> {
        let hash = key.spread(self.seed);
        let (word, bits) = filter_bits(hash, self.filter.len());
        if self.filter[word] & bits != bits {
            return None;
        }
        let b = bucket(hash, self.starts.len() - 1);
        let (lo, hi) = (self.starts[b] as usize, self.starts[b + 1] as usize);
        let slot = self.slots.get(lo..hi)?.iter().find(|s| {
            let k = s.key;
            k == key
        })?;
        Some(slot.value)
    }

    /// Ask for the filter line a [`Self::get`] of `key` reads first.
    #[inline]
    pub fn prefetch(&self, key: K) {
        let (word, _) = filter_bits(key.spread(self.seed), self.filter.len());
        crate::prefetch::line(self.filter.as_ptr().wrapping_add(word));
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True when the map holds nothing.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        std::mem::size_of_val(&*self.filter)
            + std::mem::size_of_val(&*self.starts)
            + std::mem::size_of_val(&*self.slots)
    }
}

impl<K: FrozenKey> Default for FrozenMap<K> {
    fn default() -> Self {
        Self::build(0, std::iter::empty())
    }
}

/// Filter words for `len` keys: 8 bits per key, at least one word.
fn filter_words(len: usize) -> usize {
    len.div_ceil(8).max(1)
}

/// The filter word of a hash among `words`, and the two bits a key with that hash sets in it.
/// The word comes from the hash's low 32 bits (multiply-shift), the bits from bits 40-51, and
/// the bucket ([`bucket`]) from the high bits of the whole hash.
#[inline(always)]
fn filter_bits(hash: u64, words: usize) -> (usize, u64) {
    let word = ((hash & 0xffff_ffff) * words as u64) >> 32;
    let bits = (1u64 << ((hash >> 40) & 63)) | (1u64 << ((hash >> 46) & 63));
    (word as usize, bits)
}

/// Bucket of a hash among `buckets` (multiply-shift: any count, no division).
#[inline(always)]
fn bucket(hash: u64, buckets: usize) -> usize {
    ((u128::from(hash) * buckets as u128) >> 64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_key_and_nothing_else() {
        for len in [0usize, 1, 2, 3, 7, 100, 10_007] {
            let keys: Vec<u32> = (0..len as u32)
                .map(|i| i.wrapping_mul(2_654_435_761))
                .collect();
            let map = FrozenMap::build(42, keys.iter().map(|&k| (k, k ^ 0x5555)));
            assert_eq!(map.len(), len);
            for &k in &keys {
                assert_eq!(map.get(k), Some(k ^ 0x5555));
            }
            for i in 0..1000u32 {
                let absent = i.wrapping_mul(2_654_435_761) ^ 0x8000_0001;
                if !keys.contains(&absent) {
                    assert_eq!(map.get(absent), None);
                }
            }
        }
    }

    #[test]
    fn wide_keys_and_memory_per_entry() {
        let keys: Vec<u128> = (0..50_000u128)
            .map(|i| (0x2001_0db8u128 << 96) | i)
            .collect();
        let map = FrozenMap::build(7, keys.iter().map(|&k| (k, 1)));
        assert!(keys.iter().all(|&k| map.get(k) == Some(1)));
        assert_eq!(map.get(1), None);
        let v4 = FrozenMap::build(7, (0..100_000u32).map(|k| (k, k)));
        // 10 bytes per IPv4 entry, plus its byte of filter.
        assert!(v4.heap_bytes() <= 100_000 * 11 + 16, "{}", v4.heap_bytes());
        // The filter turns most absent keys away: under 10 % pass it.
        let passed = (1_000_000..1_100_000u32)
            .filter(|&k| {
                let (word, bits) = filter_bits(k.spread(7), v4.filter.len());
                v4.filter[word] & bits == bits
            })
            .count();
        assert!(
            passed < 10_000,
            "{passed} of 100 000 absent keys passed the filter"
        );
    }

    #[test]
    fn crowded_bucket_still_found() {
        // Keys sharing every bit the bucket might use, but the hash is seeded: all found.
        let keys: Vec<u64> = (0..64u64).map(|i| i << 58).collect();
        let map = FrozenMap::build(0, keys.iter().map(|&k| (k, k as u32 + 1)));
        assert!(keys.iter().all(|&k| map.get(k) == Some(k as u32 + 1)));
    }
}
