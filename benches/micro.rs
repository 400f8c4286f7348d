//! Criterion micro-benchmarks over fixture bytes: a capture file's records (classic pcap,
//! pcapng packet blocks read by hand and by pcap-parser), decode per link type (and a plain
//! frame's endpoints alone, as the worker that routes it reads them), DNS / ClientHello /
//! HTTP parsing, a QUIC client Initial (RFC 9001 A.2: key derivation, decryption, the
//! ClientHello inside), and indicator lookups (hit and miss, 1 k and 10 M names, 2 and 6
//! labels), with a `HashSet<String>` baseline measured side by side. Each lookup case
//! repeats one name: the warm cost, with the name's table entries in the cache.
//!
//! Run: `cargo bench --bench micro` (add `-- lookup` to run only the lookup group; the 10 M
//! sets take ~20 s and ~2 GB to build, when a benchmark that needs them first runs). Load
//! time, memory per indicator and lookups cycling through 1 000 names spread over the set are
//! measured by `cargo bench --bench scale`.

use std::collections::HashSet;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use etherparse::PacketBuilder;
use ioc_sensor::capture::parser::{Next, Parser};
use ioc_sensor::decode::{self, link::linktype};
use ioc_sensor::intel::normalize::classify;
use ioc_sensor::intel::{IndicatorSet, IndicatorSetBuilder, Source};
use ioc_sensor::proto::{dns, http, quic, tls};

fn udp_frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ethernet2([1; 6], [2; 6])
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .udp(5000, 53)
        .write(&mut out, payload)
        .unwrap();
    out
}

fn tcp_frame_v6(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv6([1; 16], [2; 16], 64)
        .tcp(40000, 443, 1000, 65535)
        .ack(1)
        .write(&mut out, payload)
        .unwrap();
    out
}

fn dns_query(name: &str) -> Vec<u8> {
    let mut m = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.extend_from_slice(&[0, 0, 1, 0, 1]);
    m
}

fn client_hello_record(sni: &str) -> Vec<u8> {
    let name = sni.as_bytes();
    let mut ext = vec![0, 0];
    ext.extend_from_slice(&((name.len() + 5) as u16).to_be_bytes());
    ext.extend_from_slice(&((name.len() + 3) as u16).to_be_bytes());
    ext.push(0);
    ext.extend_from_slice(&(name.len() as u16).to_be_bytes());
    ext.extend_from_slice(name);
    ext.extend_from_slice(&[0x00, 0x2b, 0, 3, 2, 3, 4]); // supported_versions
    let mut body = vec![3, 3];
    body.extend_from_slice(&[7; 32]);
    body.push(32);
    body.extend_from_slice(&[9; 32]);
    body.extend_from_slice(&[0, 6, 0x13, 1, 0x13, 2, 0x13, 3, 1, 0]);
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    let mut hs = vec![1];
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&body);
    let mut rec = vec![22, 3, 1];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

fn bench_decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(1));
    let eth = udp_frame(&dns_query("www.example.com"));
    g.bench_function("ethernet_ipv4_udp", |b| {
        b.iter(|| decode::decode(linktype::ETHERNET, black_box(&eth)))
    });
    g.bench_function("ethernet_ipv4_udp_endpoints_only", |b| {
        b.iter(|| decode::plain_endpoints(linktype::ETHERNET, black_box(&eth)))
    });
    let raw6 = tcp_frame_v6(&[0u8; 512]);
    g.bench_function("raw_ipv6_tcp", |b| {
        b.iter(|| decode::decode(linktype::RAW, black_box(&raw6)))
    });
    let mut sll = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00];
    sll.extend_from_slice(&eth[14..]);
    g.bench_function("linux_sll_ipv4_udp", |b| {
        b.iter(|| decode::decode(linktype::LINUX_SLL, black_box(&sll)))
    });
    // Tunnels: the same inner DNS packet carried through each encapsulation.
    let inner_ip = &eth[14..];
    let mut vxlan_payload = vec![0x08, 0, 0, 0, 0, 0, 1, 0];
    vxlan_payload.extend_from_slice(&eth);
    let mut vxlan = Vec::new();
    PacketBuilder::ethernet2([3; 6], [4; 6])
        .ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
        .udp(50000, 4789)
        .write(&mut vxlan, &vxlan_payload)
        .unwrap();
    g.bench_function("ethernet_vxlan_ipv4_udp", |b| {
        b.iter(|| decode::decode(linktype::ETHERNET, black_box(&vxlan)))
    });
    let mut gre_payload = vec![0, 0, 0x08, 0x00];
    gre_payload.extend_from_slice(inner_ip);
    let mut gre = Vec::new();
    PacketBuilder::ethernet2([3; 6], [4; 6])
        .ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
        .write(&mut gre, etherparse::IpNumber::GRE, &gre_payload)
        .unwrap();
    g.bench_function("ethernet_gre_ipv4_udp", |b| {
        b.iter(|| decode::decode(linktype::ETHERNET, black_box(&gre)))
    });
    let mut mpls = eth[..12].to_vec();
    mpls.extend_from_slice(&[0x81, 0x00, 0x00, 0x0a, 0x88, 0x47, 0x00, 0x01, 0x01, 0x40]);
    mpls.extend_from_slice(inner_ip);
    g.bench_function("ethernet_vlan_mpls_ipv4_udp", |b| {
        b.iter(|| decode::decode(linktype::ETHERNET, black_box(&mpls)))
    });
    g.finish();
}

/// One record of a capture file, read by the parser once it is past the file's header.
fn bench_capture(c: &mut Criterion) {
    let mut g = c.benchmark_group("capture");
    g.throughput(Throughput::Elements(1));
    let frame = udp_frame(&dns_query("www.example.com"));
    let len = (frame.len() as u32).to_le_bytes();
    // Classic pcap: file header, one record.
    let mut pcap = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    pcap.extend([0xff, 0xff, 0, 0, 1, 0, 0, 0]);
    pcap.extend(1_700_000_000u32.to_le_bytes().iter().chain(&[7, 0, 0, 0]));
    pcap.extend(len.iter().chain(&len).chain(&frame));
    // pcapng: section header, interface (Ethernet, nanoseconds), one packet block.
    let mut ng = vec![
        0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0,
    ];
    ng.extend([0xff; 8].iter().chain(&[28, 0, 0, 0]));
    ng.extend([1, 0, 0, 0, 32, 0, 0, 0, 1, 0, 0, 0, 0xff, 0xff, 0, 0]);
    ng.extend([9, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0, 0]);
    let padded = frame.len().next_multiple_of(4);
    let block = (32 + padded as u32).to_le_bytes();
    ng.extend([6, 0, 0, 0].iter().chain(&block).chain(&[0; 4]));
    ng.extend(1_700_000_000_000_000_000u64.to_be_bytes()[..4].iter().rev());
    ng.extend(1_700_000_000_000_000_000u64.to_be_bytes()[4..].iter().rev());
    ng.extend(len.iter().chain(&len).chain(&frame));
    ng.resize(ng.len() + padded - frame.len(), 0);
    ng.extend(block);
    for (name, file, reference) in [
        ("pcap_record", &pcap, false),
        ("pcapng_packet_block", &ng, false),
        ("pcapng_packet_block_pcap_parser", &ng, true),
    ] {
        let mut parser = Parser::default();
        let mut at = 0;
        let record = loop {
            match parser.next(&file[at..]) {
                Next::Skip(used) => at += used,
                Next::Packet(..) => break &file[at..],
                other => panic!("{name}: {other:?}"),
            }
        };
        // A packet record leaves the parser's state as it was: the same record, again.
        g.bench_function(name, |b| {
            b.iter(|| {
                let next = match reference {
                    false => parser.next(black_box(record)),
                    true => parser.next_reference(black_box(record)),
                };
                matches!(next, Next::Packet(..))
            })
        });
    }
    g.finish();
}

struct Count(usize);
impl dns::Visitor for Count {
    fn question(&mut self, name: &dns::Name, _: u16) {
        self.0 += name.as_bytes().len();
    }
    fn answer(&mut self, name: &dns::Name, _: u16, _: u32, _: dns::RData<'_>) {
        self.0 += name.as_bytes().len();
    }
}

fn bench_parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Elements(1));
    let q = dns_query("a.b.c.www.example.com");
    g.bench_function("dns_query", |b| {
        b.iter(|| {
            let mut v = Count(0);
            let _ = dns::parse(black_box(&q), &mut v);
            v.0
        })
    });
    let ch = client_hello_record("www.example.com");
    let mut scratch = Vec::new();
    g.bench_function("tls_client_hello_sni", |b| {
        b.iter(|| {
            matches!(
                tls::client_hello_in_stream(black_box(&ch), &mut scratch),
                tls::Progress::Done(_)
            )
        })
    });
    // A new QUIC connection's first datagram: key derivation from its connection ID, header
    // protection, AES-GCM over 1 162 bytes and the ClientHello inside (per flow, not per
    // packet: once the SNI is read, later datagrams under the same keys are not decrypted).
    let initial = hex(include_str!(
        "../src/proto/testdata/rfc9001-a2-client-initial.hex"
    ));
    g.bench_function("quic_initial_sni", |b| {
        b.iter(|| {
            let mut flow = quic::QuicClientHello::default();
            match flow.datagram(black_box(&initial)) {
                quic::QuicProgress::Done { hello, .. } => hello.sni.map_or(0, <[u8]>::len),
                _ => 0,
            }
        })
    });
    let req = b"GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: Mozilla/5.0\r\nAccept: */*\r\nAccept-Language: en\r\nConnection: keep-alive\r\n\r\n";
    g.bench_function("http_request_head", |b| {
        b.iter(|| matches!(http::parse_request(black_box(req)), http::Parse::Request(_)))
    });
    g.finish();
}

/// Bytes of a hex string (other characters, such as line ends, skipped).
fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

/// Deterministic pseudo-random domain names.
fn names(n: usize, seed: u64) -> Vec<String> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            format!("h{:x}.example{}.com", x & 0xffff_ffff, x % 97)
        })
        .collect()
}

fn set_of(names: &[String]) -> IndicatorSet {
    let mut b = IndicatorSetBuilder::new();
    let src = b.add_source(Source {
        feed: "bench".into(),
        ..Default::default()
    });
    for n in names {
        b.add(&classify(n).unwrap(), src, false);
    }
    b.build()
}

fn bench_lookup(c: &mut Criterion) {
    let mut g = c.benchmark_group("lookup");
    g.throughput(Throughput::Elements(1));
    const CASES: [&str; 4] = [
        "hit_3_labels",
        "hit_6_labels",
        "miss_2_labels",
        "miss_6_labels",
    ];
    for size in [1_000usize, 10_000_000] {
        // Built when the first benchmark of this size runs, so that a filter that selects
        // none of them (`cargo bench --bench micro -- decode`) does not pay for 10 M names.
        let built = std::cell::LazyCell::new(|| {
            let listed = names(size, 42);
            let set = set_of(&listed);
            let baseline: HashSet<String> = listed.iter().cloned().collect();
            let names = [
                listed[size / 3].clone(),
                format!("a.b.c.{}", listed[size / 3]),
                "notlisted.org".to_string(),
                "a.b.c.d.notlisted.org".to_string(),
            ];
            (set, baseline, names)
        });
        for (case, label) in CASES.iter().enumerate() {
            g.bench_function(
                BenchmarkId::new(format!("indicator_set_{label}"), size),
                |b| {
                    let (set, _, names) = &*built;
                    let n = &names[case];
                    b.iter(|| {
                        let mut hits = 0;
                        set.match_name(black_box(n.as_bytes()), |_| hits += 1);
                        hits
                    })
                },
            );
            g.bench_function(
                BenchmarkId::new(format!("hashset_string_{label}"), size),
                |b| {
                    let (_, baseline, names) = &*built;
                    let n = &names[case];
                    b.iter(|| {
                        // The baseline does the same work: lowercase, then every suffix.
                        let lower = black_box(n).to_ascii_lowercase();
                        let mut hits = 0;
                        let mut rest = lower.as_str();
                        loop {
                            if baseline.contains(rest) {
                                hits += 1;
                            }
                            match rest.split_once('.') {
                                Some((_, tail)) => rest = tail,
                                None => break,
                            }
                        }
                        hits
                    })
                },
            );
        }
        let addr: std::net::IpAddr = "198.51.100.7".parse().unwrap();
        g.bench_with_input(BenchmarkId::new("address_miss", size), &addr, |b, a| {
            let (set, _, _) = &*built;
            b.iter(|| {
                let mut hits = 0;
                set.match_addr(black_box(*a), 443, |_| hits += 1);
                hits
            })
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    bench_capture,
    bench_decode,
    bench_parse,
    bench_lookup
);
criterion_main!(benches);
