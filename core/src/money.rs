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
    /// Shows the whole number of minor units. An amount alone does not know where its decimal
    /// point goes (a yen has no minor unit, a Kuwaiti dinar has three), so only [`Money`]
    /// shows one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
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

    /// Digits after the decimal point of this currency's major unit: ISO 4217's "minor
    /// unit" column (JPY 0, CNY 2, KWD 3, CLF 4). Codes the standard gives no minor unit
    /// (gold, special drawing rights, the test code) and codes it does not list get their
    /// own treatment: the former 0 (shown as whole units), the latter 2, the most common
    /// exponent. Used only to *show* amounts; the ledger keeps and checks minor units.
    pub fn minor_digits(&self) -> u8 {
        match &self.0 {
            // Currencies whose minor unit is not the usual hundredth.
            b"BIF" | b"CLP" | b"DJF" | b"GNF" | b"ISK" | b"JPY" | b"KMF" | b"KRW" | b"PYG"
            | b"RWF" | b"UGX" | b"UYI" | b"VND" | b"VUV" | b"XAF" | b"XOF" | b"XPF" => 0,
            // Withdrawn codes without a minor unit, for old contracts that still name them.
            b"ADP" | b"BEF" | b"BYB" | b"BYR" | b"ESP" | b"GRD" | b"ITL" | b"LUF" | b"MGF"
            | b"PTE" | b"ROL" | b"TPE" | b"TRL" => 0,
            b"BHD" | b"IQD" | b"JOD" | b"KWD" | b"LYD" | b"OMR" | b"TND" => 3,
            b"CLF" | b"UYW" => 4,
            // ISO 4217 "N.A.": precious metals, units of account, testing, no currency (and
            // the withdrawn gold and UIC francs).
            b"XAG" | b"XAU" | b"XBA" | b"XBB" | b"XBC" | b"XBD" | b"XDR" | b"XPD" | b"XPT"
            | b"XSU" | b"XTS" | b"XUA" | b"XXX" | b"XFO" | b"XFU" => 0,
            _ => 2,
        }
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

impl Money {
    /// `amount` minor units of `currency`.
    pub fn new(amount: Amount, currency: Currency) -> Money {
        Money { amount, currency }
    }
}

impl fmt::Display for Money {
    /// Shows the amount in major units with the currency's own number of decimals
    /// ([`Currency::minor_digits`]) and the code: `1234.56 CNY`, `1234 JPY`, `1.234 KWD`.
    /// Width and alignment apply to the whole text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = u32::from(self.currency.minor_digits());
        let minor = self.amount.0;
        let text = match 10u64.checked_pow(digits) {
            Some(scale) if digits > 0 => format!(
                "{}.{:0width$} {}",
                minor / scale,
                minor % scale,
                self.currency,
                width = digits as usize
            ),
            _ => format!("{minor} {}", self.currency),
        };
        f.pad(&text)
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
    fn an_amount_alone_shows_minor_units() {
        assert_eq!(Amount(123_456).to_string(), "123456");
        assert_eq!(format!("{:>8}", Amount(5)), "       5");
    }

    fn money(amount: u64, code: &str) -> Money {
        Money::new(Amount(amount), Currency::new(code).unwrap())
    }

    #[test]
    fn money_shows_the_currencys_own_decimals() {
        assert_eq!(money(123_456, "CNY").to_string(), "1234.56 CNY");
        assert_eq!(money(5, "USD").to_string(), "0.05 USD");
        assert_eq!(money(0, "EUR").to_string(), "0.00 EUR");
        assert_eq!(money(123_456, "JPY").to_string(), "123456 JPY");
        assert_eq!(money(123_456, "KWD").to_string(), "123.456 KWD");
        assert_eq!(money(7, "CLF").to_string(), "0.0007 CLF");
        assert_eq!(money(3, "XAU").to_string(), "3 XAU");
        // A code ISO 4217 does not list is shown with the usual two decimals.
        assert_eq!(money(150, "ZZZ").to_string(), "1.50 ZZZ");
        assert_eq!(
            money(u64::MAX, "USD").to_string(),
            "184467440737095516.15 USD"
        );
        assert_eq!(format!("{:>12}", money(1_000, "CNY")), "   10.00 CNY");
    }

    #[test]
    fn minor_digits_follow_iso_4217() {
        let digits = |code: &str| Currency::new(code).unwrap().minor_digits();
        for (code, expected) in [
            ("CNY", 2),
            ("USD", 2),
            ("HKD", 2),
            ("JPY", 0),
            ("KRW", 0),
            ("VND", 0),
            ("BHD", 3),
            ("TND", 3),
            ("CLF", 4),
            ("XDR", 0),
        ] {
            assert_eq!(digits(code), expected, "{code}");
        }
    }
}
