//! Flow keys: the 5-tuple of a packet in a direction-free order, so that both directions of
//! a flow have the same key (and the same dispatch hash, and so reach the same worker).

use std::hash::BuildHasher;
use std::net::IpAddr;

use crate::decode::Packet;

/// A flow's 5-tuple, ordered: `a` is the lower (address, port) endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

impl FlowKey {
    /// The key of a packet, and the side that sent it.
    #[inline]
    pub fn of(p: &Packet<'_>) -> (FlowKey, Side) {
        let src = (p.src, p.src_port);
        let dst = (p.dst, p.dst_port);
        if src <= dst {
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

    /// Symmetric hash used to choose a worker.
    #[inline]
    pub fn dispatch_hash(&self) -> u64 {
        foldhash::fast::FixedState::with_seed(FIXED_SEED).hash_one(self)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{Packet, Transport};

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
    }
}
