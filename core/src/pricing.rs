//! Discount pricing: what a financier pays today for a piece that matures later.
//!
//! Convention (the one banks use for receivable discounting):
//!
//! ```text
//! days     = maturity − financing day        (first day counted, last day not)
//! interest = face × annual rate × days / basis   (basis 360 for ACT/360, 365 for ACT/365)
//! proceeds = face − interest
//! ```
//!
//! Interest is computed per piece in exact integer arithmetic (u128, no floats) and
//! rounded half-up to the minor unit; proceeds are derived by subtraction so that
//! `interest + proceeds == face` always holds. Because rounding happens per piece, the
//! interest on two halves can differ by one minor unit from the interest on the whole:
//! that is expected (see the tests and `docs/pricing.md`).

use crate::date::Day;
use crate::money::Amount;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// Fixed-point scale of [`AnnualRate`]: one unit is 1/1,000,000 (a hundredth of a basis point).
pub const RATE_SCALE: u128 = 1_000_000;

/// An annual interest rate in millionths: 4.35 % is `AnnualRate(43_500)`, one basis point is 100.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
#[serde(transparent)]
pub struct AnnualRate(pub u32);

impl AnnualRate {
    /// A rate given in basis points (1 bp = 0.01 %).
    pub fn from_bps(bps: u32) -> Option<AnnualRate> {
        bps.checked_mul(100).map(AnnualRate)
    }
}

impl std::fmt::Display for AnnualRate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Percent with four decimals, from integers: 43_500 -> "4.3500%".
        write!(f, "{}.{:04}%", self.0 / 10_000, self.0 % 10_000)
    }
}

/// Day-count convention: the denominator for a year.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
pub enum DayCount {
    /// Actual days over a 360-day year (the default for bank discounting).
    #[default]
    Act360,
    /// Actual days over a 365-day year.
    Act365,
}

impl DayCount {
    /// Days in the conventional year.
    pub fn basis(self) -> u32 {
        match self {
            DayCount::Act360 => 360,
            DayCount::Act365 => 365,
        }
    }
}

/// The figures of one discount.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct Quote {
    /// Face value of the piece.
    pub face: Amount,
    /// Annual rate applied.
    pub rate: AnnualRate,
    /// Convention applied.
    pub day_count: DayCount,
    /// Days from financing (counted) to maturity (not counted).
    pub days: u32,
    /// Discount interest, rounded half-up to the minor unit.
    pub interest: Amount,
    /// What the holder receives now: `face - interest`.
    pub proceeds: Amount,
}

/// Why a discount cannot be priced.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    /// Financing must happen before maturity.
    #[error("financing day {financing_day} is not before maturity {maturity}")]
    NotBeforeMaturity {
        /// Day of financing.
        financing_day: Day,
        /// Maturity of the piece.
        maturity: Day,
    },
    /// The interest would exceed the face value (rate too high for the tenor).
    #[error("interest of {interest} minor units would exceed the face of {face}")]
    InterestExceedsFace {
        /// Computed interest (`u64::MAX` when it is larger still than any amount).
        interest: Amount,
        /// Face value.
        face: Amount,
    },
}

/// Prices a discount of `face` at `rate` from `financing_day` to `maturity`.
pub fn discount(
    face: Amount,
    rate: AnnualRate,
    financing_day: Day,
    maturity: Day,
    day_count: DayCount,
) -> Result<Quote, PricingError> {
    if financing_day >= maturity {
        return Err(PricingError::NotBeforeMaturity {
            financing_day,
            maturity,
        });
    }
    let days = financing_day.days_until(maturity);
    // face < 2^64, rate < 2^32, days < 2^32: the product is < 2^128, so it cannot overflow.
    let numerator = u128::from(face.0) * u128::from(rate.0) * u128::from(days);
    let denominator = RATE_SCALE * u128::from(day_count.basis());
    let rounded = (numerator + denominator / 2) / denominator;
    // Interest that does not fit an amount exceeds every face. It is refused, never clamped:
    // a clamp to u64::MAX would equal the largest face and pass as zero proceeds.
    let interest =
        u64::try_from(rounded)
            .map(Amount)
            .map_err(|_| PricingError::InterestExceedsFace {
                interest: Amount(u64::MAX),
                face,
            })?;
    let proceeds = face
        .checked_sub(interest)
        .map_err(|_| PricingError::InterestExceedsFace { interest, face })?;
    Ok(Quote {
        face,
        rate,
        day_count,
        days,
        interest,
        proceeds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> Day {
        Day::parse(s).unwrap()
    }

    /// Worked example 1 (docs/pricing.md): 1,000,000.00 CNY at 4.35 % for 90 days, ACT/360.
    /// 100,000,000 fen × 0.0435 × 90 / 360 = 1,087,500 fen exactly.
    #[test]
    fn worked_example_act360() {
        let q = discount(
            Amount(100_000_000),
            AnnualRate(43_500),
            day("2026-01-01"),
            day("2026-04-01"),
            DayCount::Act360,
        )
        .unwrap();
        assert_eq!(q.days, 90);
        assert_eq!(q.interest, Amount(1_087_500));
        assert_eq!(q.proceeds, Amount(98_912_500));
    }

    /// Worked example 2: the same piece under ACT/365:
    /// 100,000,000 × 0.0435 × 90 / 365 = 1,072,602.739… → 1,072,603 fen (half-up).
    #[test]
    fn worked_example_act365() {
        let q = discount(
            Amount(100_000_000),
            AnnualRate(43_500),
            day("2026-01-01"),
            day("2026-04-01"),
            DayCount::Act365,
        )
        .unwrap();
        assert_eq!(q.interest, Amount(1_072_603));
        assert_eq!(q.proceeds, Amount(98_927_397));
    }

    /// Worked example 3: rounding exactly half goes up. 100 fen at 1.8 % for 100 days ACT/360
    /// is 100 × 0.018 × 100/360 = 0.5 fen → 1 fen.
    #[test]
    fn half_rounds_up() {
        let q = discount(
            Amount(100),
            AnnualRate(18_000),
            Day(0),
            Day(100),
            DayCount::Act360,
        )
        .unwrap();
        assert_eq!(q.interest, Amount(1));
        // Just below half rounds down: 99 fen gives 0.495 fen → 0.
        let q = discount(
            Amount(99),
            AnnualRate(18_000),
            Day(0),
            Day(100),
            DayCount::Act360,
        )
        .unwrap();
        assert_eq!(q.interest, Amount(0));
    }

    /// The same boundary under ACT/365, whose half-denominator is 182,500,000: 100 fen at
    /// 1.825 % for 100 days is 100 × 18,250 × 100 / 365,000,000 = 0.5 fen → 1 fen; 99 fen is
    /// 0.495 fen → 0.
    #[test]
    fn half_rounds_up_act365() {
        let at = |face| {
            discount(
                Amount(face),
                AnnualRate(18_250),
                Day(0),
                Day(100),
                DayCount::Act365,
            )
            .unwrap()
        };
        assert_eq!(
            (at(100).interest, at(100).proceeds),
            (Amount(1), Amount(99))
        );
        assert_eq!((at(99).interest, at(99).proceeds), (Amount(0), Amount(99)));
    }

    /// Worked example 4: per-piece rounding. 100 fen at 1.8 % for 100 days gives 1 fen of
    /// interest on the whole, but each 50-fen half gives 0.25 fen → 0, so the halves total 0:
    /// a one-fen difference, which is the documented, expected effect.
    #[test]
    fn halves_can_differ_from_whole_by_one_minor_unit() {
        let whole = discount(
            Amount(100),
            AnnualRate(18_000),
            Day(0),
            Day(100),
            DayCount::Act360,
        )
        .unwrap();
        let half = discount(
            Amount(50),
            AnnualRate(18_000),
            Day(0),
            Day(100),
            DayCount::Act360,
        )
        .unwrap();
        assert_eq!(whole.interest, Amount(1));
        assert_eq!(half.interest.0 * 2, 0);
        assert_eq!(whole.interest.0 - half.interest.0 * 2, 1);
    }

    #[test]
    fn first_day_counted_last_not() {
        let q = discount(
            Amount(36_000_000),
            AnnualRate(100_000),
            day("2026-03-01"),
            day("2026-03-02"),
            DayCount::Act360,
        )
        .unwrap();
        assert_eq!(q.days, 1);
        assert_eq!(q.interest, Amount(10_000)); // 360,000.00 × 10 % / 360 = 100.00
    }

    #[test]
    fn financing_on_or_after_maturity_is_rejected() {
        assert!(matches!(
            discount(
                Amount(100),
                AnnualRate(1),
                Day(10),
                Day(10),
                DayCount::Act360
            ),
            Err(PricingError::NotBeforeMaturity { .. })
        ));
    }

    #[test]
    fn interest_never_exceeds_face() {
        let err = discount(
            Amount(100),
            AnnualRate(u32::MAX),
            Day(0),
            Day(365),
            DayCount::Act360,
        )
        .unwrap_err();
        assert!(matches!(err, PricingError::InterestExceedsFace { .. }));
    }

    /// Interest too large for an amount is an error, not a clamped figure: at the largest
    /// face, a clamp to `u64::MAX` would equal the face and quote zero proceeds as valid.
    /// u64::MAX × 429,496.7295 % (`AnnualRate(u32::MAX)`) × 1 day / 360 ≈ 11.9 × face.
    #[test]
    fn interest_beyond_the_largest_amount_is_refused_not_clamped() {
        for face in [Amount(u64::MAX), Amount(u64::MAX / 2)] {
            let err =
                discount(face, AnnualRate(u32::MAX), Day(0), Day(1), DayCount::Act360).unwrap_err();
            assert_eq!(
                err,
                PricingError::InterestExceedsFace {
                    interest: Amount(u64::MAX),
                    face,
                }
            );
        }
    }

    /// The largest face at the default maximum rate (50 %) for the default maximum tenor
    /// (365 days): the interest, about 50.7 % of face, fits and is exact.
    /// u64::MAX = 18,446,744,073,709,551,615; × 500,000 × 365 / 360,000,000 =
    /// 9,351,474,426,255,536,582.604… → 9,351,474,426,255,536,583 (half-up).
    #[test]
    fn largest_face_at_the_default_rate_and_tenor_bounds() {
        let q = discount(
            Amount(u64::MAX),
            AnnualRate(500_000),
            Day(0),
            Day(365),
            DayCount::Act360,
        )
        .unwrap();
        assert_eq!(q.interest, Amount(9_351_474_426_255_536_583));
        assert_eq!(q.proceeds, Amount(u64::MAX - 9_351_474_426_255_536_583));
    }

    #[test]
    fn extreme_inputs_do_not_overflow() {
        let q = discount(
            Amount(u64::MAX),
            AnnualRate(1),
            Day(0),
            Day(1),
            DayCount::Act360,
        )
        .unwrap();
        assert_eq!(q.interest.0 + q.proceeds.0, u64::MAX);
    }
}
