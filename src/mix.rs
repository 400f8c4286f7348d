//! The mixing step shared by the project's hand-written hashes (name labels, frozen-table
//! keys, the flow dispatch hash, the flow table): the 64×64→128-bit product of two words,
//! folded to 64 bits by XOR of its halves, as in wyhash and foldhash; and the random seeds
//! those of them that must resist chosen keys start from.

use std::hash::BuildHasher;

/// `a × b` as 128 bits, high half XOR low half.
#[inline(always)]
pub fn fold_mul(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    (r as u64) ^ ((r >> 64) as u64)
}

/// Two fresh random words from the process's random source (foldhash's per-instance random
/// state), the second odd so that it can serve as a multiplier.
pub fn random_seed() -> [u64; 2] {
    let random = foldhash::fast::RandomState::default();
    [
        random.hash_one(0x5eed_u64),
        random.hash_one(0x5eed_u64 + 1) | 1,
    ]
}

/// A small deterministic random source for tests (xorshift64).
#[cfg(test)]
pub(crate) struct TestRng(pub u64);

#[cfg(test)]
impl TestRng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A random number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
