//! Large tables on huge pages: a hint to the kernel that a vector's memory be backed by 2 MB
//! pages (transparent huge pages in `madvise` mode, the default of most distributions), so
//! that random reads across a table of many megabytes (a large indicator set, a full flow
//! table) miss the TLB less often. Without transparent huge pages, or below 4 MB, nothing
//! changes.

/// Smallest allocation worth the hint.
const HUGE_FROM: usize = 4 << 20;

/// An empty vector with room for `len` items, on huge pages when that is 4 MB or more.
pub fn vec_with_capacity<T>(len: usize) -> Vec<T> {
    let v: Vec<T> = Vec::with_capacity(len);
    advise(&v);
    v
}

/// Push `item` onto `v`, which, when full, first moves into an allocation twice as large (64
/// items at least), on huge pages once that is 4 MB or more (asked for before the items move
/// in): a table read at random, whose items would otherwise sit on 4 KB pages that the TLB
/// covers little of.
pub fn push_doubling<T>(v: &mut Vec<T>, item: T) {
    if v.len() == v.capacity() {
        let mut grown = vec_with_capacity((2 * v.len()).max(64));
        grown.append(v);
        *v = grown;
    }
    v.push(item);
}

/// Ask for huge pages behind the whole of `v`'s allocation (its capacity), when it is 4 MB or
/// more. Only pages not yet touched get them.
fn advise<T>(v: &Vec<T>) {
    let bytes = v.capacity() * std::mem::size_of::<T>();
    #[cfg(target_os = "linux")]
    if bytes >= HUGE_FROM {
        const HUGE: usize = 2 << 20;
        let start = (v.as_ptr() as usize).next_multiple_of(HUGE);
        let end = (v.as_ptr() as usize + bytes) & !(HUGE - 1);
        if end > start {
            // SAFETY: the range lies inside the vector's own allocation; MADV_HUGEPAGE only
            // changes how the kernel backs those pages, never their contents.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
            }
        }
    }
    let _ = bytes;
}
