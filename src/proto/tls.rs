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
//! clients send and tshark accepts, is not an error), and the extension block is walked by
//! hand, without allocating: each extension's type is kept, only server_name and
//! supported_versions are read, and ECH and ESNI are flagged by their type alone. An
//! extension whose content is malformed is passed over (a malformed server_name or
//! supported_versions leaves what an earlier one said); its length alone says where the next
//! one starts, as in Wireshark. `tls-parser`, which parses
//! every extension into vectors (an allocation or more per extension, and 6 % of the
//! instructions on the benchmark mix), is the reference the walk is tested against
//! ([`client_hello_body_reference`]); it stops at the first extension it cannot read, so it
//! finds no SNI that comes after a malformed extension.
//!
//! Limits: a ClientHello larger than [`MAX_CLIENT_HELLO`] is given up as malformed. SSLv2
//! hellos carry no SNI and are reported as not TLS.

use tls_parser::{parse_tls_extensions, SNIType, TlsExtension, TlsExtensionType};

/// Extension type of server_name (RFC 6066 3).
const EXT_SERVER_NAME: u16 = 0;
/// Extension type of supported_versions (RFC 8446 4.2.1).
const EXT_SUPPORTED_VERSIONS: u16 = 43;
/// What the extension list shows for every GREASE extension type (as `tls-parser` reports
/// them, whose rule is also the one here: `type & 0x0f0f == 0x0a0a`).
const EXT_GREASE: u16 = 0xfafa;
/// The host_name entry type of a server_name list.
const SNI_HOST_NAME: u8 = 0;

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
    let (mut hello, extensions) = fixed_fields(body)?;
    let Some(mut rest) = extensions else {
        return Some(hello); // no extensions at all (old clients)
    };
    while let (Some(header), Some(len)) = (rest.get(..4), rest.get(2..4)) {
        let len = u16::from_be_bytes([len[0], len[1]]) as usize;
        let Some(data) = rest.get(4..4 + len) else {
            break; // cut short: the extensions before it stand
        };
        rest = &rest[4 + len..];
        let ext_type = u16::from_be_bytes([header[0], header[1]]);
        let code = match ext_type & 0x0f0f == 0x0a0a {
            true => EXT_GREASE,
            false => ext_type,
        };
        if (hello.ext_count as usize) < MAX_EXTENSIONS {
            hello.exts[hello.ext_count as usize] = code;
            hello.ext_count += 1;
        }
        // A malformed server_name or supported_versions changes nothing: a broken duplicate
        // cannot take back what a good one said.
        match code {
            EXT_SERVER_NAME => {
                if let Some(sni) = host_name(data) {
                    hello.sni = sni;
                }
            }
            EXT_SUPPORTED_VERSIONS => {
                if let Some(version) = highest_version(data) {
                    hello.max_supported_version = version;
                }
            }
            EXT_ECH | EXT_ESNI => hello.ech = true,
            _ => {}
        }
    }
    Some(hello)
}

/// The first host_name of a server_name extension's list (RFC 6066 3: a 2-byte list length,
/// then entries of a type byte and a 2-byte-length name): `Some(None)` when the list has none
/// (or is empty, or an entry is cut before one), `None` when the extension is malformed (one
/// byte, or a list longer than the extension), as `tls-parser` reads it.
fn host_name(data: &[u8]) -> Option<Option<&[u8]>> {
    if data.is_empty() {
        return Some(None);
    }
    let list_len = u16::from_be_bytes([data[0], *data.get(1)?]) as usize;
    let mut list = data.get(2..2 + list_len)?;
    while let (Some(&kind), Some(len)) = (list.first(), list.get(1..3)) {
        let len = u16::from_be_bytes([len[0], len[1]]) as usize;
        let Some(name) = list.get(3..3 + len) else {
            break;
        };
        if kind == SNI_HOST_NAME {
            return Some(Some(name));
        }
        list = &list[3 + len..];
    }
    Some(None)
}

/// The highest version of a supported_versions extension, GREASE values left out: a list
/// (a 1-byte length, ignored as `tls-parser` does, then 2-byte versions) or, 2 bytes long,
/// one version (the ServerHello form). `Some(None)` for a list without a version, `None`
/// when the extension is malformed (empty, or an odd number of version bytes).
fn highest_version(data: &[u8]) -> Option<Option<u16>> {
    let versions = match data.len() {
        2 => data,
        0 => return None,
        _ => &data[1..],
    };
    if versions.len() % 2 == 1 {
        return None;
    }
    Some(
        (versions.chunks_exact(2))
            .map(|v| u16::from_be_bytes([v[0], v[1]]))
            .filter(|&v| !is_grease(v))
            .max(),
    )
}

/// The fields before the extensions: the hello with its legacy version, and the extension
/// block (`None` when the body ends before it). `None` when the body is cut in those fields.
fn fixed_fields(body: &[u8]) -> Option<(ClientHello<'_>, Option<&[u8]>)> {
    let version = u16::from_be_bytes([*body.first()?, *body.get(1)?]);
    let mut pos = 2 + 32;
    let sid_len = *body.get(pos)? as usize;
    pos += 1 + sid_len;
    let cs_len = u16::from_be_bytes([*body.get(pos)?, *body.get(pos + 1)?]) as usize;
    pos += 2 + cs_len;
    let comp_len = *body.get(pos)? as usize;
    pos += 1 + comp_len;
    let hello = ClientHello {
        sni: None,
        ech: false,
        version,
        max_supported_version: None,
        exts: [0; MAX_EXTENSIONS],
        ext_count: 0,
    };
    if pos == body.len() {
        return Some((hello, None));
    }
    let ext_len = u16::from_be_bytes([*body.get(pos)?, *body.get(pos + 1)?]) as usize;
    let extensions = body.get(pos + 2..pos + 2 + ext_len)?;
    Some((hello, Some(extensions)))
}

/// [`client_hello_body`] with the extensions parsed by `tls-parser`: the reference the hand
/// walk is tested and fuzzed against (the two agree wherever `tls-parser` reads every
/// extension).
#[doc(hidden)]
pub fn client_hello_body_reference(body: &[u8]) -> Option<ClientHello<'_>> {
    let (mut hello, extensions) = fixed_fields(body)?;
    let Some(ext) = extensions else {
        return Some(hello);
    };
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

    /// One extension: type, length, data.
    fn ext(ext_type: u16, data: &[u8]) -> Vec<u8> {
        [
            &ext_type.to_be_bytes()[..],
            &(data.len() as u16).to_be_bytes(),
            data,
        ]
        .concat()
    }

    /// The extensions real clients send, well formed, and a few that are not.
    fn extension_pool() -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
        let sni = |entries: &[(u8, &[u8])]| {
            let list: Vec<u8> = (entries.iter())
                .flat_map(|(kind, name)| {
                    [&[*kind][..], &(name.len() as u16).to_be_bytes(), name].concat()
                })
                .collect();
            ext(0, &[&(list.len() as u16).to_be_bytes()[..], &list].concat())
        };
        let well_formed = vec![
            sni(&[(0, b"c2.example.net")]),
            sni(&[(1, b"other-kind"), (0, b"second.example")]),
            sni(&[]),
            ext(0, b""),
            ext(43, &[4, 0x3a, 0x3a, 3, 4]),
            ext(43, &[6, 3, 3, 3, 2, 3, 4]),
            ext(43, &[3, 3]),
            ext(0x0a0a, b""),
            ext(0xdada, &[0]),
            ext(EXT_ECH, &[0, 1, 2, 3]),
            ext(10, &[0, 4, 0, 0x1d, 0, 0x17]),
            ext(11, &[1, 0]),
            ext(13, &[0, 4, 4, 3, 8, 4]),
            ext(
                16,
                &[
                    0, 12, 2, b'h', b'2', 8, b'h', b't', b't', b'p', b'/', b'1', b'.', b'1',
                ],
            ),
            ext(21, &[0; 40]),
            ext(23, b""),
            ext(35, b""),
            ext(45, &[1, 1]),
            ext(51, &[0, 6, 0, 0x1d, 0, 2, 9, 9]),
            ext(0xff01, &[0]),
            ext(0x4469, &[0, 3, 2, b'h', b'2']),
            ext(17513, &[0, 3, 2, b'h', b'2']),
        ];
        let malformed = vec![
            ext(0, &[0, 40, 0]),    // list longer than the extension
            ext(43, &[3, 3, 4, 9]), // odd version list
            ext(43, b""),
            ext(10, &[0, 3, 0]),
        ];
        (well_formed, malformed)
    }

    /// A ClientHello body with `extensions` (whole extensions, concatenated).
    fn body_with(extensions: &[u8]) -> Vec<u8> {
        let mut body = vec![3, 3];
        body.extend_from_slice(&[7; 32]);
        body.extend_from_slice(&[0, 0, 2, 0x13, 0x01, 1, 0]);
        body.extend_from_slice(&(extensions.len() as u16).to_be_bytes());
        body.extend_from_slice(extensions);
        body
    }

    /// The hand walk gives what `tls-parser` gives on hellos of well-formed extensions in
    /// random orders and numbers (each one alone, and 2 000 random mixes, past
    /// [`MAX_EXTENSIONS`] too).
    #[test]
    fn the_hand_walk_reads_what_tls_parser_reads() {
        let (pool, _) = extension_pool();
        let mut rng = crate::mix::TestRng(0x7150_cafe);
        let mut hellos: Vec<Vec<u8>> = pool.iter().map(|e| body_with(e)).collect();
        for _ in 0..2_000 {
            let n = rng.below(60) as usize;
            let exts: Vec<u8> = (0..n)
                .flat_map(|_| pool[rng.below(pool.len() as u64) as usize].clone())
                .collect();
            hellos.push(body_with(&exts));
        }
        hellos.push(body_with(b"")[..41].to_vec()); // no extension block at all
        for body in &hellos {
            let (hand, reference) = (client_hello_body(body), client_hello_body_reference(body));
            assert_eq!(hand, reference, "{body:?}");
        }
        assert_eq!(
            client_hello_body(&hellos[0]).unwrap().sni,
            Some(&b"c2.example.net"[..])
        );
        assert_eq!(
            client_hello_body(&hellos[1]).unwrap().sni,
            Some(&b"second.example"[..])
        );
    }

    /// A malformed extension is passed over, and the ones after it still count: the SNI after
    /// it is found (`tls-parser` stops there and finds none). A cut extension ends the walk.
    #[test]
    fn a_malformed_extension_hides_nothing_after_it() {
        let (pool, malformed) = extension_pool();
        for bad in &malformed {
            let body = body_with(&[&bad[..], &pool[0]].concat());
            let hello = client_hello_body(&body).unwrap();
            assert_eq!(hello.sni, Some(&b"c2.example.net"[..]), "after {bad:?}");
            assert_eq!(hello.extensions().len(), 2);
            assert_eq!(client_hello_body_reference(&body).unwrap().sni, None);
        }
        let cut = body_with(&[&pool[4][..], &ext(0, &[0; 30])[..10]].concat());
        let hello = client_hello_body(&cut).unwrap();
        assert_eq!((hello.extensions(), hello.sni), (&[43][..], None));
        assert_eq!(hello.version_name(), Some("TLS 1.3"));
    }

    /// A malformed duplicate of server_name or supported_versions takes nothing back from a
    /// good one before it (here the walk and `tls-parser`, which stops at the broken one,
    /// agree); a well-formed one without a host name does, in both.
    #[test]
    fn a_broken_duplicate_takes_nothing_back() {
        let (pool, malformed) = extension_pool();
        let (good_sni, good_versions) = (&pool[0], &pool[4]);
        for (good, bad) in [
            (good_sni, &malformed[0]),
            (good_sni, &ext(0, &[7])),
            (good_versions, &malformed[1]),
            (good_versions, &malformed[2]),
        ] {
            let body = body_with(&[&good[..], &bad[..]].concat());
            let (hand, reference) = (client_hello_body(&body), client_hello_body_reference(&body));
            let (hand, reference) = (hand.unwrap(), reference.unwrap());
            assert_eq!(
                (hand.sni, hand.max_supported_version),
                (reference.sni, reference.max_supported_version),
                "{good:?} then {bad:?}"
            );
        }
        let body = body_with(&[&good_sni[..], &pool[2][..]].concat());
        assert_eq!(client_hello_body(&body).unwrap().sni, None);
        assert_eq!(client_hello_body(&body), client_hello_body_reference(&body));
    }
}
