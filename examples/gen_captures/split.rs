//! `split`: one of the generator's pcap files cut into files of a few packets each, for the
//! benchmark of a directory of many small captures (`scripts/bench-dir.sh`). Reads only what
//! [`super::pcapfile`] writes (little-endian pcap, microseconds, Ethernet) and says so for
//! anything else.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read};
use std::path::Path;

use crate::pcapfile::PcapWriter;

/// Largest record the generator writes (its snap length).
const MAX_RECORD: usize = 262_144;

/// Split `input` into `out_dir/part-NNNNNNNN.pcap` files (eight digits: names sort in
/// packet order up to 10^8 parts) of `per_file` packets each (the last
/// may hold fewer). Returns (packets, bytes written).
pub fn write(input: &Path, per_file: u64, out_dir: &Path) -> io::Result<(u64, u64)> {
    let mut reader = BufReader::with_capacity(1 << 20, File::open(input)?);
    let mut header = [0u8; 24];
    reader.read_exact(&mut header)?;
    if header[0..4] != 0xA1B2_C3D4u32.to_le_bytes() || header[20..24] != 1u32.to_le_bytes() {
        return Err(io::Error::other(
            "not a little-endian microsecond Ethernet pcap, as this generator writes",
        ));
    }
    std::fs::create_dir_all(out_dir)?;
    let (mut packets, mut bytes, mut part) = (0u64, 0u64, 0u64);
    let mut out: Option<PcapWriter<BufWriter<File>>> = None;
    let mut frame = vec![0u8; MAX_RECORD];
    loop {
        let mut record = [0u8; 16];
        match reader.read_exact(&mut record) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e),
        }
        let field = |at: usize| u32::from_le_bytes(record[at..at + 4].try_into().unwrap());
        let len = field(8) as usize;
        if len > MAX_RECORD {
            return Err(io::Error::other(format!("record {packets}: {len} bytes")));
        }
        reader.read_exact(&mut frame[..len])?;
        if packets % per_file == 0 {
            if let Some(done) = out.take() {
                bytes += close(done)?;
            }
            let path = out_dir.join(format!("part-{part:08}.pcap"));
            out = Some(PcapWriter::create(&path)?);
            part += 1;
        }
        let ts_us = u64::from(field(0)) * 1_000_000 + u64::from(field(4));
        if let Some(w) = out.as_mut() {
            w.write(ts_us, &frame[..len])?;
        }
        packets += 1;
    }
    if let Some(done) = out.take() {
        bytes += close(done)?;
    }
    Ok((packets, bytes))
}

/// Flush a finished part; its size.
fn close(part: PcapWriter<BufWriter<File>>) -> io::Result<u64> {
    let size = part.file_bytes;
    part.finish()?;
    Ok(size)
}
