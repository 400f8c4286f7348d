# Sourced by the benchmark scripts: puts capture files in the page cache as reading them from
# disk does, so that every run reads from memory and finds them there in the same state.
#
# How a file sits in the page cache changes what reading it through a map costs. Where the
# file system caches files read from disk in large folios (ext4 on the Linux 6.18 we measure
# on: 97 % of a 1 GB file in 2 MB folios), a map covers each 2 MB folio with one page-table
# entry; a file just written (by the generator, or a copy) sits in 4 KB pages, each mapped
# and given back one by one. Replaying the 1 GB mix with one worker took 0.06 to 0.10 s of
# kernel time from 4 KB pages, 0.02 to 0.04 s from 2 MB folios (tcpdump, which copies with
# read(), 0.26 to 0.32 s either way). A capture a user replays was read from disk, so the
# benchmarks start from that state. Limits: older kernels and other file systems may cache in
# 4 KB pages either way, and on tmpfs the drop does nothing (the file is its cache).

# cache_as_from_disk FILE...: each file dropped from the page cache, then read back.
cache_as_from_disk() {
  sync -- "$@" # pages not yet written cannot be dropped
  local file
  for file in "$@"; do
    dd if="$file" iflag=nocache count=0 status=none # drop the file's cached pages
  done
  cat -- "$@" >/dev/null
}
