//! Decoding a captured frame down to TCP or UDP: link layer ([`link`]), then IPv4 or IPv6
//! (with extension headers) and the transport header, with `etherparse`'s lax slicers, which
//! accept frames cut short by the snap length and use what is there.
//!
//! Contract: [`decode`] never panics and never allocates; a frame it cannot use is a [`Skip`]
//! reason, which the caller counts. The flow key of a decoded packet is in [`crate::flow::key`].
//!
//! Limits: IP fragments are not reassembled here (they are counted as
//! [`Skip::IpFragment`]); tunnels are not entered.

pub mod link;

use std::net::IpAddr;

use etherparse::{IpNumber, LaxIpSlice, TcpSlice, UdpSlice};

/// Why a frame was not inspected. The discriminants index [`SkipCounts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// The capture's link type is not one we decode.
    UnsupportedLinkType,
    /// The frame is shorter than its link-layer header.
    TruncatedLinkHeader,
    /// More VLAN tags than [`link::MAX_VLAN_TAGS`].
    TooManyVlanTags,
    /// ARP, LLDP, and everything else that is not IP.
    NotIp,
    /// The IP header is cut short or invalid.
    BadIpHeader,
    /// An IP fragment (not reassembled).
    IpFragment,
    /// The TCP header is cut short or invalid.
    BadTcpHeader,
    /// The UDP header is cut short.
    BadUdpHeader,
}

impl Skip {
    /// Every reason, in counter order.
    pub const ALL: [Skip; 8] = [
        Skip::UnsupportedLinkType,
        Skip::TruncatedLinkHeader,
        Skip::TooManyVlanTags,
        Skip::NotIp,
        Skip::BadIpHeader,
        Skip::IpFragment,
        Skip::BadTcpHeader,
        Skip::BadUdpHeader,
    ];

    /// Short name for summaries and stats.
    pub fn as_str(self) -> &'static str {
        match self {
            Skip::UnsupportedLinkType => "unsupported link type",
            Skip::TruncatedLinkHeader => "truncated link header",
            Skip::TooManyVlanTags => "too many VLAN tags",
            Skip::NotIp => "not IP",
            Skip::BadIpHeader => "bad IP header",
            Skip::IpFragment => "IP fragment",
            Skip::BadTcpHeader => "bad TCP header",
            Skip::BadUdpHeader => "bad UDP header",
        }
    }
}

/// Counters of skipped frames by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SkipCounts(pub [u64; Skip::ALL.len()]);

impl SkipCounts {
    /// Count one skipped frame.
    #[inline]
    pub fn add(&mut self, reason: Skip) {
        self.0[reason as usize] += 1;
    }
    /// Add another set of counters.
    pub fn merge(&mut self, other: &SkipCounts) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a += b;
        }
    }
    /// (reason, count) for every reason with a non-zero count.
    pub fn nonzero(&self) -> impl Iterator<Item = (Skip, u64)> + '_ {
        Skip::ALL
            .iter()
            .zip(self.0)
            .filter(|(_, n)| *n > 0)
            .map(|(s, n)| (*s, n))
    }
}

/// TCP flag bits, as on the wire.
pub mod tcp_flags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// ACK.
    pub const ACK: u8 = 0x10;
}

/// The transport layer of a decoded packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport<'a> {
    /// TCP segment.
    Tcp {
        /// Sequence number.
        seq: u32,
        /// Flag bits ([`tcp_flags`]).
        flags: u8,
        /// Segment payload (as captured: may be cut short by the snap length).
        payload: &'a [u8],
    },
    /// UDP datagram payload (as captured).
    Udp {
        /// Payload bytes.
        payload: &'a [u8],
    },
    /// Any other IP protocol: only its addresses are matched.
    Other,
}

/// A decoded packet: addresses, ports and transport payload, all borrowed from the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Source port (0 when the protocol has none).
    pub src_port: u16,
    /// Destination port (0 when the protocol has none).
    pub dst_port: u16,
    /// IP protocol number.
    pub proto: u8,
    /// Transport header fields and payload.
    pub transport: Transport<'a>,
    /// Outer VLAN ids (see [`link::NetworkLayer`]).
    pub vlans: [u16; 2],
    /// How many of `vlans` are set.
    pub vlan_count: u8,
}

/// Decode one frame.
pub fn decode(linktype: i32, frame: &[u8]) -> Result<Packet<'_>, Skip> {
    let net = link::network_layer(linktype, frame)?;
    let (ip, _ext_err) = LaxIpSlice::from_slice(net.bytes).map_err(|_| Skip::BadIpHeader)?;
    let payload = ip.payload();
    if payload.fragmented {
        return Err(Skip::IpFragment);
    }
    let (src, dst) = (ip.source_addr(), ip.destination_addr());
    let proto = payload.ip_number;
    let mut packet = Packet {
        src,
        dst,
        src_port: 0,
        dst_port: 0,
        proto: proto.0,
        transport: Transport::Other,
        vlans: net.vlans,
        vlan_count: net.vlan_count,
    };
    match proto {
        IpNumber::TCP => {
            let tcp = TcpSlice::from_slice(payload.payload).map_err(|_| Skip::BadTcpHeader)?;
            packet.src_port = tcp.source_port();
            packet.dst_port = tcp.destination_port();
            let flags = (tcp.fin() as u8 * tcp_flags::FIN)
                | (tcp.syn() as u8 * tcp_flags::SYN)
                | (tcp.rst() as u8 * tcp_flags::RST)
                | (tcp.ack() as u8 * tcp_flags::ACK);
            packet.transport = Transport::Tcp {
                seq: tcp.sequence_number(),
                flags,
                payload: tcp.payload(),
            };
        }
        IpNumber::UDP => {
            let udp = UdpSlice::from_slice_lax(payload.payload).map_err(|_| Skip::BadUdpHeader)?;
            packet.src_port = udp.source_port();
            packet.dst_port = udp.destination_port();
            packet.transport = Transport::Udp {
                payload: udp.payload(),
            };
        }
        _ => {}
    }
    Ok(packet)
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn udp_frame(payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(5000, 53)
            .write(&mut out, payload)
            .unwrap();
        out
    }

    #[test]
    fn udp_over_ethernet() {
        let f = udp_frame(b"hello");
        let p = decode(link::linktype::ETHERNET, &f).unwrap();
        assert_eq!(p.src, "10.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!((p.src_port, p.dst_port, p.proto), (5000, 53, 17));
        assert_eq!(p.transport, Transport::Udp { payload: b"hello" });
    }

    #[test]
    fn tcp_over_ipv6_raw() {
        let mut out = Vec::new();
        PacketBuilder::ipv6([1; 16], [2; 16], 64)
            .tcp(40000, 443, 1000, 65535)
            .syn()
            .write(&mut out, b"")
            .unwrap();
        let p = decode(link::linktype::RAW, &out).unwrap();
        assert_eq!(
            p.transport,
            Transport::Tcp {
                seq: 1000,
                flags: tcp_flags::SYN,
                payload: b""
            }
        );
    }

    #[test]
    fn every_truncation_is_a_reason() {
        let f = udp_frame(b"hello");
        for cut in 0..f.len() {
            let _ = decode(link::linktype::ETHERNET, &f[..cut]);
        }
        assert_eq!(
            decode(link::linktype::ETHERNET, &f[..20]),
            Err(Skip::BadIpHeader)
        );
        assert_eq!(
            decode(link::linktype::ETHERNET, &f[..36]),
            Err(Skip::BadUdpHeader)
        );
    }
}
