//! Capture streams: standard input, a pipe (`tcpdump -w - | ioc-sensor -r -`). A thread reads
//! the stream in chunks; this side parses records with the same [`Parser`] as files, and
//! when no bytes have come for [`IDLE`] it says so (`on_idle`), so that packets already read
//! reach the workers and their alerts the output, however slowly the stream flows.
//!
//! Memory: at most four chunks in flight plus the bytes of one unfinished record, bounded by
//! [`MAX_PENDING`] (a block claiming more is damage).

use std::io::Read;
use std::ops::ControlFlow;
use std::time::Duration;

use crossbeam_channel::{bounded, RecvTimeoutError};

use super::parser::{Next, Parser};
use super::{Filter, RawPacket, ReadEnd};

/// Time without bytes after which the stream is idle.
pub const IDLE: Duration = Duration::from_millis(100);
/// Bytes read at a time.
const CHUNK: usize = 256 * 1024;
/// Most bytes held for one unfinished record (pcapng blocks may be large; packets are not).
pub const MAX_PENDING: usize = 16 * 1024 * 1024;

/// Read every packet of `source`.
pub fn read(
    mut source: Box<dyn Read + Send>,
    filter: &mut Filter,
    mut on_idle: impl FnMut() -> ControlFlow<()>,
    mut on_packet: impl FnMut(RawPacket<'_>) -> ControlFlow<()>,
) -> Result<ReadEnd, String> {
    let (tx, rx) = bounded::<std::io::Result<Vec<u8>>>(4);
    std::thread::Builder::new()
        .name("stream-reader".into())
        .spawn(move || loop {
            let mut chunk = vec![0u8; CHUNK];
            match source.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => {
                    chunk.truncate(n);
                    if tx.send(Ok(chunk)).is_err() {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = tx.send(Err(e));
                    break;
                }
            }
        })
        .map_err(|e| format!("cannot start the stream reader: {e}"))?;
    let mut parser = Parser::default();
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let mut start = 0;
        loop {
            match parser.next(&buf[start..]) {
                Next::Packet(packet, used) => {
                    start += used;
                    if filter.accepts(packet.linktype, packet.data, packet.wire_len)
                        && on_packet(packet).is_break()
                    {
                        return Ok(ReadEnd::Stopped);
                    }
                }
                Next::Skip(used) => start += used,
                Next::NeedMore => break,
                Next::Damaged(why) if !parser.started() => {
                    return Err(Parser::not_a_capture(buf.len(), Some(why)))
                }
                Next::Damaged(why) => return Ok(ReadEnd::CutShort(why)),
            }
        }
        buf.drain(..start);
        if buf.len() > MAX_PENDING {
            return Ok(ReadEnd::CutShort(format!(
                "a record claims more than {MAX_PENDING} bytes: the stream is damaged here"
            )));
        }
        match rx.recv_timeout(IDLE) {
            Ok(Ok(chunk)) => buf.extend_from_slice(&chunk),
            Ok(Err(e)) => return Ok(ReadEnd::CutShort(format!("read error: {e}"))),
            Err(RecvTimeoutError::Timeout) => {
                if on_idle().is_break() {
                    return Ok(ReadEnd::Stopped);
                }
            }
            Err(RecvTimeoutError::Disconnected) if !parser.started() => {
                return Err(Parser::not_a_capture(buf.len(), None))
            }
            Err(RecvTimeoutError::Disconnected) if buf.is_empty() => return Ok(ReadEnd::Complete),
            Err(RecvTimeoutError::Disconnected) => {
                return Ok(ReadEnd::CutShort(format!(
                    "stream ends inside a record ({} bytes left)",
                    buf.len()
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out its bytes in small pieces, pausing between them.
    struct Trickle(Vec<u8>, usize);
    impl Read for Trickle {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            if self.1 >= self.0.len() {
                return Ok(0);
            }
            if self.1 > 0 && self.1.is_multiple_of(40) {
                std::thread::sleep(IDLE * 2);
            }
            let n = 7.min(out.len()).min(self.0.len() - self.1);
            out[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
            self.1 += n;
            Ok(n)
        }
    }

    #[test]
    fn records_split_anywhere_arrive_whole_and_idle_is_reported() {
        let mut f = vec![
            0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0,
            0,
        ];
        for len in [60usize, 70, 80] {
            f.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0]);
            f.extend_from_slice(&(len as u32).to_le_bytes());
            f.extend_from_slice(&(len as u32).to_le_bytes());
            f.extend(std::iter::repeat_n(0xAB, len));
        }
        let mut lens = Vec::new();
        let mut idles = 0;
        let end = read(
            Box::new(Trickle(f.clone(), 0)),
            &mut Filter::none(),
            || {
                idles += 1;
                ControlFlow::Continue(())
            },
            |p| {
                lens.push(p.data.len());
                ControlFlow::Continue(())
            },
        )
        .unwrap();
        assert_eq!(lens, [60, 70, 80]);
        assert_eq!(end, ReadEnd::Complete);
        assert!(idles > 0, "pauses are reported");
        let end = read(
            Box::new(Trickle(f[..f.len() - 5].to_vec(), 0)),
            &mut Filter::none(),
            || ControlFlow::Continue(()),
            |_| ControlFlow::Continue(()),
        )
        .unwrap();
        assert!(matches!(end, ReadEnd::CutShort(_)));
    }
}
