//! Canonical binary encoding.
//!
//! Everything that is signed or hashed is encoded with borsh, and decoding accepts a
//! byte string only if re-encoding the decoded value gives back exactly the same bytes.
//! That makes every value have exactly one valid encoding, so a signature can never be
//! attached to two different byte strings (no malleability) and transaction hashes are unique.

use borsh::{BorshDeserialize, BorshSerialize};

/// Why bytes were not accepted as the canonical encoding of a value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The bytes do not decode at all (truncated, bad tag, trailing bytes, invalid UTF-8…).
    #[error("malformed encoding: {reason}")]
    Malformed {
        /// What the decoder reported.
        reason: String,
    },
    /// The bytes decode, but they are not the one canonical encoding of the value.
    #[error("non-canonical encoding: re-encoding gives different bytes")]
    NonCanonical,
}

/// Encodes a value canonically.
pub fn encode<T: BorshSerialize>(value: &T) -> Vec<u8> {
    // Room for a typical record (a piece is ~150 bytes). `borsh::to_vec` starts at 1 KiB,
    // and a block keeps thousands of encoded values in memory until it commits.
    let mut out = Vec::with_capacity(256);
    // Writing into a Vec cannot fail; borsh only reports I/O errors from the writer.
    match borsh::to_writer(&mut out, value) {
        Ok(()) => out,
        Err(_) => Vec::new(),
    }
}

/// Decodes bytes that must be the canonical encoding of a `T`.
pub fn decode_canonical<T: BorshSerialize + BorshDeserialize>(
    bytes: &[u8],
) -> Result<T, DecodeError> {
    let value: T = borsh::from_slice(bytes).map_err(|e| DecodeError::Malformed {
        reason: e.to_string(),
    })?;
    let mut check = Matches {
        rest: bytes,
        same: true,
    };
    let written = borsh::to_writer(&mut check, &value);
    if written.is_err() || !check.same || !check.rest.is_empty() {
        return Err(DecodeError::NonCanonical);
    }
    Ok(value)
}

/// A writer that compares what is written with the bytes it was given, in order, without
/// keeping a copy: re-encoding a decoded value into it checks that the value's encoding
/// is exactly those bytes (`same`, and nothing left in `rest`).
struct Matches<'a> {
    rest: &'a [u8],
    same: bool,
}

impl std::io::Write for Matches<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.rest.strip_prefix(buf) {
            Some(rest) if self.same => self.rest = rest,
            _ => self.same = false,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Decodes a value from trusted local storage (written by this library). Still checked:
/// a corrupt store is reported rather than trusted.
pub fn decode_stored<T: BorshDeserialize>(bytes: &[u8]) -> Result<T, DecodeError> {
    borsh::from_slice(bytes).map_err(|e| DecodeError::Malformed {
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(BorshSerialize, BorshDeserialize, Debug, PartialEq)]
    struct Sample {
        flag: bool,
        name: String,
        values: Vec<u32>,
    }

    #[test]
    fn round_trip() {
        let s = Sample {
            flag: true,
            name: "x".into(),
            values: vec![1, 2],
        };
        assert_eq!(decode_canonical::<Sample>(&encode(&s)).unwrap(), s);
    }

    /// A value whose re-encoding differs from the bytes it was decoded from is refused,
    /// whether the bytes differ inside the value or the re-encoding is shorter.
    #[test]
    fn rejects_bytes_that_re_encode_differently() {
        #[derive(BorshDeserialize, Debug)]
        struct Lenient(u8);
        // Decodes any byte, but re-encodes only the low bit: 2 is a second encoding of 0.
        impl BorshSerialize for Lenient {
            fn serialize<W: std::io::Write>(&self, w: &mut W) -> std::io::Result<()> {
                (self.0 & 1).serialize(w)
            }
        }
        assert!(decode_canonical::<Lenient>(&[1]).is_ok());
        assert_eq!(
            decode_canonical::<Lenient>(&[2]).unwrap_err(),
            DecodeError::NonCanonical
        );
        #[derive(BorshDeserialize, Debug)]
        struct Forgetful(u8, #[allow(dead_code)] u8); // the second byte is never re-encoded
                                                      // Writes only its first field: the second byte is not covered by the encoding.
        impl BorshSerialize for Forgetful {
            fn serialize<W: std::io::Write>(&self, w: &mut W) -> std::io::Result<()> {
                self.0.serialize(w)
            }
        }
        assert_eq!(
            decode_canonical::<Forgetful>(&[1, 1]).unwrap_err(),
            DecodeError::NonCanonical
        );
    }

    #[test]
    fn rejects_trailing_truncated_and_bad_bool() {
        let s = Sample {
            flag: true,
            name: "x".into(),
            values: vec![1],
        };
        let mut bytes = encode(&s);
        bytes.push(0);
        assert!(decode_canonical::<Sample>(&bytes).is_err());
        let bytes = encode(&s);
        assert!(decode_canonical::<Sample>(&bytes[..bytes.len() - 1]).is_err());
        let mut bytes = encode(&s);
        bytes[0] = 2; // a bool must be 0 or 1
        assert!(decode_canonical::<Sample>(&bytes).is_err());
    }
}
