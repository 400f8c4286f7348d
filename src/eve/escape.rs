//! Bytes from the wire as JSON strings: valid UTF-8 printable text is kept as it is; every
//! other byte becomes `\xNN` (as Suricata writes it), so nothing is dropped or replaced.

use std::borrow::Cow;

use serde::{Serialize, Serializer};

/// Escape `bytes` for output.
pub fn escape_bytes(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) if !s.chars().any(|c| c.is_control()) && !s.contains('\\') => Cow::Borrowed(s),
        _ => {
            let mut out = String::with_capacity(bytes.len() + 8);
            for chunk in bytes.utf8_chunks() {
                for c in chunk.valid().chars() {
                    if c.is_control() || c == '\\' {
                        if c == '\\' {
                            out.push_str("\\\\");
                        } else {
                            let mut b = [0u8; 4];
                            for byte in c.encode_utf8(&mut b).bytes() {
                                out.push_str(&format!("\\x{byte:02x}"));
                            }
                        }
                    } else {
                        out.push(c);
                    }
                }
                for byte in chunk.invalid() {
                    out.push_str(&format!("\\x{byte:02x}"));
                }
            }
            Cow::Owned(out)
        }
    }
}

/// Serialises borrowed bytes through [`escape_bytes`].
#[derive(Debug, Clone, Copy)]
pub struct Escaped<'a>(pub &'a [u8]);

impl Serialize for Escaped<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&escape_bytes(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_kept_and_other_bytes_escaped() {
        assert!(matches!(
            escape_bytes(b"example.com"),
            Cow::Borrowed("example.com")
        ));
        assert_eq!(escape_bytes("bücher.de".as_bytes()), "bücher.de");
        assert_eq!(escape_bytes(b"a\xffb\x00c\\"), "a\\xffb\\x00c\\\\");
    }
}
