//! Link layers: from a captured frame to the network-layer bytes and their EtherType.
//!
//! Link types (numbers as libpcap reports them for savefiles and live handles):
//! Ethernet (1) with any stack of 802.1Q / 802.1ad / QinQ tags, MPLS labels (IPv4, IPv6 or
//! an Ethernet pseudowire behind them) and PPPoE sessions, BSD null (0, host byte order)
//! and loop (108, network byte order), raw IP (12, 14, 101), IPv4 (228), IPv6 (229), Linux
//! cooked SLL (113) and SLL2 (276), Linux NFLOG (239).
//!
//! The SLL headers are read here rather than by etherparse, which rejects the ARPHRD types
//! it does not know (most of a phone capture): only the protocol field matters to us.

use super::Skip;

/// EtherType of IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// EtherType of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86DD;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88A8;
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;
const ETHERTYPE_MPLS: u16 = 0x8847;
const ETHERTYPE_MPLS_MULTICAST: u16 = 0x8848;
const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;
const PPP_IPV4: u16 = 0x0021;
const PPP_IPV6: u16 = 0x0057;

/// Most link-layer headers (VLAN tags, MPLS labels, PPPoE) walked on one frame.
pub const MAX_LINK_LAYERS: usize = 16;

/// Link types handled by [`network_layer`].
pub mod linktype {
    /// BSD loopback, address family in host byte order.
    pub const NULL: i32 = 0;
    /// Ethernet.
    pub const ETHERNET: i32 = 1;
    /// Raw IP, as DLT_RAW on most systems.
    pub const RAW_12: i32 = 12;
    /// Raw IP, as DLT_RAW on OpenBSD.
    pub const RAW_14: i32 = 14;
    /// Raw IP, LINKTYPE_RAW.
    pub const RAW: i32 = 101;
    /// OpenBSD loopback, address family in network byte order.
    pub const LOOP: i32 = 108;
    /// Linux cooked capture v1.
    pub const LINUX_SLL: i32 = 113;
    /// Linux NFLOG.
    pub const NFLOG: i32 = 239;
    /// Raw IPv4.
    pub const IPV4: i32 = 228;
    /// Raw IPv6.
    pub const IPV6: i32 = 229;
    /// Linux cooked capture v2.
    pub const LINUX_SLL2: i32 = 276;
}

/// The network layer of a frame: its EtherType (0 = look at the IP version nibble) and bytes.
#[derive(Debug, PartialEq, Eq)]
pub struct NetworkLayer<'a> {
    /// EtherType, or 0 when the link layer does not say (raw IP).
    pub ether_type: u16,
    /// Bytes from the start of the network header.
    pub bytes: &'a [u8],
    /// VLAN ids seen, outermost first (at most two kept).
    pub vlans: [u16; 2],
    /// How many VLAN ids are in `vlans`.
    pub vlan_count: u8,
}

/// Find the network layer of `frame` captured with link type `linktype`.
#[inline]
pub fn network_layer(linktype: i32, frame: &[u8]) -> Result<NetworkLayer<'_>, Skip> {
    // Most frames: Ethernet straight to IP, found here without the calls and the loop over
    // link layers (about 40 instructions a packet on the benchmark mix).
    if linktype == linktype::ETHERNET && frame.len() >= 14 {
        let ether_type = be16(frame, 12);
        if ether_type == ETHERTYPE_IPV4 || ether_type == ETHERTYPE_IPV6 {
            return Ok(NetworkLayer {
                ether_type,
                bytes: &frame[14..],
                vlans: [0; 2],
                vlan_count: 0,
            });
        }
    }
    any_network_layer(linktype, frame)
}

/// [`network_layer`] of any frame.
fn any_network_layer(linktype: i32, frame: &[u8]) -> Result<NetworkLayer<'_>, Skip> {
    use linktype::*;
    let raw = |bytes| {
        Ok(NetworkLayer {
            ether_type: 0,
            bytes,
            vlans: [0; 2],
            vlan_count: 0,
        })
    };
    match linktype {
        ETHERNET => ethernet(frame),
        RAW | RAW_12 | RAW_14 | IPV4 | IPV6 => raw(frame),
        NULL | LOOP => {
            if frame.len() < 4 {
                return Err(Skip::TruncatedLinkHeader);
            }
            // Families differ between systems (AF_INET6 is 10, 24, 28 or 30); the IP version
            // nibble says the same with less guessing.
            raw(&frame[4..])
        }
        LINUX_SLL => {
            if frame.len() < 16 {
                return Err(Skip::TruncatedLinkHeader);
            }
            after_ether_type(be16(frame, 14), &frame[16..])
        }
        LINUX_SLL2 => {
            if frame.len() < 20 {
                return Err(Skip::TruncatedLinkHeader);
            }
            after_ether_type(be16(frame, 0), &frame[20..])
        }
        NFLOG => nflog_payload(frame)
            .map(raw)
            .unwrap_or(Err(Skip::TruncatedLinkHeader)),
        _ => Err(Skip::UnsupportedLinkType),
    }
}

/// An Ethernet frame (also one carried in a tunnel): its network layer.
pub fn ethernet(frame: &[u8]) -> Result<NetworkLayer<'_>, Skip> {
    if frame.len() < 14 {
        return Err(Skip::TruncatedLinkHeader);
    }
    after_ether_type(be16(frame, 12), &frame[14..])
}

/// Walk VLAN tags, MPLS label stacks and PPPoE session headers to the IP layer.
fn after_ether_type(mut ether_type: u16, mut rest: &[u8]) -> Result<NetworkLayer<'_>, Skip> {
    let mut vlans = [0u16; 2];
    let mut vlan_count = 0u8;
    let mut layers = 0;
    loop {
        layers += 1;
        if layers > MAX_LINK_LAYERS {
            return Err(Skip::TooManyLinkLayers);
        }
        match ether_type {
            ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD => {
                if rest.len() < 4 {
                    return Err(Skip::TruncatedLinkHeader);
                }
                if (vlan_count as usize) < vlans.len() {
                    vlans[vlan_count as usize] = be16(rest, 0) & 0x0FFF;
                    vlan_count += 1;
                }
                ether_type = be16(rest, 2);
                rest = &rest[4..];
            }
            ETHERTYPE_MPLS | ETHERTYPE_MPLS_MULTICAST => {
                // Label stack entries of 4 bytes; the bottom one has the S bit (0x100).
                loop {
                    if rest.len() < 4 {
                        return Err(Skip::TruncatedLinkHeader);
                    }
                    let bottom = rest[2] & 0x01 != 0;
                    rest = &rest[4..];
                    layers += 1;
                    if layers > MAX_LINK_LAYERS {
                        return Err(Skip::TooManyLinkLayers);
                    }
                    if bottom {
                        break;
                    }
                }
                // MPLS does not say what it carries: the first nibble does (RFC 4385: 0 is a
                // pseudowire control word, followed by an Ethernet frame).
                match rest.first().map(|b| b >> 4) {
                    Some(4) => ether_type = ETHERTYPE_IPV4,
                    Some(6) => ether_type = ETHERTYPE_IPV6,
                    Some(0) if rest.len() >= 4 + 14 => {
                        ether_type = be16(rest, 4 + 12);
                        rest = &rest[4 + 14..];
                    }
                    _ => return Err(Skip::NotIp),
                }
            }
            ETHERTYPE_PPPOE_SESSION => {
                // ver/type, code, session id, length (6 bytes), then the PPP protocol.
                if rest.len() < 8 {
                    return Err(Skip::TruncatedLinkHeader);
                }
                ether_type = match be16(rest, 6) {
                    PPP_IPV4 => ETHERTYPE_IPV4,
                    PPP_IPV6 => ETHERTYPE_IPV6,
                    _ => return Err(Skip::NotIp),
                };
                rest = &rest[8..];
            }
            ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => {
                return Ok(NetworkLayer {
                    ether_type,
                    bytes: rest,
                    vlans,
                    vlan_count,
                })
            }
            _ => return Err(Skip::NotIp),
        }
    }
}

/// NFLOG: a 4-byte header, then TLVs (length and type in host = little-endian order, each
/// padded to 4 bytes); type 9 holds the packet.
fn nflog_payload(frame: &[u8]) -> Option<&[u8]> {
    const NFULA_PAYLOAD: u16 = 9;
    let mut rest = frame.get(4..)?;
    while rest.len() >= 4 {
        let len = u16::from_le_bytes([rest[0], rest[1]]) as usize;
        let tlv_type = u16::from_le_bytes([rest[2], rest[3]]);
        if len < 4 || len > rest.len() {
            return None;
        }
        if tlv_type == NFULA_PAYLOAD {
            return Some(&rest[4..len]);
        }
        let padded = (len + 3) & !3;
        rest = rest.get(padded..)?;
    }
    None
}

/// Where the IPv4 header of an Ethernet frame starts when at most two VLAN tags lie before
/// it (as on many span ports), as [`ethernet`] finds it; `None` for any other frame.
#[inline(always)]
pub fn plain_ipv4_start(frame: &[u8]) -> Option<usize> {
    let mut at = 12;
    for _ in 0..3 {
        let ether_type = frame.get(at..at + 2)?;
        match u16::from_be_bytes([ether_type[0], ether_type[1]]) {
            ETHERTYPE_IPV4 => return Some(at + 2),
            ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD => at += 4,
            _ => return None,
        }
    }
    None
}

#[inline]
fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qinq_tags_are_walked_and_kept() {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[
            0x88, 0xA8, 0x00, 0x64, 0x81, 0x00, 0x00, 0xC8, 0x08, 0x00, 0x45,
        ]);
        let n = network_layer(linktype::ETHERNET, &f).ok().unwrap();
        assert_eq!(n.ether_type, ETHERTYPE_IPV4);
        assert_eq!(&n.vlans[..n.vlan_count as usize], &[100, 200]);
        assert_eq!(n.bytes, &[0x45]);
    }

    #[test]
    fn short_and_unknown_frames_are_reasons_not_panics() {
        assert_eq!(
            network_layer(linktype::ETHERNET, &[0; 13]).err(),
            Some(Skip::TruncatedLinkHeader)
        );
        assert_eq!(
            network_layer(linktype::LINUX_SLL, &[0; 15]).err(),
            Some(Skip::TruncatedLinkHeader)
        );
        assert_eq!(
            network_layer(linktype::LINUX_SLL2, &[0; 19]).err(),
            Some(Skip::TruncatedLinkHeader)
        );
        assert_eq!(
            network_layer(9999, &[0; 40]).err(),
            Some(Skip::UnsupportedLinkType)
        );
        let mut arp = vec![0u8; 12];
        arp.extend_from_slice(&[0x08, 0x06]);
        assert_eq!(
            network_layer(linktype::ETHERNET, &arp).err(),
            Some(Skip::NotIp)
        );
        let mut deep = vec![0u8; 12];
        for _ in 0..=MAX_LINK_LAYERS {
            deep.extend_from_slice(&[0x81, 0x00, 0, 1]);
        }
        assert_eq!(
            network_layer(linktype::ETHERNET, &deep).err(),
            Some(Skip::TooManyLinkLayers)
        );
    }

    #[test]
    fn mpls_stack_and_pppoe_session() {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x88, 0x47, 0, 1, 0, 64, 0, 2, 1, 64, 0x45]); // two labels, S on the second
        let n = network_layer(linktype::ETHERNET, &f).ok().unwrap();
        assert_eq!((n.ether_type, n.bytes), (ETHERTYPE_IPV4, &[0x45][..]));
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x88, 0x64, 0x11, 0, 0, 1, 0, 10, 0x00, 0x57, 0x60]);
        let n = network_layer(linktype::ETHERNET, &f).ok().unwrap();
        assert_eq!((n.ether_type, n.bytes), (ETHERTYPE_IPV6, &[0x60][..]));
        let mut endless = vec![0u8; 12];
        endless.extend_from_slice(&[0x88, 0x47]);
        for _ in 0..40 {
            endless.extend_from_slice(&[0, 1, 0, 64]);
        }
        assert!(network_layer(linktype::ETHERNET, &endless).is_err());
    }

    #[test]
    fn nflog_payload_tlv_is_found() {
        let mut f = vec![2, 0, 0, 0];
        f.extend_from_slice(&[8, 0, 1, 0, 0, 0, 0, 0]); // some TLV, padded
        f.extend_from_slice(&[6, 0, 9, 0, 0x45, 0x00]);
        assert_eq!(
            network_layer(linktype::NFLOG, &f).ok().unwrap().bytes,
            &[0x45, 0x00]
        );
        assert!(network_layer(linktype::NFLOG, &[2, 0, 0, 0, 200, 0, 9, 0]).is_err());
    }

    /// The shortcut for Ethernet straight to IP gives what the walk over link layers gives,
    /// for every EtherType the walk knows and some it does not, at every length around the
    /// header's.
    #[test]
    fn the_ethernet_shortcut_is_the_walk() {
        let ether_types = [
            ETHERTYPE_IPV4,
            ETHERTYPE_IPV6,
            ETHERTYPE_VLAN,
            ETHERTYPE_QINQ,
            ETHERTYPE_MPLS,
            ETHERTYPE_PPPOE_SESSION,
            0x0806,
            0,
        ];
        for ether_type in ether_types {
            for len in 0..40 {
                let mut frame: Vec<u8> = (0..len as u8).collect();
                if len >= 14 {
                    frame[12..14].copy_from_slice(&ether_type.to_be_bytes());
                }
                for lt in [linktype::ETHERNET, linktype::LINUX_SLL, linktype::RAW] {
                    assert_eq!(
                        network_layer(lt, &frame),
                        any_network_layer(lt, &frame),
                        "link type {lt}, EtherType {ether_type:#06x}, {len} bytes"
                    );
                }
            }
        }
    }
}
