//! Capture files made in memory for tests: classic pcap records and pcapng blocks.

/// A classic pcap file (little-endian, microseconds, Ethernet) of `records`, one second apart
/// from 1 700 000 000.
pub(crate) fn pcap_with_records(records: &[&[u8]]) -> Vec<u8> {
    let mut f = vec![
        0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0,
    ];
    for (i, r) in records.iter().enumerate() {
        f.extend_from_slice(&(1_700_000_000u32 + i as u32).to_le_bytes());
        f.extend_from_slice(&7u32.to_le_bytes());
        f.extend_from_slice(&(r.len() as u32).to_le_bytes());
        f.extend_from_slice(&(r.len() as u32).to_le_bytes());
        f.extend_from_slice(r);
    }
    f
}

/// `n` in the given byte order.
pub(crate) fn u32_bytes(n: u32, big_endian: bool) -> [u8; 4] {
    if big_endian {
        n.to_be_bytes()
    } else {
        n.to_le_bytes()
    }
}

/// A pcapng block of `block_type` holding `body`, with `length` as its length fields
/// (`None`: its true length).
pub(crate) fn block(
    block_type: u32,
    body: &[u8],
    length: Option<u32>,
    big_endian: bool,
) -> Vec<u8> {
    let length = length.unwrap_or(12 + body.len() as u32);
    let mut out = Vec::from(u32_bytes(block_type, big_endian));
    out.extend(u32_bytes(length, big_endian));
    out.extend(body);
    out.extend(u32_bytes(length, big_endian));
    out
}

/// A pcapng section header of the given byte order with nothing after it.
pub(crate) fn section_header(big_endian: bool) -> Vec<u8> {
    let u32_bytes = |n: u32| u32_bytes(n, big_endian);
    let mut shb = vec![0x0a, 0x0d, 0x0d, 0x0a];
    shb.extend(u32_bytes(28));
    shb.extend(u32_bytes(0x1a2b_3c4d));
    shb.extend(if big_endian {
        [0, 1, 0, 0]
    } else {
        [1, 0, 0, 0]
    });
    shb.extend([0xff; 8]);
    shb.extend(u32_bytes(28));
    shb
}

/// A pcapng interface description of `linktype`, microseconds, no options.
pub(crate) fn interface_description(linktype: u16, big_endian: bool) -> Vec<u8> {
    let mut body = Vec::from(match big_endian {
        true => linktype.to_be_bytes(),
        false => linktype.to_le_bytes(),
    });
    body.extend([0, 0]);
    body.extend(u32_bytes(65535, big_endian));
    block(1, &body, None, big_endian)
}

/// A pcapng enhanced packet block of `frame` on interface `if_id` at `ts_us` (microseconds),
/// padded, without options.
pub(crate) fn enhanced_packet(if_id: u32, ts_us: u64, frame: &[u8], big_endian: bool) -> Vec<u8> {
    let mut body = Vec::new();
    let len = frame.len() as u32;
    for field in [if_id, (ts_us >> 32) as u32, ts_us as u32, len, len] {
        body.extend(u32_bytes(field, big_endian));
    }
    body.extend(frame);
    body.resize(body.len().next_multiple_of(4), 0);
    block(6, &body, None, big_endian)
}
