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
    // Writing into a Vec cannot fail; borsh only reports I/O errors from the writer.
    borsh::to_vec(value).unwrap_or_default()
}

/// Decodes bytes that must be the canonical encoding of a `T`.
pub fn decode_canonical<T: BorshSerialize + BorshDeserialize>(
    bytes: &[u8],
) -> Result<T, DecodeError> {
    let value: T = borsh::from_slice(bytes).map_err(|e| DecodeError::Malformed {
        reason: e.to_string(),
    })?;
    if encode(&value) != bytes {
        return Err(DecodeError::NonCanonical);
    }
    Ok(value)
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
