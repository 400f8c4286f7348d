//! A pcap (not pcapng) writer: the 24-byte file header, then a 16-byte record header before
//! every frame. Little-endian, microsecond timestamps, Ethernet link type. Hand-written
//! rather than through libpcap so that writing costs nothing but a buffered copy.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// LINKTYPE_ETHERNET.
const LINKTYPE_ETHERNET: u32 = 1;
/// What tcpdump writes by default.
const SNAPLEN: u32 = 262_144;

pub struct PcapWriter<W: Write> {
    out: W,
    /// Frames written.
    pub packets: u64,
    /// Bytes written to the file, headers included.
    pub file_bytes: u64,
}

impl PcapWriter<BufWriter<File>> {
    pub fn create(path: &Path) -> io::Result<Self> {
        let file = File::create(path)?;
        PcapWriter::new(BufWriter::with_capacity(1 << 22, file))
    }
}

impl<W: Write> PcapWriter<W> {
    pub fn new(mut out: W) -> io::Result<Self> {
        let mut header = [0u8; 24];
        header[0..4].copy_from_slice(&0xA1B2_C3D4u32.to_le_bytes());
        header[4..6].copy_from_slice(&2u16.to_le_bytes());
        header[6..8].copy_from_slice(&4u16.to_le_bytes());
        // thiszone and sigfigs stay 0.
        header[16..20].copy_from_slice(&SNAPLEN.to_le_bytes());
        header[20..24].copy_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
        out.write_all(&header)?;
        Ok(PcapWriter {
            out,
            packets: 0,
            file_bytes: 24,
        })
    }

    /// One frame, captured whole, at `ts_us` microseconds since the Unix epoch.
    pub fn write(&mut self, ts_us: u64, frame: &[u8]) -> io::Result<()> {
        let len = frame.len() as u32;
        let mut rec = [0u8; 16];
        rec[0..4].copy_from_slice(&((ts_us / 1_000_000) as u32).to_le_bytes());
        rec[4..8].copy_from_slice(&((ts_us % 1_000_000) as u32).to_le_bytes());
        rec[8..12].copy_from_slice(&len.to_le_bytes());
        rec[12..16].copy_from_slice(&len.to_le_bytes());
        self.out.write_all(&rec)?;
        self.out.write_all(frame)?;
        self.packets += 1;
        self.file_bytes += 16 + u64::from(len);
        Ok(())
    }

    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}
