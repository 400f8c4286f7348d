//! Helpers for the end-to-end tests: run the built binary, validate every EVE line it writes
//! against Suricata's schema, and read the shared corpus.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

/// The shared folder beside the repository (corpus, feeds, EVE schema).
pub fn shared() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared");
    assert!(
        dir.join("corpus").is_dir(),
        "{} not found: the tests need ../shared beside the repository",
        dir.display()
    );
    dir
}

/// The corpus folder.
pub fn corpus() -> PathBuf {
    shared().join("corpus")
}

/// A capture of the corpus by file name.
pub fn capture(name: &str) -> PathBuf {
    corpus().join(name)
}

/// Every capture in the corpus with its expected.json, sorted by name.
pub fn corpus_captures() -> Vec<(PathBuf, Value)> {
    let mut out = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if let Some(stem) = name.strip_suffix(".expected.json") {
            let cap = ["pcap", "pcapng"]
                .iter()
                .map(|ext| corpus().join(format!("{stem}.{ext}")))
                .find(|p| p.exists());
            let expected: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            out.push((cap.expect("capture beside expected.json"), expected));
        }
    }
    out
}

/// What a run of the sensor produced.
pub struct Run {
    /// Exit status code.
    pub code: i32,
    /// EVE records from stdout (each validated against the schema).
    pub records: Vec<Value>,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// Alert records.
    pub fn alerts(&self) -> Vec<&Value> {
        self.records
            .iter()
            .filter(|r| r["event_type"] == "alert")
            .collect()
    }
}

fn schema() -> &'static jsonschema::Validator {
    static SCHEMA: OnceLock<jsonschema::Validator> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let schema: Value =
            serde_json::from_slice(&std::fs::read(shared().join("eve-schema.json")).unwrap())
                .unwrap();
        jsonschema::validator_for(&schema).expect("EVE schema compiles")
    })
}

/// The whole lines of an EVE file that is still being written: a reader can see part of the
/// write in progress, so the text after the last newline is left out.
pub fn whole_lines(text: &str) -> &str {
    &text[..text.rfind('\n').map_or(0, |i| i + 1)]
}

/// Parse EVE lines, asserting that each is valid JSON and valid against the EVE schema.
pub fn parse_eve(text: &str) -> Vec<Value> {
    text.lines()
        .map(|line| {
            let v: Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            if let Err(e) = schema().validate(&v) {
                panic!("EVE line not valid against the schema: {e}\n{line}");
            }
            v
        })
        .collect()
}

/// Run the sensor with `args` (and optional stdin bytes).
pub fn run(args: &[&str]) -> Run {
    run_with_stdin(args, None)
}

/// Run the sensor, feeding `stdin`.
pub fn run_with_stdin(args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ioc-sensor"));
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = cmd.spawn().expect("run ioc-sensor");
    if let Some(bytes) = stdin {
        use std::io::Write;
        let mut pipe = child.stdin.take().unwrap();
        let bytes = bytes.to_vec();
        std::thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        });
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8(out.stdout).expect("EVE output is UTF-8");
    Run {
        code: out.status.code().unwrap_or(-1),
        records: parse_eve(&stdout),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

/// Write a feed file into `dir` and return its path.
pub fn feed(dir: &Path, name: &str, lines: &[&str]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

/// `alert.context.indicator` and `alert.signature_id` of every alert, sorted.
pub fn alert_keys(run: &Run) -> Vec<(String, u64)> {
    let mut keys: Vec<(String, u64)> = run
        .alerts()
        .iter()
        .map(|a| {
            (
                a["alert"]["context"]["indicator"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                a["alert"]["signature_id"].as_u64().unwrap(),
            )
        })
        .collect();
    keys.sort();
    keys
}

/// Undo the sensor's escaping of wire bytes (`\xNN`, `\\`).
pub fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') && i + 3 < b.len() + 1 {
            let hex = std::str::from_utf8(&b[i + 2..(i + 4).min(b.len())]).unwrap_or("");
            match u8::from_str_radix(hex, 16) {
                Ok(v) => {
                    out.push(v);
                    i += 4;
                }
                Err(_) => {
                    out.push(b[i]);
                    i += 1;
                }
            }
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// A classic pcap file (Ethernet, microsecond times) holding `frames` as (time µs, bytes).
pub fn pcap_of(frames: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&[2, 0, 4, 0]);
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    for (ts_us, frame) in frames {
        out.extend_from_slice(&((ts_us / 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&((ts_us % 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(frame);
    }
    out
}

/// Where [`pcapng_of`] changes how the packet blocks after read.
#[derive(Default, Clone, Copy)]
pub struct PcapngChanges {
    /// The first section big-endian (as written on a big-endian machine).
    pub big_endian: bool,
    /// Before this frame, a second Ethernet interface counting nanoseconds, which this frame
    /// and the ones after are captured on.
    pub new_interface_at: Option<usize>,
    /// Before this frame, a new section, big-endian, with one Ethernet interface counting
    /// microseconds.
    pub new_section_at: Option<usize>,
}

/// A pcapng file holding `frames` as (time µs, bytes): a little-endian section with one
/// Ethernet interface counting microseconds, then an enhanced packet block per frame; with
/// `changes`, the first section big-endian, or an interface or a section added on the way.
pub fn pcapng_of(frames: &[(u64, Vec<u8>)], changes: PcapngChanges) -> Vec<u8> {
    let mut big_endian = changes.big_endian;
    let u32_bytes = |n: u32, big_endian: bool| match big_endian {
        true => n.to_be_bytes(),
        false => n.to_le_bytes(),
    };
    let block = |out: &mut Vec<u8>, kind: u32, body: &[u8], big_endian: bool| {
        let length = 12 + body.len() as u32;
        out.extend(u32_bytes(kind, big_endian));
        out.extend(u32_bytes(length, big_endian));
        out.extend(body);
        out.extend(u32_bytes(length, big_endian));
    };
    let section = |out: &mut Vec<u8>, big_endian: bool| {
        let mut body = Vec::from(u32_bytes(0x1a2b_3c4d, big_endian));
        body.extend(if big_endian {
            [0, 1, 0, 0]
        } else {
            [1, 0, 0, 0]
        });
        body.extend([0xff; 8]); // section length unknown
        block(out, 0x0a0d_0d0a, &body, big_endian);
    };
    // Ethernet, snap length 65535; with `nanos`, the if_tsresol option (9: 10^-9 s).
    let interface = |out: &mut Vec<u8>, nanos: bool, big_endian: bool| {
        let mut body = Vec::from(match big_endian {
            true => 1u16.to_be_bytes(),
            false => 1u16.to_le_bytes(),
        });
        body.extend([0, 0]);
        body.extend(u32_bytes(65535, big_endian));
        if nanos {
            let (code, len) = match big_endian {
                true => (9u16.to_be_bytes(), 1u16.to_be_bytes()),
                false => (9u16.to_le_bytes(), 1u16.to_le_bytes()),
            };
            body.extend(code.into_iter().chain(len).chain([9, 0, 0, 0]));
            body.extend([0; 4]); // end of options
        }
        block(out, 1, &body, big_endian);
    };
    let mut out = Vec::new();
    section(&mut out, big_endian);
    interface(&mut out, false, big_endian);
    let (mut if_id, mut nanos) = (0u32, false);
    for (i, (ts_us, frame)) in frames.iter().enumerate() {
        if changes.new_interface_at == Some(i) {
            interface(&mut out, true, big_endian);
            (if_id, nanos) = (if_id + 1, true);
        }
        if changes.new_section_at == Some(i) {
            big_endian = true;
            section(&mut out, big_endian);
            interface(&mut out, false, big_endian);
            (if_id, nanos) = (0, false);
        }
        let units = if nanos { ts_us * 1_000 } else { *ts_us };
        let len = frame.len() as u32;
        let mut body = Vec::new();
        for field in [if_id, (units >> 32) as u32, units as u32, len, len] {
            body.extend(u32_bytes(field, big_endian));
        }
        body.extend(frame);
        body.resize(body.len().next_multiple_of(4), 0);
        block(&mut out, 6, &body, big_endian);
    }
    out
}

/// An Ethernet frame carrying a DNS query (type A) for `name` from 10.0.0.1:`src_port` to
/// 192.0.2.53:53.
pub fn dns_query_frame(src_port: u16, name: &str) -> Vec<u8> {
    let mut dns = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        dns.push(label.len() as u8);
        dns.extend_from_slice(label.as_bytes());
    }
    dns.extend_from_slice(&[0, 0, 1, 0, 1]);
    ipv4_frame(17, [192, 0, 2, 53], &udp_datagram(src_port, 53, &dns))
}

/// A UDP datagram (header and `payload`; no checksum).
pub fn udp_datagram(src_port: u16, dst_port: u16, payload: &[u8]) -> Vec<u8> {
    let mut udp = Vec::new();
    udp.extend_from_slice(&src_port.to_be_bytes());
    udp.extend_from_slice(&dst_port.to_be_bytes());
    udp.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(payload);
    udp
}

/// An Ethernet frame carrying a UDP datagram with `payload` from 10.0.0.1:`src_port` to
/// 192.0.2.9:`dst_port`.
pub fn udp_frame(src_port: u16, dst_port: u16, payload: &[u8]) -> Vec<u8> {
    ipv4_frame(
        17,
        [192, 0, 2, 9],
        &udp_datagram(src_port, dst_port, payload),
    )
}

/// An Ethernet frame carrying a TCP SYN from 10.0.0.1:`src_port` to `dst`:`dst_port`.
pub fn tcp_syn_frame(src_port: u16, dst: [u8; 4], dst_port: u16) -> Vec<u8> {
    let mut tcp = Vec::new();
    tcp.extend_from_slice(&src_port.to_be_bytes());
    tcp.extend_from_slice(&dst_port.to_be_bytes());
    tcp.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]);
    ipv4_frame(6, dst, &tcp)
}

/// An Ethernet frame carrying an IPv4 packet from 10.0.0.1 to `dst` with `payload`.
fn ipv4_frame(proto: u8, dst: [u8; 4], payload: &[u8]) -> Vec<u8> {
    ipv4_fragment_frame(proto, dst, (0, 0, false), payload)
}

/// An Ethernet frame carrying an IPv4 packet from 10.0.0.1 to `dst` with `payload`, as the
/// fragment (`id`, offset in 8-byte units, more fragments follow) of a datagram; (0, 0,
/// false) with the don't-fragment bit is a whole datagram.
pub fn ipv4_fragment_frame(
    proto: u8,
    dst: [u8; 4],
    (id, offset, more): (u16, u16, bool),
    payload: &[u8],
) -> Vec<u8> {
    let flags_offset = if (id, offset, more) == (0, 0, false) {
        0x4000
    } else {
        offset | if more { 0x2000 } else { 0 }
    };
    let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, proto, 0, 0, 10, 0, 0, 1];
    ip[4..6].copy_from_slice(&id.to_be_bytes());
    ip[6..8].copy_from_slice(&flags_offset.to_be_bytes());
    ip.extend_from_slice(&dst);
    ip[2..4].copy_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    let sum = ip
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum::<u32>();
    let sum = (sum & 0xffff) + (sum >> 16);
    ip[10..12].copy_from_slice(&(!((sum & 0xffff) + (sum >> 16)) as u16).to_be_bytes());
    let mut frame = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00];
    frame.extend_from_slice(&ip);
    frame.extend_from_slice(payload);
    frame
}
