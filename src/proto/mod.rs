//! Application protocols: bytes in, names out. Each parser takes `&[u8]`, borrows what it
//! returns, keeps "need more bytes" apart from "not this protocol" and "malformed", and never
//! panics or allocates on its own account.
//!
//! - [`dns`]: DNS, mDNS and LLMNR messages (UDP payloads, or TCP messages after the length
//!   prefix);
//! - [`tls`]: the ClientHello at the start of a TCP stream: SNI, ECH;
//! - [`http`]: HTTP/1.x request heads: Host, absolute-URI and CONNECT targets.

pub mod dns;
pub mod http;
pub mod quic;
pub mod tls;

/// UDP and TCP ports on which DNS-format messages are read: DNS, mDNS, LLMNR.
pub const DNS_PORTS: [u16; 3] = [53, 5353, 5355];

/// True when either port is a DNS-format port.
#[inline]
pub fn is_dns_port(src_port: u16, dst_port: u16) -> bool {
    DNS_PORTS.contains(&src_port) || DNS_PORTS.contains(&dst_port)
}
