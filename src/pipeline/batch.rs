//! Batches: the unit of work between the capture thread and a worker. A batch owns one
//! buffer of packet bytes and one table of packet records; both are reused (the worker sends
//! the emptied batch back), so steady-state capture allocates nothing per packet.

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
    /// Offset of its bytes in [`Batch::data`].
    pub offset: u32,
    /// Captured length.
    pub len: u32,
    /// Link type.
    pub linktype: i32,
    /// Index of the input file (into the run's file list).
    pub file: u32,
}

/// A batch of packets for one worker.
#[derive(Debug)]
pub struct Batch {
    /// Packet bytes, back to back.
    pub data: Vec<u8>,
    /// Packet records.
    pub packets: Vec<BatchPacket>,
}

impl Default for Batch {
    fn default() -> Self {
        Batch {
            data: Vec::with_capacity(BATCH_BYTES),
            packets: Vec::with_capacity(BATCH_PACKETS),
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
        let offset = self.data.len() as u32;
        self.data.extend_from_slice(bytes);
        self.packets.push(BatchPacket {
            ts_us,
            offset,
            len: bytes.len() as u32,
            linktype,
            file,
        });
    }

    /// The bytes of a packet.
    #[inline]
    pub fn bytes(&self, p: &BatchPacket) -> &[u8] {
        &self.data[p.offset as usize..(p.offset + p.len) as usize]
    }

    /// Empty the batch, keeping its buffers.
    pub fn clear(&mut self) {
        self.data.clear();
        self.packets.clear();
    }

    /// True when the batch holds no packet.
    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }
}
