//! Decoding a captured frame down to TCP or UDP: link layer ([`link`]), then IPv4 or IPv6
//! (with extension headers) and the transport header, with `etherparse`'s lax slicers, which
//! accept frames cut short by the snap length and use what is there.
//!
//! Contract: [`decode`] never panics and never allocates; a frame it cannot use is a [`Skip`]
//! reason, which the caller counts. The flow key of a decoded packet is in [`crate::flow::key`].
//!
//! Tunnels ([`tunnel`]: GRE, ERSPAN I/II/III, VXLAN, Geneve, Teredo, IP-in-IP, 6in4) are
//! entered, in any nesting, down to the innermost IP packet, at most [`MAX_ENCAP_DEPTH`]
//! deep; the flow is the innermost one and the packet keeps its outermost tunnel.
//! IP fragments are returned as [`Transport::Fragment`] for [`defrag`] to reassemble.

pub mod defrag;
pub mod link;
pub mod tunnel;

use std::net::{IpAddr, Ipv4Addr};

use etherparse::{IpNumber, LaxIpSlice, TcpSlice, UdpSlice};

/// Why a frame was not inspected. The discriminants index [`SkipCounts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// The capture's link type is not one we decode.
    UnsupportedLinkType,
    /// The frame is shorter than its link-layer header.
    TruncatedLinkHeader,
    /// More VLAN tags, MPLS labels or PPPoE headers than [`link::MAX_LINK_LAYERS`].
    TooManyLinkLayers,
    /// ARP, LLDP, and everything else that is not IP.
    NotIp,
    /// The IP header is cut short or invalid.
    BadIpHeader,
    /// An IP fragment that reached a worker (fragments are reassembled before dispatch).
    IpFragment,
    /// The TCP header is cut short or invalid.
    BadTcpHeader,
    /// The UDP header is cut short.
    BadUdpHeader,
    /// More nested tunnels than [`MAX_ENCAP_DEPTH`].
    TunnelTooDeep,
}

impl Skip {
    /// Every reason, in counter order.
    pub const ALL: [Skip; 9] = [
        Skip::UnsupportedLinkType,
        Skip::TruncatedLinkHeader,
        Skip::TooManyLinkLayers,
        Skip::NotIp,
        Skip::BadIpHeader,
        Skip::IpFragment,
        Skip::BadTcpHeader,
        Skip::BadUdpHeader,
        Skip::TunnelTooDeep,
    ];

    /// Short name for summaries and stats.
    pub fn as_str(self) -> &'static str {
        match self {
            Skip::UnsupportedLinkType => "unsupported link type",
            Skip::TruncatedLinkHeader => "truncated link header",
            Skip::TooManyLinkLayers => "too many link-layer headers",
            Skip::NotIp => "not IP",
            Skip::BadIpHeader => "bad IP header",
            Skip::IpFragment => "IP fragment",
            Skip::BadTcpHeader => "bad TCP header",
            Skip::BadUdpHeader => "bad UDP header",
            Skip::TunnelTooDeep => "tunnels nested too deep",
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
    /// One fragment of an IP datagram: see [`defrag`].
    Fragment(defrag::Fragment<'a>),
    /// Any other IP protocol: only its addresses are matched.
    Other,
}

/// The outermost tunnel a packet came through (for the EVE `tunnel` object).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TunnelInfo {
    /// Outer source address.
    pub src: IpAddr,
    /// Outer destination address.
    pub dst: IpAddr,
    /// Outer source port (UDP tunnels), else 0.
    pub src_port: u16,
    /// Outer destination port (UDP tunnels), else 0.
    pub dst_port: u16,
    /// Outer IP protocol (47 GRE, 17 UDP, 4 or 41 IP in IP).
    pub proto: u8,
    /// How many tunnels were entered in all.
    pub depth: u8,
    /// What the outermost tunnel is.
    pub kind: tunnel::TunnelKind,
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
    /// The outermost tunnel, when the packet came through one.
    pub tunnel: Option<TunnelInfo>,
}

/// Most tunnels entered for one packet; more is counted as [`Skip::TunnelTooDeep`].
pub const MAX_ENCAP_DEPTH: u8 = 8;

/// Count one more tunnel level (keeping the outermost tunnel's description) and find the
/// inner IP packet.
fn enter<'a>(
    inner: tunnel::Inner<'a>,
    depth: &mut u8,
    tunnel: &mut Option<TunnelInfo>,
    outer: TunnelInfo,
) -> Result<&'a [u8], Skip> {
    *depth += 1;
    if *depth > MAX_ENCAP_DEPTH {
        return Err(Skip::TunnelTooDeep);
    }
    tunnel.get_or_insert(outer).depth = *depth;
    match inner {
        tunnel::Inner::Ip(b) => Ok(b),
        tunnel::Inner::Ethernet(b) => Ok(link::ethernet(b)?.bytes),
    }
}

/// The most common IP header, read by hand: IPv4 without options, not fragmented, whose total
/// length lies within the captured bytes, carrying TCP or UDP. Addresses, protocol and
/// payload, exactly as etherparse's lax slice gives them for such a header (a test compares
/// the two on every frame of the corpus and every cut of them); `None` for any other header,
/// which etherparse reads. Measured: the general path cost ~8 % of a replay's CPU, mostly here.
#[inline]
fn plain_ipv4(bytes: &[u8]) -> Option<(IpAddr, IpAddr, IpNumber, &[u8])> {
    let (header, payload) = plain_ipv4_header(bytes)?;
    let (src, dst) = ipv4_addresses(header);
    Some((src.into(), dst.into(), IpNumber(header[9]), payload))
}

/// [`plain_ipv4`]'s checks: the header and the payload it bounds.
#[inline(always)]
fn plain_ipv4_header(bytes: &[u8]) -> Option<(&[u8; 20], &[u8])> {
    let header: &[u8; 20] = bytes.get(..20)?.try_into().ok()?;
    let total = usize::from(u16::from_be_bytes([header[2], header[3]]));
    let fragment = u16::from_be_bytes([header[6], header[7]]) & 0x3fff; // MF and offset
                                                                        // TCP and UDP only: etherparse reads past IPv4 extension headers (AH) for the others.
    let transport = matches!(IpNumber(header[9]), IpNumber::TCP | IpNumber::UDP);
    if header[0] != 0x45 || total < 20 || total > bytes.len() || fragment != 0 || !transport {
        return None;
    }
    Some((header, &bytes[20..total]))
}

/// The source and destination addresses of an IPv4 header.
#[inline(always)]
fn ipv4_addresses(header: &[u8; 20]) -> (Ipv4Addr, Ipv4Addr) {
    let at = |i: usize| Ipv4Addr::new(header[i], header[i + 1], header[i + 2], header[i + 3]);
    (at(12), at(16))
}

/// The flow endpoints of a plain frame ([`plain_endpoints`]): IPv4 addresses and ports, as a
/// decoded packet names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlainEndpoints {
    /// Source address and port.
    pub src: (Ipv4Addr, u16),
    /// Destination address and port.
    pub dst: (Ipv4Addr, u16),
    /// IP protocol number (TCP or UDP).
    pub proto: u8,
}

/// The endpoints of the most common frame, read without decoding it whole: Ethernet with at
/// most two VLAN tags, an IPv4 header without options (not a fragment), and a whole TCP
/// header or a UDP header to ports no tunnel uses. Exactly what [`decode`] gives for such a frame (tests
/// compare the two on every frame of the corpus and cuts of them, a fuzz target on any
/// bytes); `None` for every other frame, which only [`decode`] reads. For choosing a flow's
/// worker: one more whole decode per packet made the two-worker replay of the mix a tenth
/// slower.
#[inline(always)]
pub fn plain_endpoints(linktype: i32, frame: &[u8]) -> Option<PlainEndpoints> {
    if linktype != link::linktype::ETHERNET {
        return None;
    }
    let (header, l4) = plain_ipv4_header(&frame[link::plain_ipv4_start(frame)?..])?;
    let proto = IpNumber(header[9]);
    let ports = l4.get(..4)?;
    let (sport, dport) = (
        u16::from_be_bytes([ports[0], ports[1]]),
        u16::from_be_bytes([ports[2], ports[3]]),
    );
    let whole = match proto {
        // etherparse's TCP header: 20 bytes at least, all that the data offset says there.
        IpNumber::TCP => {
            let header = usize::from(*l4.get(12)? >> 4) * 4;
            header >= 20 && header <= l4.len()
        }
        // A UDP port a tunnel uses is left to `decode`, which looks inside.
        _ => l4.len() >= 8 && tunnel::udp_tunnel(sport, dport).is_none(),
    };
    let (src, dst) = ipv4_addresses(header);
    whole.then_some(PlainEndpoints {
        src: (src, sport),
        dst: (dst, dport),
        proto: proto.0,
    })
}

/// Decode one frame, entering tunnels down to the innermost IP packet.
#[inline]
pub fn decode(linktype: i32, frame: &[u8]) -> Result<Packet<'_>, Skip> {
    decode_with(linktype, frame, true)
}

/// The endpoints [`decode`] finds in `frame` when it is a TCP or UDP packet over IPv4: what
/// [`plain_endpoints`] must give wherever it gives any (the reference of its tests and of the
/// `decode` fuzz target).
#[doc(hidden)]
pub fn endpoints_reference(linktype: i32, frame: &[u8]) -> Option<PlainEndpoints> {
    let p = decode(linktype, frame).ok()?;
    let (IpAddr::V4(src), IpAddr::V4(dst)) = (p.src, p.dst) else {
        return None;
    };
    matches!(p.transport, Transport::Tcp { .. } | Transport::Udp { .. }).then_some(PlainEndpoints {
        src: (src, p.src_port),
        dst: (dst, p.dst_port),
        proto: p.proto,
    })
}

/// [`decode`] with every IP header read by etherparse: the reference the hand-read header
/// is tested against.
#[doc(hidden)]
pub fn decode_reference(linktype: i32, frame: &[u8]) -> Result<Packet<'_>, Skip> {
    decode_with(linktype, frame, false)
}

fn decode_with(linktype: i32, frame: &[u8], shortcut: bool) -> Result<Packet<'_>, Skip> {
    let net = link::network_layer(linktype, frame)?;
    let (vlans, vlan_count) = (net.vlans, net.vlan_count);
    let mut bytes = net.bytes;
    let mut tunnel: Option<TunnelInfo> = None;
    let mut depth = 0u8;
    loop {
        let mut packet = Packet {
            src: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            dst: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            src_port: 0,
            dst_port: 0,
            proto: 0,
            transport: Transport::Other,
            vlans,
            vlan_count,
            tunnel,
        };
        let (src, dst, proto, l4) = match plain_ipv4(bytes).filter(|_| shortcut) {
            Some(found) => found,
            None => {
                let (ip, _ext_err) =
                    LaxIpSlice::from_slice(bytes).map_err(|_| Skip::BadIpHeader)?;
                let payload = ip.payload();
                let (src, dst) = (ip.source_addr(), ip.destination_addr());
                if payload.fragmented {
                    packet.src = src;
                    packet.dst = dst;
                    packet.proto = payload.ip_number.0;
                    packet.transport =
                        Transport::Fragment(defrag::Fragment::of(&ip).ok_or(Skip::BadIpHeader)?);
                    return Ok(packet);
                }
                (src, dst, payload.ip_number, payload.payload)
            }
        };
        packet.src = src;
        packet.dst = dst;
        packet.proto = proto.0;
        // Described only when a tunnel is entered (built for every packet, it cost 15
        // instructions each).
        let outer = |kind| TunnelInfo {
            src,
            dst,
            src_port: 0,
            dst_port: 0,
            proto: proto.0,
            depth: 0,
            kind,
        };
        match proto {
            IpNumber::TCP => {
                let tcp = TcpSlice::from_slice(l4).map_err(|_| Skip::BadTcpHeader)?;
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
                return Ok(packet);
            }
            IpNumber::UDP => {
                let udp = UdpSlice::from_slice_lax(l4).map_err(|_| Skip::BadUdpHeader)?;
                let (sport, dport, data) =
                    (udp.source_port(), udp.destination_port(), udp.payload());
                let inner = tunnel::udp_tunnel(sport, dport)
                    .and_then(|kind| Some((kind, tunnel::udp_inner(kind, data)?)));
                match inner {
                    Some((kind, inner)) => {
                        let info = TunnelInfo {
                            src_port: sport,
                            dst_port: dport,
                            ..outer(kind)
                        };
                        bytes = enter(inner, &mut depth, &mut tunnel, info)?
                    }
                    None => {
                        packet.src_port = sport;
                        packet.dst_port = dport;
                        packet.transport = Transport::Udp { payload: data };
                        return Ok(packet);
                    }
                }
            }
            IpNumber::GRE => match tunnel::gre(l4) {
                Some((inner, kind)) => bytes = enter(inner, &mut depth, &mut tunnel, outer(kind))?,
                None => return Ok(packet),
            },
            IpNumber::IPV4 | IpNumber::IPV6 => {
                bytes = enter(
                    tunnel::Inner::Ip(l4),
                    &mut depth,
                    &mut tunnel,
                    outer(tunnel::TunnelKind::IpInIp),
                )?;
            }
            _ => return Ok(packet),
        }
    }
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
    fn ipv4_with_an_authentication_header_is_read_past_it() {
        // Found by the decode fuzz target (hand-read header against etherparse): AH is an
        // IPv4 extension header that etherparse reads past, so the shortcut must not take it.
        let mut ip = vec![
            0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 51, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        ip.extend_from_slice(&[6, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1]); // AH: next header TCP
        ip.extend_from_slice(&[
            0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0,
        ]);
        let total = ip.len() as u16;
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        let p = decode(link::linktype::RAW, &ip).unwrap();
        assert_eq!(Ok(p), decode_reference(link::linktype::RAW, &ip));
        assert_eq!((p.proto, p.src_port, p.dst_port), (6, 40000, 80));
    }

    /// What [`plain_endpoints`] must give for the Ethernet `frame`.
    fn endpoints_of(frame: &[u8]) -> Option<PlainEndpoints> {
        endpoints_reference(link::linktype::ETHERNET, frame)
    }

    #[test]
    fn plain_frames_give_their_endpoints_without_a_whole_decode() {
        let tcp = {
            let mut out = Vec::new();
            PacketBuilder::ethernet2([1; 6], [2; 6])
                .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
                .tcp(40000, 443, 1, 65535)
                .write(&mut out, b"GET")
                .unwrap();
            out
        };
        let want = |sport, dport, proto| {
            Some(PlainEndpoints {
                src: (Ipv4Addr::new(10, 0, 0, 1), sport),
                dst: (Ipv4Addr::new(10, 0, 0, 2), dport),
                proto,
            })
        };
        let ethernet = link::linktype::ETHERNET;
        assert_eq!(plain_endpoints(ethernet, &tcp), want(40000, 443, 6));
        assert_eq!(
            plain_endpoints(ethernet, &udp_frame(b"q")),
            want(5000, 53, 17)
        );
        // A TCP data offset below 5 words, or past the segment: decode refuses both.
        for offset in [0x40, 0xf0] {
            let mut bad = tcp.clone();
            bad[14 + 20 + 12] = offset;
            assert_eq!(plain_endpoints(ethernet, &bad), None);
            assert!(decode(ethernet, &bad).is_err());
        }
        // One and two VLAN tags (802.1Q, then 802.1ad outside it), as on span ports.
        let mut tagged = tcp.clone();
        tagged.splice(12..12, [0x81, 0x00, 0x00, 0x07]);
        assert_eq!(plain_endpoints(ethernet, &tagged), want(40000, 443, 6));
        let mut double = tagged.clone();
        double.splice(12..12, [0x88, 0xa8, 0x00, 0x64]);
        assert_eq!(plain_endpoints(ethernet, &double), want(40000, 443, 6));
        // Left to the whole decode: a UDP port a tunnel uses, three tags, MPLS, other link
        // types.
        let mut vxlan = udp_frame(b"q");
        vxlan[14 + 20 + 2..14 + 20 + 4].copy_from_slice(&tunnel::VXLAN_PORT.to_be_bytes());
        assert_eq!(plain_endpoints(ethernet, &vxlan), None);
        let mut triple = double.clone();
        triple.splice(12..12, [0x91, 0x00, 0x00, 0x01]);
        assert_eq!(plain_endpoints(ethernet, &triple), None);
        assert!(endpoints_of(&triple).is_some());
        let mut mpls = tcp.clone();
        mpls.splice(12..14, [0x88, 0x47, 0x00, 0x01, 0x01, 0x40]);
        assert_eq!(plain_endpoints(ethernet, &mpls), None);
        assert!(endpoints_of(&mpls).is_some());
        assert_eq!(plain_endpoints(link::linktype::RAW, &tcp[14..]), None);
        // Every cut: the same endpoints as decode, or none.
        for frame in [&tcp, &udp_frame(b"hello"), &vxlan, &tagged, &double] {
            for cut in 0..=frame.len() {
                let frame = &frame[..cut];
                if let Some(found) = plain_endpoints(ethernet, frame) {
                    assert_eq!(Some(found), endpoints_of(frame), "cut at {cut}");
                }
            }
        }
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
