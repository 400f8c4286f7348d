//! Flow keys: the 5-tuple of a packet in a direction-free order, so that both directions of
//! a flow have the same key (and the same dispatch hash, and so reach the same worker); and
//! the worker a captured frame goes to ([`route`]), found from the endpoints of a plain frame
//! without decoding it whole.

use std::hash::{BuildHasher, Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr};

use crate::decode::{Packet, PlainEndpoints};
use crate::mix::fold_mul;

/// A flow's 5-tuple, ordered: `a` is the lower (address, port) endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowKey {
    /// Lower endpoint.
    pub a: (IpAddr, u16),
    /// Higher endpoint.
    pub b: (IpAddr, u16),
    /// IP protocol number.
    pub proto: u8,
}

/// Which endpoint of the key a packet was sent from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Sent by endpoint `a`.
    A,
    /// Sent by endpoint `b`.
    B,
}

impl Side {
    /// Index 0 for `A`, 1 for `B`.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The other side.
    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }
}

/// Fixed seed: dispatch and flow ids must be the same from run to run, so that a capture
/// gives the same output whatever the number of workers.
const FIXED_SEED: u64 = 0x1dc5_e45a_0000_0001;

/// Constants with about half their bits set, mixed into the operands of
/// [`FlowKey::table_hash`]'s multiplies (as foldhash mixes in its fixed secrets), so that a
/// key's structured words (a run of ports, of addresses) are not multiplied as they are.
const SPREAD: [u64; 2] = [0x2d35_8dcc_aa6c_78a5, 0x8bb8_4b93_962e_acc9];

/// Hashed as two or three machine words (the derived hash feeds each address's enum tag,
/// length and bytes separately: measured 3.5 % of the capture thread's time). Equal keys
/// give equal words, so this agrees with the derived equality.
impl Hash for FlowKey {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        let ports_proto =
            (u64::from(self.a.1) << 24) | (u64::from(self.b.1) << 8) | u64::from(self.proto);
        match (self.a.0, self.b.0) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                state.write_u64((u64::from(u32::from(a)) << 32) | u64::from(u32::from(b)));
                state.write_u64(ports_proto);
            }
            (a, b) => {
                let wide = |ip: IpAddr| match ip {
                    IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
                    IpAddr::V6(v6) => u128::from(v6),
                };
                state.write_u128(wide(a));
                state.write_u128(wide(b));
                state.write_u64(ports_proto | 1 << 63);
            }
        }
    }
}

impl FlowKey {
    /// The key of a packet, and the side that sent it.
    #[inline]
    pub fn of(p: &Packet<'_>) -> (FlowKey, Side) {
        let src = (p.src, p.src_port);
        let dst = (p.dst, p.dst_port);
        let src_first = match (p.src, p.dst) {
            // Most packets: the same order, as one 48-bit number per endpoint.
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                ipv4_endpoint_order(s, p.src_port) <= ipv4_endpoint_order(d, p.dst_port)
            }
            _ => endpoint_order(src) <= endpoint_order(dst),
        };
        if src_first {
            (
                FlowKey {
                    a: src,
                    b: dst,
                    proto: p.proto,
                },
                Side::A,
            )
        } else {
            (
                FlowKey {
                    a: dst,
                    b: src,
                    proto: p.proto,
                },
                Side::B,
            )
        }
    }

    /// Symmetric hash used to choose a worker: [`dispatch_hash_of`] the key's endpoints.
    #[inline]
    pub fn dispatch_hash(&self) -> u64 {
        dispatch_hash_of(self.a, self.b, self.proto)
    }

    /// The flow table's hash of the key under the table's secret `seed`: the key's words
    /// folded through 64×64→128-bit multiplies with the seed (foldhash's construction), and
    /// the result once more through a fixed one: two multiplies for an IPv4 key, four for
    /// IPv6. The same words through [`Hash`] and foldhash's `Hasher` (a multiply per word,
    /// then a final one) took 4 % of the time on the small-packet benchmark file.
    #[inline]
    pub fn table_hash(&self, seed: [u64; 2]) -> u64 {
        let ports = (u64::from(self.a.1) << 48)
            | (u64::from(self.b.1) << 32)
            | (u64::from(self.proto) << 8);
        match (self.a.0, self.b.0) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                let addrs = (u64::from(a.to_bits()) << 32) | u64::from(b.to_bits());
                let h = fold_mul(addrs ^ seed[0] ^ SPREAD[0], ports ^ seed[1] ^ SPREAD[1]);
                fold_mul(h, SPREAD[0])
            }
            (a, b) => {
                let bits = |ip: IpAddr| match ip {
                    IpAddr::V4(v4) => v4.to_ipv6_mapped().to_bits(),
                    IpAddr::V6(v6) => v6.to_bits(),
                };
                let (a, b) = (bits(a), bits(b));
                // Every operand takes a seed: an operand that a chosen address could make zero
                // (its low half equal to a public constant) would drop the rest of the address
                // from the hash, and keys built that way would all collide.
                let a = fold_mul(
                    (a >> 64) as u64 ^ seed[0] ^ SPREAD[0],
                    a as u64 ^ seed[1] ^ SPREAD[1],
                );
                let b = fold_mul(
                    (b >> 64) as u64 ^ seed[1] ^ SPREAD[1],
                    b as u64 ^ seed[0] ^ SPREAD[0],
                );
                let h = fold_mul(a ^ ports ^ SPREAD[0], b ^ seed[1] ^ SPREAD[1]);
                fold_mul(h, SPREAD[0])
            }
        }
    }

    /// A flow id as Suricata logs one: a positive integer, here at most 2^51 so that
    /// JavaScript-based consumers read it exactly. Derived from the key and the time the flow
    /// was first seen, so a reused 5-tuple later in a capture is a different flow.
    pub fn flow_id(&self, first_seen_us: i64) -> u64 {
        let h = foldhash::fast::FixedState::with_seed(FIXED_SEED ^ 0xF10)
            .hash_one((self, first_seen_us));
        (h & ((1 << 51) - 1)).max(1)
    }
}

/// An endpoint as a sort key in the order `(IpAddr, u16)` has (IPv4 before IPv6, addresses as
/// big-endian numbers, then the port), but compared as integers: the derived comparison of
/// `IpAddr` goes byte by byte, on every packet.
#[inline(always)]
fn endpoint_order((ip, port): (IpAddr, u16)) -> (bool, u128, u16) {
    match ip {
        IpAddr::V4(a) => (false, u128::from(a.to_bits()), port),
        IpAddr::V6(a) => (true, a.to_bits(), port),
    }
}

/// [`endpoint_order`] of an IPv4 endpoint, as one number.
#[inline(always)]
fn ipv4_endpoint_order(addr: Ipv4Addr, port: u16) -> u64 {
    (u64::from(addr.to_bits()) << 16) | u64::from(port)
}

/// The worker-choosing hash of a flow from its two endpoints, in either order: each endpoint
/// is hashed on its own and the two are added, so a packet's worker is found without ordering
/// its endpoints into a [`FlowKey`] (an `IpAddr` comparison) first. Every replay worker
/// computes this for every packet, its own or not.
#[inline]
pub fn dispatch_hash_of(x: (IpAddr, u16), y: (IpAddr, u16), proto: u8) -> u64 {
    both_endpoints(endpoint_hash(x), endpoint_hash(y), proto)
}

/// [`dispatch_hash_of`] from its two endpoints' shares.
#[inline(always)]
fn both_endpoints(x: u64, y: u64, proto: u8) -> u64 {
    const MIX: u64 = 0x9e37_79b9_7f4a_7c15;
    fold_mul(x.wrapping_add(y) ^ u64::from(proto) ^ FIXED_SEED, MIX)
}

/// The worker, of `workers`, that owns the flow of `p`: the one the capture thread routes it
/// to, and the one replay workers check it against.
#[inline]
pub fn worker_of_packet(p: &Packet<'_>, workers: u64) -> u64 {
    let hash = dispatch_hash_of((p.src, p.src_port), (p.dst, p.dst_port), p.proto);
    worker_of(hash, workers)
}

/// [`worker_of_packet`] of a plain frame, from its endpoints: the same worker, hashed from the
/// IPv4 addresses as they are (through `IpAddr`, hashing took twice the instructions).
#[inline]
pub fn worker_of_plain(e: PlainEndpoints, workers: u64) -> u64 {
    let hash = both_endpoints(
        ipv4_endpoint_hash(e.src),
        ipv4_endpoint_hash(e.dst),
        e.proto,
    );
    worker_of(hash, workers)
}

/// Where a captured frame goes, of several workers.
#[derive(Debug)]
pub enum Route<'a> {
    /// To the worker that owns its flow.
    Worker(u64),
    /// An IP fragment, between these addresses: only the whole datagram has a flow.
    Fragment {
        /// Source address.
        src: IpAddr,
        /// Destination address.
        dst: IpAddr,
        /// IP protocol of the datagram.
        proto: u8,
        /// The fragment, for reassembly.
        fragment: crate::decode::defrag::Fragment<'a>,
    },
    /// It does not decode.
    Undecodable,
}

/// Where `frame` (of link type `linktype`) goes, of `workers`: to the owner of its flow as
/// [`worker_of_packet`] says, found without decoding the frame whole when it is a plain one
/// ([`crate::decode::plain_endpoints`]).
#[inline(always)]
pub fn route(linktype: i32, frame: &[u8], workers: u64) -> Route<'_> {
    if let Some(endpoints) = crate::decode::plain_endpoints(linktype, frame) {
        return Route::Worker(worker_of_plain(endpoints, workers));
    }
    route_decoded(linktype, frame, workers)
}

/// [`route`] of a frame that is not plain: decoded whole (kept out of line, so that the plain
/// path inlines into the walker's loop).
#[inline(never)]
fn route_decoded(linktype: i32, frame: &[u8], workers: u64) -> Route<'_> {
    match crate::decode::decode(linktype, frame) {
        Ok(Packet {
            src,
            dst,
            proto,
            transport: crate::decode::Transport::Fragment(fragment),
            ..
        }) => Route::Fragment {
            src,
            dst,
            proto,
            fragment,
        },
        Ok(p) => Route::Worker(worker_of_packet(&p, workers)),
        Err(_) => Route::Undecodable,
    }
}

/// The worker, of `workers`, that a [`dispatch_hash_of`] falls to: the high half of the hash
/// times `workers`, a multiply where `hash % workers` is a 64-bit division (tens of cycles,
/// on every packet of every replay worker).
#[inline(always)]
fn worker_of(hash: u64, workers: u64) -> u64 {
    ((u128::from(hash) * u128::from(workers)) >> 64) as u64
}

/// One endpoint's share of [`dispatch_hash_of`].
#[inline(always)]
fn endpoint_hash((addr, port): (IpAddr, u16)) -> u64 {
    match addr {
        IpAddr::V4(v4) => ipv4_endpoint_hash((v4, port)),
        IpAddr::V6(v6) => {
            let wide = u128::from(v6);
            let high = fold_mul((wide >> 64) as u64 ^ (1 << 63), ENDPOINT_MIX);
            fold_mul(high ^ wide as u64 ^ u64::from(port), ENDPOINT_MIX)
        }
    }
}

/// [`endpoint_hash`] of an IPv4 endpoint.
#[inline(always)]
fn ipv4_endpoint_hash((addr, port): (Ipv4Addr, u16)) -> u64 {
    fold_mul(
        (u64::from(u32::from(addr)) << 16) | u64::from(port),
        ENDPOINT_MIX,
    )
}

/// The multiplier of [`endpoint_hash`].
const ENDPOINT_MIX: u64 = 0xa076_1d64_78bd_642f;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{Packet, Transport};

    #[test]
    fn ipv4_keys_order_their_endpoints_as_any_key_does() {
        let mut rng = crate::mix::TestRng(0x0bde_0f4e);
        for _ in 0..10_000 {
            // Few addresses and ports, so that equal addresses and equal ports are common.
            let addr = |r: &mut crate::mix::TestRng| Ipv4Addr::from([10, 0, 0, r.below(3) as u8]);
            let (src, dst) = (addr(&mut rng), addr(&mut rng));
            let (sport, dport) = (rng.below(3) as u16 * 30_000, rng.below(3) as u16 * 30_000);
            let packet = Packet {
                src: src.into(),
                dst: dst.into(),
                src_port: sport,
                dst_port: dport,
                proto: 6,
                transport: Transport::Other,
                vlans: [0; 2],
                vlan_count: 0,
                tunnel: None,
            };
            let (key, side) = FlowKey::of(&packet);
            let src_first =
                endpoint_order((src.into(), sport)) <= endpoint_order((dst.into(), dport));
            assert_eq!(side == Side::A, src_first, "{src}:{sport} {dst}:{dport}");
            assert!(endpoint_order(key.a) <= endpoint_order(key.b));
        }
    }

    #[test]
    fn plain_endpoints_hash_to_the_worker_of_the_same_packet() {
        let mut rng = crate::mix::TestRng(0x0dd_ba11);
        for _ in 0..10_000 {
            let e = PlainEndpoints {
                src: (Ipv4Addr::from(rng.next() as u32), rng.next() as u16),
                dst: (Ipv4Addr::from(rng.next() as u32), rng.next() as u16),
                proto: [6, 17][rng.below(2) as usize],
            };
            let packet = Packet {
                src: e.src.0.into(),
                dst: e.dst.0.into(),
                src_port: e.src.1,
                dst_port: e.dst.1,
                proto: e.proto,
                transport: Transport::Other,
                vlans: [0; 2],
                vlan_count: 0,
                tunnel: None,
            };
            for workers in [2, 3, 8] {
                assert_eq!(
                    worker_of_plain(e, workers),
                    worker_of_packet(&packet, workers)
                );
            }
        }
    }

    #[test]
    fn endpoint_order_is_the_order_of_address_and_port() {
        let addrs = [
            "0.0.0.0",
            "1.2.3.4",
            "1.2.3.5",
            "9.255.255.255",
            "10.0.0.0",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:1.2.3.4",
            "2001:db8::1",
            "fe80::1",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        ];
        let endpoints: Vec<(IpAddr, u16)> = addrs
            .iter()
            .flat_map(|a| [0u16, 1, 443, 65535].map(|p| (a.parse().unwrap(), p)))
            .collect();
        for &x in &endpoints {
            for &y in &endpoints {
                assert_eq!(
                    endpoint_order(x).cmp(&endpoint_order(y)),
                    x.cmp(&y),
                    "{x:?} {y:?}"
                );
            }
        }
    }

    fn pkt(src: &str, sp: u16, dst: &str, dp: u16) -> Packet<'static> {
        Packet {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            src_port: sp,
            dst_port: dp,
            proto: 6,
            transport: Transport::Other,
            vlans: [0; 2],
            vlan_count: 0,
            tunnel: None,
        }
    }

    #[test]
    fn both_directions_share_key_and_hash() {
        let (k1, s1) = FlowKey::of(&pkt("10.0.0.2", 5000, "10.0.0.1", 80));
        let (k2, s2) = FlowKey::of(&pkt("10.0.0.1", 80, "10.0.0.2", 5000));
        assert_eq!(k1, k2);
        assert_ne!(s1, s2);
        assert_eq!(k1.dispatch_hash(), k2.dispatch_hash());
        assert_eq!(k1.flow_id(5), k2.flow_id(5));
        assert_ne!(k1.flow_id(5), k1.flow_id(6));
        let (v6, _) = FlowKey::of(&pkt("2001:db8::1", 5000, "2001:db8::2", 80));
        let (v6_back, _) = FlowKey::of(&pkt("2001:db8::2", 80, "2001:db8::1", 5000));
        assert_eq!(v6.dispatch_hash(), v6_back.dispatch_hash());
        assert_ne!(v6.dispatch_hash(), k1.dispatch_hash());
        let (other_port, _) = FlowKey::of(&pkt("10.0.0.2", 5001, "10.0.0.1", 80));
        assert_ne!(other_port.dispatch_hash(), k1.dispatch_hash());
    }

    /// The hash a replay worker computes from a packet's endpoints is the key's, and spreads
    /// flows evenly over workers (each of 4 gets 25 % ± 2 of 40 000 random flows).
    #[test]
    fn endpoint_hash_matches_the_key_and_spreads() {
        let mut x = 0x1234_5678_9abc_def1u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut per_worker = [0u32; 4];
        for i in 0..40_000 {
            let r = next();
            let (src, dst): (IpAddr, IpAddr) = if i % 4 == 0 {
                let v6 = |w: u64| {
                    IpAddr::from(std::net::Ipv6Addr::from(
                        (u128::from(w) << 64) | u128::from(w >> 7),
                    ))
                };
                (v6(r), v6(next()))
            } else {
                (
                    IpAddr::from((r as u32).to_be_bytes()),
                    IpAddr::from(((r >> 32) as u32).to_be_bytes()),
                )
            };
            let p = Packet {
                src,
                dst,
                src_port: (r >> 16) as u16,
                dst_port: 443,
                proto: if i % 3 == 0 { 17 } else { 6 },
                ..pkt("10.0.0.1", 1, "10.0.0.2", 2)
            };
            let from_packet = dispatch_hash_of((p.src, p.src_port), (p.dst, p.dst_port), p.proto);
            let back = dispatch_hash_of((p.dst, p.dst_port), (p.src, p.src_port), p.proto);
            assert_eq!(from_packet, FlowKey::of(&p).0.dispatch_hash());
            assert_eq!(from_packet, back);
            per_worker[worker_of(from_packet, 4) as usize] += 1;
        }
        for n in per_worker {
            assert!((9_200..=10_800).contains(&n), "{per_worker:?}");
        }
    }

    /// The flow table's hash spreads keys that differ in one field only (a port scan, a
    /// subnet sweep, IPv6 hosts numbered in order) as evenly over the index's home slots as
    /// random keys would, under each of several seeds (zero, small, `SPREAD` itself).
    #[test]
    fn table_hash_spreads_keys_that_differ_in_one_field() {
        let key = |a: IpAddr, ap: u16, b: IpAddr, bp: u16, proto: u8| FlowKey {
            a: (a, ap),
            b: (b, bp),
            proto,
        };
        let v4 = |n: u32| IpAddr::from(n.to_be_bytes());
        let v6 = |n: u32| IpAddr::from(std::net::Ipv6Addr::from(0x2001_0db8u128 << 96 | n as u128));
        let families: [Vec<FlowKey>; 4] = [
            (0..=65535u16)
                .map(|p| key(v4(0x0a00_0001), p, v4(0x0a00_0002), 443, 6))
                .collect(),
            (0..65536u32)
                .map(|n| key(v4(0x0a00_0000 + n), 5353, v4(0x0808_0808), 53, 17))
                .collect(),
            (0..65536u32)
                .map(|n| key(v6(1), 443, v6(n + 2), 40000, 6))
                .collect(),
            (0..=255u8)
                .map(|proto| key(v4(1), 0, v4(2), 0, proto))
                .collect(),
        ];
        for seed in [
            [0, 0],
            [1, 2],
            [0x9e37_79b9_7f4a_7c15, u64::MAX],
            [7 << 60, 0],
        ] {
            for keys in &families {
                let mut hashes: Vec<u64> = keys.iter().map(|k| k.table_hash(seed)).collect();
                // 65 536 keys over 2^17 homes (the index at half load): random keys put at
                // most 7 or 8 in one home.
                let mut homes = vec![0u16; 1 << 17];
                for h in &hashes {
                    homes[(h >> 32) as usize & ((1 << 17) - 1)] += 1;
                }
                let crowded = homes.iter().max().copied().unwrap_or(0);
                assert!(crowded <= 10, "{crowded} keys in one home, seed {seed:?}");
                hashes.sort_unstable();
                hashes.dedup();
                assert_eq!(hashes.len(), keys.len(), "a 64-bit collision");
            }
        }
        // Addresses whose low half is a constant the hash uses, the rest chosen freely: no
        // operand can be made zero without the seed, so these spread as well.
        for low in SPREAD {
            let chosen = |high: u64| {
                IpAddr::from(std::net::Ipv6Addr::from(
                    (u128::from(high) << 64) | u128::from(low),
                ))
            };
            let server = IpAddr::from(std::net::Ipv6Addr::from(u128::MAX));
            let seed = [0x1234_5678_9abc_def0, 0x0fed_cba9_8765_4321];
            let mut hashes: Vec<u64> = (0..5000u64)
                .flat_map(|n| {
                    let high = n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
                    [
                        key(chosen(high), 443, server, 443, 6).table_hash(seed),
                        key(server, 443, chosen(high), 443, 6).table_hash(seed),
                    ]
                })
                .collect();
            hashes.sort_unstable();
            hashes.dedup();
            assert_eq!(hashes.len(), 10_000, "chosen IPv6 addresses collide");
        }
        let k = key(v4(1), 2, v4(3), 4, 6);
        assert_eq!(k.table_hash([5, 6]), { k }.table_hash([5, 6]));
        assert_ne!(k.table_hash([5, 6]), k.table_hash([5, 7]));
    }
}
