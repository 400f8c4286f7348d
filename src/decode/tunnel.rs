//! Tunnels: what a GRE, ERSPAN, VXLAN, Geneve or Teredo packet carries.
//!
//! Each function takes the tunnel's payload (after the outer IP or UDP header) and returns the
//! inner frame, or `None` when the bytes are not that tunnel or are cut short. IP-in-IP and
//! 6in4 need no function: the outer payload *is* the inner packet. The caller counts the
//! depth and stops at [`super::MAX_ENCAP_DEPTH`].
//!
//! ```text
//! GRE      flags+version:16 protocol:16 [checksum+reserved:32] [key:32] [sequence:32]   RFC 2784/2890
//! ERSPAN   I: none   II: ver/vlan/cos/session:64   III: 96 bits [+ 64-bit platform subheader]
//! VXLAN    flags:8 (I=0x08) reserved:24 vni:24 reserved:8 → Ethernet                  RFC 7348
//! Geneve   ver:2 optlen:6 flags:8 protocol:16 vni:24 reserved:8 options[optlen*4]     RFC 8926
//! Teredo   [auth: 0x0001 …] [origin: 0x0000 port:16 addr:32] IPv6                     RFC 4380
//! ```

/// UDP port of VXLAN.
pub const VXLAN_PORT: u16 = 4789;
/// UDP port of Geneve.
pub const GENEVE_PORT: u16 = 6081;
/// UDP port of Teredo.
pub const TEREDO_PORT: u16 = 3544;

const PROTO_ETHERNET: u16 = 0x6558;
const PROTO_IPV4: u16 = 0x0800;
const PROTO_IPV6: u16 = 0x86DD;
const PROTO_ERSPAN_2: u16 = 0x88BE;
const PROTO_ERSPAN_3: u16 = 0x22EB;

/// What a tunnel carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inner<'a> {
    /// An Ethernet frame.
    Ethernet(&'a [u8]),
    /// An IP packet.
    Ip(&'a [u8]),
}

/// Kinds of tunnel, for counters and the EVE `tunnel` object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TunnelKind {
    /// GRE carrying IP or Ethernet.
    Gre,
    /// ERSPAN (GRE carrying mirrored Ethernet).
    Erspan,
    /// IP in IP, IPv6 in IPv4.
    IpInIp,
    /// VXLAN.
    Vxlan,
    /// Geneve.
    Geneve,
    /// Teredo.
    Teredo,
}

/// The UDP tunnels looked inside, by port, in the order they are tried: a datagram to or from
/// one of these ports is read as that tunnel, and as plain UDP when it is not one.
const UDP_TUNNELS: [(u16, TunnelKind); 3] = [
    (VXLAN_PORT, TunnelKind::Vxlan),
    (GENEVE_PORT, TunnelKind::Geneve),
    (TEREDO_PORT, TunnelKind::Teredo),
];

/// The UDP tunnel a datagram between ports `a` and `b` is read as, if any.
#[inline]
pub fn udp_tunnel(a: u16, b: u16) -> Option<TunnelKind> {
    UDP_TUNNELS
        .iter()
        .find(|&&(port, _)| port == a || port == b)
        .map(|&(_, kind)| kind)
}

/// What a UDP tunnel of `kind` ([`udp_tunnel`]) carries in the datagram's `payload`.
pub fn udp_inner(kind: TunnelKind, payload: &[u8]) -> Option<Inner<'_>> {
    match kind {
        TunnelKind::Vxlan => vxlan(payload),
        TunnelKind::Geneve => geneve(payload),
        TunnelKind::Teredo => teredo(payload).map(Inner::Ip),
        TunnelKind::Gre | TunnelKind::Erspan | TunnelKind::IpInIp => None,
    }
}

/// GRE (and ERSPAN inside it).
pub fn gre(payload: &[u8]) -> Option<(Inner<'_>, TunnelKind)> {
    let flags = u16::from_be_bytes([*payload.first()?, *payload.get(1)?]);
    if flags & 0x0007 != 0 {
        return None; // version 1 (PPTP) and others
    }
    let protocol = u16::from_be_bytes([*payload.get(2)?, *payload.get(3)?]);
    let has_sequence = flags & 0x1000 != 0;
    let mut len = 4;
    for bit in [0x8000u16, 0x2000, 0x1000] {
        if flags & bit != 0 {
            len += 4;
        }
    }
    let rest = payload.get(len..)?;
    match protocol {
        PROTO_IPV4 | PROTO_IPV6 => Some((Inner::Ip(rest), TunnelKind::Gre)),
        PROTO_ETHERNET => Some((Inner::Ethernet(rest), TunnelKind::Gre)),
        // Type I has no sequence number and no ERSPAN header; type II has both.
        PROTO_ERSPAN_2 if !has_sequence => Some((Inner::Ethernet(rest), TunnelKind::Erspan)),
        PROTO_ERSPAN_2 => Some((Inner::Ethernet(rest.get(8..)?), TunnelKind::Erspan)),
        PROTO_ERSPAN_3 => {
            let optional = rest.get(11)? & 0x01 != 0;
            let skip = if optional { 12 + 8 } else { 12 };
            Some((Inner::Ethernet(rest.get(skip..)?), TunnelKind::Erspan))
        }
        _ => None,
    }
}

/// VXLAN: an Ethernet frame behind an 8-byte header with the I flag.
pub fn vxlan(payload: &[u8]) -> Option<Inner<'_>> {
    (payload.len() >= 8 + 14 && payload[0] & 0x08 != 0).then(|| Inner::Ethernet(&payload[8..]))
}

/// Geneve: Ethernet or IP behind a header with options.
pub fn geneve(payload: &[u8]) -> Option<Inner<'_>> {
    let first = *payload.first()?;
    if first >> 6 != 0 {
        return None; // unknown version
    }
    let len = 8 + usize::from(first & 0x3F) * 4;
    let protocol = u16::from_be_bytes([*payload.get(2)?, *payload.get(3)?]);
    let rest = payload.get(len..)?;
    match protocol {
        PROTO_ETHERNET => Some(Inner::Ethernet(rest)),
        PROTO_IPV4 | PROTO_IPV6 => Some(Inner::Ip(rest)),
        _ => None,
    }
}

/// Teredo: an IPv6 packet, possibly behind authentication and origin indication headers.
pub fn teredo(payload: &[u8]) -> Option<&[u8]> {
    let mut rest = payload;
    if rest.starts_with(&[0x00, 0x01]) {
        let id_len = usize::from(*rest.get(2)?);
        let auth_len = usize::from(*rest.get(3)?);
        rest = rest.get(4 + id_len + auth_len + 8 + 1..)?;
    }
    if rest.starts_with(&[0x00, 0x00]) {
        rest = rest.get(8..)?;
    }
    // An IPv6 header whose payload length fits what is there.
    let version = rest.first()? >> 4;
    let payload_len = usize::from(u16::from_be_bytes([*rest.get(4)?, *rest.get(5)?]));
    (version == 6 && rest.len() >= 40 && 40 + payload_len <= rest.len()).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gre_header_options_and_erspan_types() {
        assert_eq!(
            gre(&[0, 0, 0x08, 0x00, 0x45]),
            Some((Inner::Ip(&[0x45][..]), TunnelKind::Gre))
        );
        // key and sequence present
        let mut p = vec![0x30, 0, 0x65, 0x58, 0, 0, 0, 1, 0, 0, 0, 2];
        p.extend_from_slice(&[0xAA; 14]);
        assert_eq!(gre(&p).unwrap().0, Inner::Ethernet(&[0xAA; 14][..]));
        // ERSPAN II: sequence bit, then an 8-byte ERSPAN header
        let mut p = vec![0x10, 0, 0x88, 0xBE, 0, 0, 0, 1];
        p.extend_from_slice(&[0x10, 0, 0, 1, 0, 0, 0, 0]);
        p.extend_from_slice(&[0xBB; 14]);
        assert_eq!(
            gre(&p),
            Some((Inner::Ethernet(&[0xBB; 14][..]), TunnelKind::Erspan))
        );
        assert_eq!(gre(&[0, 1, 0x08, 0x00]), None, "version 1");
        assert_eq!(
            gre(&[0x80, 0, 0x08, 0x00, 0]),
            None,
            "checksum field cut short"
        );
    }

    #[test]
    fn vxlan_geneve_teredo() {
        let mut v = vec![0x08, 0, 0, 0, 0, 0, 1, 0];
        v.extend_from_slice(&[0xCC; 14]);
        assert_eq!(vxlan(&v), Some(Inner::Ethernet(&[0xCC; 14][..])));
        assert_eq!(vxlan(&v[..10]), None);
        let mut g = vec![0x01, 0, 0x65, 0x58, 0, 0, 1, 0, 1, 2, 3, 4];
        g.extend_from_slice(&[0xDD; 14]);
        assert_eq!(geneve(&g), Some(Inner::Ethernet(&[0xDD; 14][..])));
        assert_eq!(geneve(&g[..10]), None);
        let mut t = vec![0x00, 0x00, 1, 2, 3, 4, 5, 6];
        let mut v6 = vec![0x60, 0, 0, 0, 0, 4, 17, 64];
        v6.extend_from_slice(&[0; 32]);
        v6.extend_from_slice(&[1, 2, 3, 4]);
        t.extend_from_slice(&v6);
        assert_eq!(teredo(&t), Some(&v6[..]));
        assert_eq!(teredo(&[0x00, 0x01, 200, 200]), None);
        assert_eq!(
            teredo(b"not ipv6 at all, just some udp payload of some size...."),
            None
        );
    }
}
