//! Hints to the memory system: ask for a cache line some time before it is read, where the
//! address is known early but no hardware prefetcher can guess it (the next records of a
//! capture file, a flow table's slot). On x86-64 a `prefetcht0`; elsewhere nothing (the hint is
//! only ever a speed-up: nothing depends on it).

/// Ask for the cache line at `address` (any address: a hint never faults, so the pointer
/// need not point into anything).
#[inline(always)]
pub fn line<T>(address: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint that never faults, whatever the address.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(address.cast());
    }
    let _ = address;
}

/// Ask for every line of `value`: each cache line it touches, once.
#[inline(always)]
pub fn all<T>(value: &T) {
    const LINE: usize = 64;
    let start = value as *const T as usize;
    let size = std::mem::size_of::<T>().max(1);
    let first = start & !(LINE - 1);
    let last = (start + size - 1) & !(LINE - 1);
    for address in (first..=last).step_by(LINE) {
        line(address as *const u8);
    }
}
