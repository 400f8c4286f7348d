//! The flow table's index: the slab position of each flow by its key's hash, in one array of
//! 8-byte slots (the hash's high 32 bits and the position), probed linearly from the slot the
//! hash names. A lookup reads a run of adjacent slots before the flow itself: about 1.5 slots
//! for a flow that is there and 2.5 for one that is not, at the highest load (1/2), so one
//! cache line, rarely two. hashbrown's table reads a control group and then a bucket
//! in a second array: two dependent misses on a flood whose flows push the index out of the
//! cache.
//!
//! The caller confirms a candidate by comparing the flow's key (32 bits of hash are a filter,
//! not an identity). Removal shifts the slots after the removed one back (no tombstones), so
//! probes stay as short as the load allows. The array doubles when more than half full, from
//! the stored 32 bits alone: at 4/5, as it was, a flood's new flows (each probed for up to
//! three times before it is inserted) walked about 13 slots per probe, 6 % of the flood's
//! instructions; the room costs 8 to 16 bytes per flow more. The hash is the flow table's
//! ([`super::FlowKey::table_hash`]), seeded at random per table, so keys cannot be chosen to
//! share a home slot. Limits: positions up to 2^32 - 2; past 2^32 slots the homes cluster in
//! the first 2^32 (still correct).

/// An empty slot.
const EMPTY: u64 = 0;

/// Slab positions by key hash.
#[derive(Default)]
pub struct SlotIndex {
    /// `tag << 32 | (position + 1)`, or [`EMPTY`].
    slots: Vec<u64>,
    len: usize,
}

/// The high half of a hash: where it is probed from, and what a slot keeps of it.
#[inline(always)]
fn tag_of(hash: u64) -> u64 {
    hash >> 32
}

/// The slot that holds `position` under `hash`.
#[inline(always)]
fn slot_for(hash: u64, position: u32) -> u64 {
    (tag_of(hash) << 32) | u64::from(position.wrapping_add(1))
}

/// The position a filled slot holds.
#[inline(always)]
fn position_in(slot: u64) -> u32 {
    (slot as u32).wrapping_sub(1)
}

impl SlotIndex {
    /// Positions held.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no position is held.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline(always)]
    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    /// The first position under `hash` for which `is` holds.
    #[inline]
    pub fn find(&self, hash: u64, mut is: impl FnMut(u32) -> bool) -> Option<u32> {
        let tag = tag_of(hash);
        let at = self.probe(hash, |slot| slot >> 32 == tag && is(position_in(slot)))?;
        Some(position_in(self.slots[at]))
    }

    /// Where `hit` first holds in the run of filled slots that starts at `hash`'s home.
    #[inline(always)]
    fn probe(&self, hash: u64, mut hit: impl FnMut(u64) -> bool) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.mask();
        let mut at = tag_of(hash) as usize & mask;
        loop {
            match self.slots[at] {
                EMPTY => return None,
                slot if hit(slot) => return Some(at),
                _ => at = (at + 1) & mask,
            }
        }
    }

    /// Ask for the index line a lookup of `hash` reads first, ahead of the lookup.
    #[inline(always)]
    pub fn prefetch(&self, hash: u64) {
        if let Some(slot) = self.slots.get(tag_of(hash) as usize & self.mask()) {
            crate::prefetch::line(slot);
        }
    }

    /// The first position whose slot carries `hash`'s tag: most likely the one a lookup of
    /// `hash` finds (32 bits of hash; the caller does not rely on it).
    #[inline(always)]
    pub fn likely(&self, hash: u64) -> Option<u32> {
        let tag = tag_of(hash);
        let at = self.probe(hash, |slot| slot >> 32 == tag)?;
        Some(position_in(self.slots[at]))
    }

    /// Add `position` under `hash` (not there yet).
    pub fn insert(&mut self, hash: u64, position: u32) {
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        self.place(slot_for(hash, position));
        self.len += 1;
    }

    fn place(&mut self, slot: u64) {
        let mask = self.mask();
        let mut at = (slot >> 32) as usize & mask;
        while self.slots[at] != EMPTY {
            at = (at + 1) & mask;
        }
        self.slots[at] = slot;
    }

    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(16);
        let old = std::mem::replace(&mut self.slots, vec![EMPTY; size]);
        for slot in old.into_iter().filter(|&s| s != EMPTY) {
            self.place(slot);
        }
    }

    /// The slot holding `position` under `hash`.
    fn slot_of(&self, hash: u64, position: u32) -> Option<usize> {
        let want = slot_for(hash, position);
        self.probe(hash, |slot| slot == want)
    }

    /// Remove `position` under `hash`; false when it is not there.
    pub fn remove(&mut self, hash: u64, position: u32) -> bool {
        let Some(mut hole) = self.slot_of(hash, position) else {
            return false;
        };
        let mask = self.mask();
        // Shift back each following slot that may move to the hole: one whose home is not
        // (cyclically) after the hole and at or before its own place.
        let mut next = (hole + 1) & mask;
        while self.slots[next] != EMPTY {
            let home = (self.slots[next] >> 32) as usize & mask;
            let distance_to_next = next.wrapping_sub(home) & mask;
            let distance_to_hole = hole.wrapping_sub(home) & mask;
            if distance_to_hole <= distance_to_next {
                self.slots[hole] = self.slots[next];
                hole = next;
            }
            next = (next + 1) & mask;
        }
        self.slots[hole] = EMPTY;
        self.len -= 1;
        true
    }

    /// `position` under `hash` now stands at `new_position`; false when it is not there.
    pub fn moved(&mut self, hash: u64, position: u32, new_position: u32) -> bool {
        match self.slot_of(hash, position) {
            Some(at) => {
                self.slots[at] = slot_for(hash, new_position);
                true
            }
            None => false,
        }
    }

    /// Remove everything (the array is kept).
    pub fn clear(&mut self) {
        self.slots.fill(EMPTY);
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Random inserts, removals and moves against a map, with hashes crowded into few tags
    /// at the top of the range so that probe runs are long and wrap around the array's end.
    #[test]
    fn agrees_with_a_map_through_removals_and_moves() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for tag_bits in [3u32, 32] {
            // Few tags crowd every key into one run of slots: fewer keys, or the test crawls.
            let max_len = if tag_bits < 32 { 300 } else { 3_000 };
            let mut index = SlotIndex::default();
            let mut model: HashMap<u32, u64> = HashMap::new();
            let mut next_position = 0u32;
            for round in 0..20_000 {
                let r = next();
                // With few tag bits the tags are the highest ones, so every home is among the
                // last slots and each run wraps past the array's end.
                let hash_of = |r: u64| {
                    let low_bits = (r >> 32) & ((1u64 << tag_bits) - 1);
                    (0xffff_ffff - low_bits) << 32 | (r & 0xffff)
                };
                match r % 3 {
                    0 | 1 if model.len() < max_len => {
                        let hash = hash_of(next());
                        index.insert(hash, next_position);
                        model.insert(next_position, hash);
                        next_position += 1;
                    }
                    _ if !model.is_empty() => {
                        let (&position, &hash) =
                            model.iter().nth((r >> 8) as usize % model.len()).unwrap();
                        if round % 2 == 0 {
                            assert!(index.remove(hash, position));
                            assert_eq!(index.find(hash, |p| p == position), None, "removed");
                            model.remove(&position);
                        } else {
                            let new_position = next_position;
                            next_position += 1;
                            assert!(index.moved(hash, position, new_position));
                            model.remove(&position);
                            model.insert(new_position, hash);
                        }
                    }
                    _ => {}
                }
                if round % 500 == 0 {
                    assert_eq!(index.len(), model.len());
                    let filled = index.slots.iter().filter(|&&slot| slot != EMPTY).count();
                    assert_eq!(filled, index.len(), "one filled slot per position");
                    for (&position, &hash) in &model {
                        assert_eq!(index.find(hash, |p| p == position), Some(position));
                    }
                    assert_eq!(index.find(hash_of(next()), |p| p == u32::MAX - 1), None);
                }
            }
            index.clear();
            assert!(index.is_empty());
            assert_eq!(index.find(0, |_| true), None);
        }
    }
}
