//! The mixing step shared by the project's hand-written hashes (name labels, frozen-table
//! keys, the flow dispatch hash): the 64×64→128-bit product of two words, folded to 64 bits
//! by XOR of its halves, as in wyhash and foldhash.

/// `a × b` as 128 bits, high half XOR low half.
#[inline(always)]
pub fn fold_mul(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    (r as u64) ^ ((r >> 64) as u64)
}
