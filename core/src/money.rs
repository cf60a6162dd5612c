//! Money: integer minor units with an ISO-4217 currency code.
//!
//! Floats never touch money. Every arithmetic step is checked, and overflow is an
//! error, never a wrap (invariant kept by [`Amount::checked_add`] and friends being the only arithmetic).

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use std::fmt;

/// An amount in minor units of some currency (fen, cents). Never negative.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
#[serde(transparent)]
pub struct Amount(pub u64);

/// Arithmetic on amounts overflowed or went below zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("amount arithmetic overflowed")]
pub struct AmountOverflow;

impl Amount {
    /// Zero minor units.
    pub const ZERO: Amount = Amount(0);

    /// `self + rhs`, or an error on overflow.
    pub fn checked_add(self, rhs: Amount) -> Result<Amount, AmountOverflow> {
        self.0.checked_add(rhs.0).map(Amount).ok_or(AmountOverflow)
    }

    /// `self - rhs`, or an error if the result would be negative.
    pub fn checked_sub(self, rhs: Amount) -> Result<Amount, AmountOverflow> {
        self.0.checked_sub(rhs.0).map(Amount).ok_or(AmountOverflow)
    }

    /// Sum of an iterator of amounts, or an error on overflow.
    pub fn checked_sum<I: IntoIterator<Item = Amount>>(iter: I) -> Result<Amount, AmountOverflow> {
        iter.into_iter().try_fold(Amount::ZERO, Amount::checked_add)
    }

    /// True for zero.
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for Amount {
    /// Shows the amount with two decimals, the exponent of every currency Cascade lists today.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

/// An ISO-4217 alphabetic currency code: exactly three ASCII upper-case letters.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
pub struct Currency([u8; 3]);

/// A currency code that is not three upper-case ASCII letters.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("currency code {code:?} is not three upper-case letters (ISO 4217)")]
pub struct InvalidCurrency {
    /// The rejected code, lossily decoded for display.
    pub code: String,
}

impl Currency {
    /// Parses a code such as `"CNY"`.
    pub fn new(code: &str) -> Result<Currency, InvalidCurrency> {
        let bytes = code.as_bytes();
        let invalid = || InvalidCurrency {
            code: code.to_string(),
        };
        let arr: [u8; 3] = bytes.try_into().map_err(|_| invalid())?;
        Currency::from_bytes(arr).ok_or_else(invalid)
    }

    /// Accepts raw bytes only if they form a valid code.
    pub fn from_bytes(bytes: [u8; 3]) -> Option<Currency> {
        bytes
            .iter()
            .all(u8::is_ascii_uppercase)
            .then_some(Currency(bytes))
    }

    /// True if the code is well formed; decoded transactions are checked with this,
    /// because borsh accepts any three bytes.
    pub fn is_valid(&self) -> bool {
        self.0.iter().all(u8::is_ascii_uppercase)
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Valid codes are ASCII; an invalid one (only possible before validation) shows as "???".
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({})", self.as_str())
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as Deserialize>::deserialize(d)?;
        Currency::new(&s).map_err(serde::de::Error::custom)
    }
}

/// An amount together with its currency.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct Money {
    /// Minor units.
    pub amount: Amount,
    /// ISO-4217 code.
    pub currency: Currency,
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_is_an_error_not_a_wrap() {
        assert_eq!(Amount(u64::MAX).checked_add(Amount(1)), Err(AmountOverflow));
        assert_eq!(Amount(1).checked_sub(Amount(2)), Err(AmountOverflow));
        assert_eq!(
            Amount::checked_sum([Amount(u64::MAX), Amount(1)]),
            Err(AmountOverflow)
        );
        assert_eq!(Amount::checked_sum([Amount(5), Amount(7)]), Ok(Amount(12)));
    }

    #[test]
    fn currency_codes_are_validated() {
        assert_eq!(Currency::new("CNY").unwrap().as_str(), "CNY");
        for bad in ["cny", "CN", "CNYY", "C1Y", ""] {
            assert!(Currency::new(bad).is_err(), "{bad} accepted");
        }
        assert!(Currency::from_bytes(*b"US$").is_none());
    }

    #[test]
    fn display_uses_two_decimals() {
        assert_eq!(Amount(123_456).to_string(), "1234.56");
        assert_eq!(Amount(5).to_string(), "0.05");
    }
}
