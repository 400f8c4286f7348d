//! Community ID flow hashing, version 1 (<https://github.com/corelight/community-id-spec>):
//! `"1:" + base64(sha1(seed:16 saddr daddr proto:8 pad:8 sport:16 dport:16))`, with the
//! endpoints ordered so that both directions give the same value. Ports are included for
//! TCP, UDP and SCTP only.

use std::net::IpAddr;

use base64::Engine;
use sha1::{Digest, Sha1};

/// Community ID v1 with seed 0.
pub fn community_id(src: IpAddr, src_port: u16, dst: IpAddr, dst_port: u16, proto: u8) -> String {
    let (mut a, mut b) = ((src, src_port), (dst, dst_port));
    let ordered = match (a.0, b.0) {
        (IpAddr::V4(x), IpAddr::V4(y)) => (x.octets(), a.1) <= (y.octets(), b.1),
        (IpAddr::V6(x), IpAddr::V6(y)) => (x.octets(), a.1) <= (y.octets(), b.1),
        _ => a <= b,
    };
    if !ordered {
        std::mem::swap(&mut a, &mut b);
    }
    let mut h = Sha1::new();
    h.update(0u16.to_be_bytes());
    for addr in [a.0, b.0] {
        match addr {
            IpAddr::V4(x) => h.update(x.octets()),
            IpAddr::V6(x) => h.update(x.octets()),
        }
    }
    h.update([proto, 0]);
    if matches!(proto, 6 | 17 | 132) {
        h.update(a.1.to_be_bytes());
        h.update(b.1.to_be_bytes());
    }
    format!(
        "1:{}",
        base64::engine::general_purpose::STANDARD.encode(h.finalize())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_example_both_directions() {
        // From the specification's README: TCP 128.232.110.120:34855 -> 66.35.250.204:80.
        let a: IpAddr = "128.232.110.120".parse().unwrap();
        let b: IpAddr = "66.35.250.204".parse().unwrap();
        assert_eq!(
            community_id(a, 34855, b, 80, 6),
            "1:LQU9qZlK+B5F3KDmev6m5PMibrg="
        );
        assert_eq!(
            community_id(b, 80, a, 34855, 6),
            "1:LQU9qZlK+B5F3KDmev6m5PMibrg="
        );
    }
}
