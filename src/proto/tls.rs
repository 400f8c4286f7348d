//! TLS ClientHello: the server name (SNI) and whether Encrypted Client Hello is offered.
//!
//! Input is the start of a client-to-server byte stream (after TCP reassembly), which may hold
//! the ClientHello split over several TLS records and not yet complete. The handshake bytes
//! are gathered from consecutive handshake records into a caller-owned scratch buffer, then:
//!
//! ```text
//! ClientHello  legacy_version:16 random[32] session_id<0..32> cipher_suites<2..2^16-2>
//!              compression_methods<1..2^8-1> extensions<0..2^16-1>
//! ```
//! The fixed fields are skipped here (leniently: an odd cipher-suite length, which real
//! clients send and tshark accepts, is not an error) and the extension block is parsed by
//! `tls-parser`, whose strict ClientHello parser rejects those clients.
//!
//! Limits: a ClientHello larger than [`MAX_CLIENT_HELLO`] is given up as malformed. SSLv2
//! hellos carry no SNI and are reported as not TLS.

use tls_parser::{parse_tls_extensions, SNIType, TlsExtension, TlsExtensionType};

/// Largest ClientHello we gather: real ones reach ~8 KiB with post-quantum key shares and
/// padding; 64 KiB leaves room and bounds the memory per flow.
pub const MAX_CLIENT_HELLO: usize = 64 * 1024;
/// Largest TLS record (RFC 8446 5.1: 2^14 plus expansion).
const MAX_RECORD: usize = 16384 + 2048;
const CONTENT_HANDSHAKE: u8 = 22;
const HANDSHAKE_CLIENT_HELLO: u8 = 1;
/// Extension code point of Encrypted Client Hello (draft-ietf-tls-esni-13 and later).
pub const EXT_ECH: u16 = 0xfe0d;
/// Extension code point of the older encrypted SNI draft.
pub const EXT_ESNI: u16 = 0xffce;

/// Most extension types kept per ClientHello (real ones carry 10 to 25).
pub const MAX_EXTENSIONS: usize = 48;

/// What a ClientHello told us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientHello<'a> {
    /// The host_name entry of the server_name extension, as sent.
    pub sni: Option<&'a [u8]>,
    /// True when an ECH or ESNI extension is present: the SNI is then the provider's public name.
    pub ech: bool,
    /// Legacy version field of the ClientHello.
    pub version: u16,
    /// Highest version offered in supported_versions (GREASE values ignored), if present.
    pub max_supported_version: Option<u16>,
    exts: [u16; MAX_EXTENSIONS],
    ext_count: u8,
}

impl ClientHello<'_> {
    /// Extension types in the order sent (the first [`MAX_EXTENSIONS`]).
    pub fn extensions(&self) -> &[u16] {
        &self.exts[..self.ext_count as usize]
    }

    /// The highest TLS version offered, as Suricata names it (`TLS 1.3`).
    pub fn version_name(&self) -> Option<&'static str> {
        match self.max_supported_version.unwrap_or(self.version) {
            0x0300 => Some("SSLv3"),
            0x0301 => Some("TLS 1.0"),
            0x0302 => Some("TLS 1.1"),
            0x0303 => Some("TLS 1.2"),
            0x0304 => Some("TLS 1.3"),
            _ => None,
        }
    }
}

/// GREASE values (RFC 8701): 0x?a?a.
fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && (v >> 8) == (v & 0xff)
}

/// Result of looking at the start of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress<'a> {
    /// Looks like TLS, but the ClientHello is not complete yet.
    NeedMore,
    /// The stream does not start with a TLS handshake record carrying a ClientHello.
    NotClientHello,
    /// A handshake that cannot be a valid ClientHello.
    Malformed,
    /// The ClientHello.
    Done(ClientHello<'a>),
}

/// Quick test on the first bytes of a stream: a handshake record of TLS 1.x (or SSL 3).
pub fn starts_like_tls(stream: &[u8]) -> bool {
    stream.len() >= 2 && stream[0] == CONTENT_HANDSHAKE && stream[1] == 3
}

/// Find the ClientHello at the start of `stream`, gathering its handshake bytes in `scratch`.
pub fn client_hello_in_stream<'s>(stream: &[u8], scratch: &'s mut Vec<u8>) -> Progress<'s> {
    scratch.clear();
    let mut pos = 0;
    loop {
        let Some(header) = stream.get(pos..pos + 5) else {
            return if pos == 0 && !stream.is_empty() && stream[0] != CONTENT_HANDSHAKE {
                Progress::NotClientHello
            } else {
                Progress::NeedMore
            };
        };
        if header[0] != CONTENT_HANDSHAKE || header[1] != 3 {
            return if pos == 0 {
                Progress::NotClientHello
            } else {
                Progress::Malformed
            };
        }
        let len = u16::from_be_bytes([header[3], header[4]]) as usize;
        if len == 0 || len > MAX_RECORD {
            return Progress::Malformed;
        }
        let Some(body) = stream.get(pos + 5..pos + 5 + len) else {
            return Progress::NeedMore;
        };
        scratch.extend_from_slice(body);
        pos += 5 + len;
        if scratch.len() >= 4 {
            if scratch[0] != HANDSHAKE_CLIENT_HELLO {
                return Progress::NotClientHello;
            }
            let hs_len = u32::from_be_bytes([0, scratch[1], scratch[2], scratch[3]]) as usize;
            if hs_len > MAX_CLIENT_HELLO {
                return Progress::Malformed;
            }
            if scratch.len() >= 4 + hs_len {
                return match client_hello_body(&scratch[4..4 + hs_len]) {
                    Some(hello) => Progress::Done(hello),
                    None => Progress::Malformed,
                };
            }
        }
    }
}

/// Read a ClientHello handshake body (after the 4-byte handshake header). Used for TCP
/// streams and for the CRYPTO frames of QUIC Initials.
pub fn client_hello_body(body: &[u8]) -> Option<ClientHello<'_>> {
    let version = u16::from_be_bytes([*body.first()?, *body.get(1)?]);
    let mut pos = 2 + 32;
    let sid_len = *body.get(pos)? as usize;
    pos += 1 + sid_len;
    let cs_len = u16::from_be_bytes([*body.get(pos)?, *body.get(pos + 1)?]) as usize;
    pos += 2 + cs_len;
    let comp_len = *body.get(pos)? as usize;
    pos += 1 + comp_len;
    let mut hello = ClientHello {
        sni: None,
        ech: false,
        version,
        max_supported_version: None,
        exts: [0; MAX_EXTENSIONS],
        ext_count: 0,
    };
    if pos == body.len() {
        return Some(hello); // no extensions at all (old clients)
    }
    let ext_len = u16::from_be_bytes([*body.get(pos)?, *body.get(pos + 1)?]) as usize;
    let ext = body.get(pos + 2..pos + 2 + ext_len)?;
    let (_, extensions) = parse_tls_extensions(ext).ok()?;
    for e in &extensions {
        let code = u16::from(TlsExtensionType::from(e));
        if (hello.ext_count as usize) < MAX_EXTENSIONS {
            hello.exts[hello.ext_count as usize] = code;
            hello.ext_count += 1;
        }
        match e {
            TlsExtension::SNI(names) => {
                hello.sni = names
                    .iter()
                    .find(|(t, _)| *t == SNIType::HostName)
                    .map(|(_, n)| *n);
            }
            TlsExtension::SupportedVersions(versions) => {
                hello.max_supported_version = versions
                    .iter()
                    .map(|v| v.0)
                    .filter(|v| !is_grease(*v))
                    .max();
            }
            _ if code == EXT_ECH || code == EXT_ESNI => hello.ech = true,
            _ => {}
        }
    }
    Some(hello)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A ClientHello handshake message (with header) offering `sni`, built as RFC 8446 4.1.2.
    pub fn client_hello(sni: &str, extra_ext: &[u8]) -> Vec<u8> {
        let mut ext = Vec::new();
        let name = sni.as_bytes();
        ext.extend_from_slice(&[0, 0]); // server_name
        ext.extend_from_slice(&((name.len() + 5) as u16).to_be_bytes());
        ext.extend_from_slice(&((name.len() + 3) as u16).to_be_bytes());
        ext.push(0);
        ext.extend_from_slice(&(name.len() as u16).to_be_bytes());
        ext.extend_from_slice(name);
        ext.extend_from_slice(extra_ext);
        let mut body = vec![3, 3];
        body.extend_from_slice(&[7; 32]);
        body.push(0); // session id
        body.extend_from_slice(&[0, 2, 0x13, 0x01]); // one cipher suite
        body.extend_from_slice(&[1, 0]); // null compression
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend_from_slice(&ext);
        let mut msg = vec![HANDSHAKE_CLIENT_HELLO];
        msg.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        msg.extend_from_slice(&body);
        msg
    }

    /// Wrap handshake bytes in TLS records of at most `chunk` bytes each.
    pub fn records(handshake: &[u8], chunk: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for part in handshake.chunks(chunk) {
            out.extend_from_slice(&[CONTENT_HANDSHAKE, 3, 1]);
            out.extend_from_slice(&(part.len() as u16).to_be_bytes());
            out.extend_from_slice(part);
        }
        out
    }

    #[test]
    fn sni_from_one_record_and_from_many() {
        let hs = client_hello("c2.example.net", &[]);
        let mut scratch = Vec::new();
        for chunk in [hs.len(), 10, 1] {
            let stream = records(&hs, chunk);
            match client_hello_in_stream(&stream, &mut scratch) {
                Progress::Done(h) => assert_eq!(h.sni, Some(&b"c2.example.net"[..])),
                other => panic!("chunk {chunk}: {other:?}"),
            }
        }
    }

    #[test]
    fn partial_streams_need_more_and_others_are_not_tls() {
        let stream = records(&client_hello("a.example", &[]), 16);
        let mut scratch = Vec::new();
        for cut in 1..stream.len() {
            assert_eq!(
                client_hello_in_stream(&stream[..cut], &mut scratch),
                Progress::NeedMore,
                "cut {cut}"
            );
        }
        assert_eq!(
            client_hello_in_stream(b"GET / HTTP/1.1\r\n", &mut scratch),
            Progress::NotClientHello
        );
        assert_eq!(
            client_hello_in_stream(&[22, 3, 3, 0, 4, 2, 0, 0, 0], &mut scratch),
            Progress::NotClientHello
        );
    }

    #[test]
    fn ech_is_flagged_and_odd_cipher_lengths_accepted() {
        let hs = client_hello(
            "public.example",
            &[0xfe, 0x0d, 0, 1, 0, 0x00, 0x2b, 0, 5, 4, 0x3a, 0x3a, 3, 4],
        );
        let hello = client_hello_body(&hs[4..]).unwrap();
        assert!(hello.ech);
        assert_eq!(hello.extensions(), &[0, 0xfe0d, 43]);
        assert_eq!(
            hello.version_name(),
            Some("TLS 1.3"),
            "GREASE 0x3a3a is ignored"
        );
        let mut odd = hs[4..].to_vec();
        odd[35..37].copy_from_slice(&[0, 3]); // cipher_suites length 3, as some clients send
        odd.insert(39, 0xff);
        assert_eq!(
            client_hello_body(&odd).unwrap().sni,
            Some(&b"public.example"[..])
        );
        for cut in 0..hs.len() {
            let _ = client_hello_body(&hs[4..cut.max(4)]);
        }
    }
}
