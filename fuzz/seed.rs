//! Seed the fuzz corpora from real data: `cargo run --release --example seed` (from fuzz/).
//!
//! Reads every capture in the capture directory (default `../shared/corpus` beside the repository) with the
//! sensor's own reader and decoder and writes, under `corpus/<target>/` (next to this file):
//!
//! | target | seeds |
//! |---|---|
//! | `decode` | whole frames, prefixed with their link type's index in `LINKTYPES` |
//! | `pcap_file`, `split_walk` | the captures (the first 16 KiB of larger ones: a cut file is a case too) |
//! | `dns`, `dns_buffers` | UDP payloads on DNS ports, DNS-over-TCP messages |
//! | `tls_client_hello` | TCP streams that start with a TLS handshake; the ClientHello bodies |
//! | `http_request` | TCP streams that start with (or contain) an HTTP request |
//! | `tcp_stream` | the segments of each TCP direction, in capture order |
//! | `quic_initial` | the client datagrams of each QUIC flow |
//! | `quic_frames` | the ClientHellos of the TCP streams, as CRYPTO frames in one or two Initials |
//! | `defrag` | the IP fragments of each capture (per datagram, and all together) |
//! | `feed` | the feed files (default `../shared/feeds` beside the repository, and its `feeds/`), whole or their first 16 KiB |
//!
//! Arguments: `[capture-dir [feed-dir...]]`. Layouts are described in `src/lib.rs`.
//! Files are named by a hash of their bytes, so running it again adds nothing twice.

use std::collections::HashMap;
use std::net::IpAddr;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use ioc_sensor::capture::{self, Filter, InputFile};
use ioc_sensor::decode::{self, Transport};
use ioc_sensor::flow::reassembly::{Delivery, Reassembly};
use ioc_sensor::proto::{self, http, quic, tls};
use ioc_sensor_fuzz::*;

/// Longest seed written for stream-like targets.
const MAX_SEED: usize = 16 * 1024;

struct Out {
    root: PathBuf,
    counts: HashMap<&'static str, usize>,
}

impl Out {
    fn put(&mut self, target: &'static str, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if target == "dns" {
            self.put("dns_buffers", bytes); // same input, another target
        }
        let dir = self.root.join(target);
        std::fs::create_dir_all(&dir).expect("corpus dir");
        let path = dir.join(seed_name(bytes));
        if !path.exists() {
            std::fs::write(&path, bytes).expect("write seed");
            *self.counts.entry(target).or_default() += 1;
        }
    }
}

type Dir = (IpAddr, u16, IpAddr, u16);

#[derive(Default)]
struct TcpDir {
    segments: Vec<(bool, u32, Vec<u8>)>,
    seg_bytes: usize,
    reassembly: Reassembly,
    stream: Vec<u8>,
}

#[derive(Default)]
struct Capture {
    frames_per_link: HashMap<i32, usize>,
    /// The capture's first packets in the `inspector` layout, and the last packet's time.
    sequence: Vec<u8>,
    last_ts_us: Option<i64>,
    tcp: HashMap<Dir, TcpDir>,
    /// Client datagrams of each QUIC flow, keyed by the client's direction.
    quic: HashMap<Dir, Vec<Vec<u8>>>,
    /// Fragments: (key, v6, offset, more, payload).
    frags: Vec<((IpAddr, IpAddr, u32, u8), bool, u16, bool, Vec<u8>)>,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // The shared folder beside the repository, as the tests find it.
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared");
    let captures = args
        .first()
        .map_or_else(|| shared.join("corpus"), PathBuf::from);
    let feeds: Vec<PathBuf> = if args.len() > 1 {
        args[1..].iter().map(PathBuf::from).collect()
    } else {
        vec![
            shared.join("feeds"),
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../feeds"),
        ]
    };
    let mut out = Out {
        root: Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus"),
        counts: HashMap::new(),
    };
    let mut hellos: Vec<Vec<u8>> = Vec::new();

    let mut files: Vec<PathBuf> = std::fs::read_dir(captures)
        .expect("capture dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| capture::check_capture_file(p).is_ok())
        .collect();
    files.sort();
    for path in &files {
        let bytes = std::fs::read(path).expect("read capture");
        out.put("pcap_file", &bytes[..bytes.len().min(MAX_SEED)]);
        out.put("split_walk", &bytes[..bytes.len().min(MAX_SEED)]);
        let mut cap = Capture::default();
        let input = InputFile {
            path: path.clone(),
            name: path.display().to_string().into(),
            size: Some(bytes.len() as u64),
        };
        let _ = capture::read_file(
            &input,
            &mut Filter::none(),
            || ControlFlow::Continue(()),
            |p| {
                sequence(&mut cap, p.ts_us, p.linktype, p.data);
                packet(&mut out, &mut cap, p.linktype, p.data);
                ControlFlow::Continue(())
            },
        );
        out.put("inspector", &cap.sequence);
        finish(&mut out, cap, &mut hellos);
    }

    // ClientHellos (handshake message with header) as CRYPTO frames in sealed Initials.
    for (i, hs) in hellos.iter().enumerate() {
        let pick = (i % 4) as u8 | ((i as u8 / 4 % 4) << 2);
        let mut head = vec![pick, 8];
        head.extend_from_slice(&[0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, i as u8]);
        let mut one = Vec::new();
        crypto_frame(&mut one, 0, hs);
        one.extend_from_slice(&[0x01, 0x00, 0x00]); // PING, PADDING
        let mut seed = head.clone();
        encode_chunk(&mut seed, &one);
        out.put("quic_frames", &seed);
        // Two Initials, the second half first, with an ACK frame in front.
        let half = hs.len() / 2;
        let (mut a, mut b) = (vec![0x02, 0x00, 0x00, 0x00, 0x00], Vec::new());
        crypto_frame(&mut a, half as u32, &hs[half..]);
        crypto_frame(&mut b, 0, &hs[..half]);
        let mut seed = head;
        encode_chunk(&mut seed, &a);
        encode_chunk(&mut seed, &b);
        out.put("quic_frames", &seed);
    }

    for dir in feeds {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name == "README.md" || !path.is_file() {
                continue;
            }
            let bytes = std::fs::read(&path).expect("read feed");
            let pick = FEED_PATHS
                .iter()
                .position(|p| name.ends_with(p.trim_start_matches("feed")))
                .unwrap_or(0) as u8;
            let cut = if bytes.len() <= 4 * MAX_SEED {
                bytes.len()
            } else {
                bytes[..MAX_SEED]
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(MAX_SEED, |i| i + 1)
            };
            let mut seed = vec![pick];
            seed.extend_from_slice(&bytes[..cut]);
            out.put("feed", &seed);
        }
    }

    let mut counts: Vec<_> = out.counts.into_iter().collect();
    counts.sort();
    for (target, n) in counts {
        println!("{target}: {n} new seeds");
    }
}

/// Add a packet to the capture's `inspector` seed (up to 4 × `MAX_SEED` bytes), with the
/// step of `TIME_STEPS_US` nearest below its time's distance from the last packet.
fn sequence(cap: &mut Capture, ts_us: i64, linktype: i32, frame: &[u8]) {
    let Some(link) = LINKTYPES.iter().position(|&l| l == linktype) else {
        return;
    };
    if cap.sequence.len() + frame.len() + 3 > 4 * MAX_SEED {
        return;
    }
    let gap = ts_us.saturating_sub(cap.last_ts_us.unwrap_or(ts_us));
    cap.last_ts_us = Some(ts_us);
    let step = TIME_STEPS_US
        .iter()
        .enumerate()
        .filter(|&(_, &s)| (0..=gap).contains(&s))
        .max_by_key(|&(_, &s)| s)
        .map_or(0, |(i, _)| i as u8);
    encode_frame(
        &mut cap.sequence,
        &FrameRecord {
            link: link as u8,
            step,
            frame,
        },
    );
}

fn packet(out: &mut Out, cap: &mut Capture, linktype: i32, frame: &[u8]) {
    if let Some(i) = LINKTYPES.iter().position(|&l| l == linktype) {
        let seen = cap.frames_per_link.entry(linktype).or_default();
        *seen += 1;
        if *seen <= 64 {
            let mut seed = vec![i as u8];
            seed.extend_from_slice(frame);
            out.put("decode", &seed);
        }
    }
    let Ok(p) = decode::decode(linktype, frame) else {
        return;
    };
    match p.transport {
        Transport::Udp { payload } => {
            if proto::is_dns_port(p.src_port, p.dst_port) {
                out.put("dns", payload);
            }
            let fwd = (p.src, p.src_port, p.dst, p.dst_port);
            if let Some(datagrams) = cap.quic.get_mut(&fwd) {
                if datagrams.len() < 6 {
                    datagrams.push(payload.to_vec());
                }
            } else if quic::looks_like_client_initial(payload)
                && !cap
                    .quic
                    .contains_key(&(p.dst, p.dst_port, p.src, p.src_port))
            {
                cap.quic.insert(fwd, vec![payload.to_vec()]);
            }
        }
        Transport::Tcp {
            seq,
            flags,
            payload,
        } => {
            let syn = flags & decode::tcp_flags::SYN != 0;
            let dir = cap
                .tcp
                .entry((p.src, p.src_port, p.dst, p.dst_port))
                .or_default();
            if dir.segments.len() < 64 && dir.seg_bytes < MAX_SEED && (syn || !payload.is_empty()) {
                dir.seg_bytes += payload.len();
                dir.segments.push((syn, seq, payload.to_vec()));
            }
            if dir.stream.len() < 64 * 1024 {
                let stream = &mut dir.stream;
                dir.reassembly.segment(seq, syn, payload, |d| {
                    if let Delivery::Data(b) = d {
                        stream.extend_from_slice(b);
                    }
                });
            }
        }
        Transport::Fragment(f) => {
            if cap.frags.len() < 256 {
                cap.frags.push((
                    (p.src, p.dst, f.id, p.proto),
                    p.src.is_ipv6(),
                    f.offset,
                    f.more,
                    f.payload.to_vec(),
                ));
            }
        }
        Transport::Other => {}
    }
}

fn finish(out: &mut Out, cap: Capture, hellos: &mut Vec<Vec<u8>>) {
    let mut dirs: Vec<_> = cap.tcp.into_iter().collect();
    dirs.sort_by(|a, b| format!("{:?}", a.0).cmp(&format!("{:?}", b.0)));
    for ((_, sport, _, dport), d) in dirs {
        let dns_port = proto::is_dns_port(sport, dport);
        if d.segments.iter().any(|s| !s.2.is_empty()) {
            let mut seed = vec![u8::from(dns_port)];
            for (syn, seq, payload) in &d.segments {
                encode_segment(
                    &mut seed,
                    &Segment {
                        syn: *syn,
                        seq: *seq,
                        payload,
                    },
                );
            }
            out.put("tcp_stream", &seed);
        }
        let s = &d.stream[..];
        if s.is_empty() {
            continue;
        }
        if dns_port {
            let mut pos = 0;
            while let Some(len) = s
                .get(pos..pos + 2)
                .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
            {
                let Some(msg) = s.get(pos + 2..pos + 2 + len) else {
                    break;
                };
                out.put("dns", msg);
                pos += 2 + len;
            }
        }
        if tls::starts_like_tls(s) {
            out.put("tls_client_hello", &s[..s.len().min(MAX_SEED)]);
            let mut scratch = Vec::new();
            if let tls::Progress::Done(_) = tls::client_hello_in_stream(s, &mut scratch) {
                let len = u32::from_be_bytes([0, scratch[1], scratch[2], scratch[3]]) as usize;
                out.put("tls_client_hello", &scratch[4..4 + len]);
                hellos.push(scratch[..4 + len].to_vec());
            }
        }
        if let Some(at) = http::find_request_start(s) {
            if at == 0 || http::could_start_request(s) {
                out.put("http_request", &s[..s.len().min(MAX_SEED)]);
            }
            out.put("http_request", &s[at..s.len().min(at + MAX_SEED)]);
        }
    }

    let mut flows: Vec<_> = cap.quic.into_values().collect();
    flows.sort();
    for datagrams in flows {
        let mut seed = Vec::new();
        for d in &datagrams {
            encode_chunk(&mut seed, d);
        }
        out.put("quic_initial", &seed);
    }

    // Fragments: each datagram alone, and all of the capture's together (ids mod 4).
    let mut ids: Vec<(IpAddr, IpAddr, u32, u8)> = Vec::new();
    let mut all = Vec::new();
    let mut per: HashMap<usize, Vec<u8>> = HashMap::new();
    for (key, v6, offset, more, payload) in &cap.frags {
        let n = ids.iter().position(|k| k == key).unwrap_or_else(|| {
            ids.push(*key);
            ids.len() - 1
        });
        let rec = FragRecord {
            more: *more,
            id: (n % 4) as u32,
            v6: *v6,
            advance_us: 0,
            offset: *offset,
            payload,
        };
        encode_fragment(&mut all, &rec);
        encode_fragment(per.entry(n).or_default(), &rec);
    }
    for seed in per.values() {
        out.put("defrag", seed);
    }
    out.put("defrag", &all[..all.len().min(4 * MAX_SEED)]);
}
