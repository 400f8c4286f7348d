//! Batches: the unit of work between the capture thread and a worker. A batch owns one
//! buffer of packet bytes and one table of packet records; both are reused (the worker sends
//! the emptied batch back), so steady-state capture allocates nothing per packet.
//!
//! Packets of a memory-mapped capture file are not copied: their record points into the map,
//! which the batch holds a reference to (one batch, one map). Only packets that exist nowhere
//! else (live capture, standard input, reassembled fragments) are copied into the buffer.

use crate::capture::SharedMap;

/// Packets per batch: amortises channel costs (~100 ns a send) over many packets while
/// keeping a batch's latency small on a live link.
pub const BATCH_PACKETS: usize = 256;
/// Bytes per batch buffer.
pub const BATCH_BYTES: usize = 512 * 1024;

/// One packet in a batch.
#[derive(Debug, Clone, Copy)]
pub struct BatchPacket {
    /// Packet time.
    pub ts_us: i64,
    /// Offset of its bytes in [`Batch::data`], or in the map when `in_map`.
    pub offset: u64,
    /// Captured length.
    pub len: u32,
    /// Link type.
    pub linktype: i32,
    /// Index of the input file (into the run's file list).
    pub file: u32,
    /// The bytes are in the batch's map, not in its buffer.
    pub in_map: bool,
}

/// A batch of packets for one worker.
#[derive(Debug)]
pub struct Batch {
    /// Packet bytes, back to back.
    pub data: Vec<u8>,
    /// Packet records.
    pub packets: Vec<BatchPacket>,
    /// The capture file map that packets with `in_map` point into.
    map: Option<SharedMap>,
}

impl Default for Batch {
    fn default() -> Self {
        Batch {
            data: Vec::with_capacity(BATCH_BYTES),
            packets: Vec::with_capacity(BATCH_PACKETS),
            map: None,
        }
    }
}

impl Batch {
    /// True when the next packet of `len` bytes should go into a fresh batch.
    #[inline]
    pub fn is_full_for(&self, len: usize) -> bool {
        self.packets.len() >= BATCH_PACKETS
            || (!self.packets.is_empty() && self.data.len() + len > BATCH_BYTES)
    }

    /// Append a packet (copies its bytes).
    #[inline]
    pub fn push(&mut self, ts_us: i64, linktype: i32, file: u32, bytes: &[u8]) {
        let offset = self.data.len() as u64;
        self.data.extend_from_slice(bytes);
        self.packets.push(BatchPacket {
            ts_us,
            offset,
            len: bytes.len() as u32,
            linktype,
            file,
            in_map: false,
        });
    }

    /// True when a packet of `map` can go into this batch (it holds no other map).
    #[inline]
    pub fn can_point_into(&self, map: &SharedMap) -> bool {
        self.map
            .as_ref()
            .is_none_or(|held| std::sync::Arc::ptr_eq(held, map))
    }

    /// Append a packet that lies in `map` at `offset` (no copy). The caller checked
    /// [`Batch::can_point_into`].
    #[inline]
    pub fn push_mapped(
        &mut self,
        ts_us: i64,
        linktype: i32,
        file: u32,
        map: &SharedMap,
        offset: usize,
        len: usize,
    ) {
        if self.map.is_none() {
            self.map = Some(std::sync::Arc::clone(map));
        }
        self.packets.push(BatchPacket {
            ts_us,
            offset: offset as u64,
            len: len as u32,
            linktype,
            file,
            in_map: true,
        });
    }

    /// The bytes of a packet.
    #[inline]
    pub fn bytes(&self, p: &BatchPacket) -> &[u8] {
        let source: &[u8] = if p.in_map {
            self.map.as_deref().map_or(&[], |map| &map[..])
        } else {
            &self.data
        };
        let start = p.offset as usize;
        source.get(start..start + p.len as usize).unwrap_or(&[])
    }

    /// Empty the batch, keeping its buffers (and letting go of its map).
    pub fn clear(&mut self) {
        self.data.clear();
        self.packets.clear();
        self.map = None;
    }

    /// True when the batch holds no packet.
    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn map_of(bytes: &[u8]) -> SharedMap {
        let mut m = memmap2::MmapOptions::new()
            .len(bytes.len())
            .map_anon()
            .unwrap();
        m.copy_from_slice(bytes);
        Arc::new(m.make_read_only().unwrap())
    }

    #[test]
    fn mapped_and_copied_packets_side_by_side() {
        let map = map_of(b"0123456789abcdef");
        let other = map_of(b"zzzz");
        let mut batch = Batch::default();
        batch.push(1, 1, 0, b"copied");
        assert!(batch.can_point_into(&map));
        batch.push_mapped(2, 1, 0, &map, 10, 6);
        batch.push(3, 1, 0, b"again");
        batch.push_mapped(4, 1, 0, &map, 0, 4);
        let got: Vec<&[u8]> = batch.packets.iter().map(|p| batch.bytes(p)).collect();
        assert_eq!(got, [&b"copied"[..], b"abcdef", b"again", b"0123"]);
        // Only copies take buffer space; one batch holds one map.
        assert_eq!(batch.data.len(), 11);
        assert!(!batch.can_point_into(&other));
        assert_eq!(Arc::strong_count(&map), 2);
        batch.clear();
        assert_eq!(
            Arc::strong_count(&map),
            1,
            "an emptied batch lets go of the map"
        );
        assert!(batch.can_point_into(&other));
    }
}
