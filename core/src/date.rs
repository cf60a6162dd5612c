//! Calendar days (UTC), taken from block time.
//!
//! The state machine never reads a wall clock: the only source of "today" is the
//! timestamp in the block header, which consensus agrees on.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Days since 1970-01-01 (UTC).
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
pub struct Day(pub u32);

/// A date that is not a real calendar day, or outside the supported range.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid date {text:?}: expected YYYY-MM-DD between 1970-01-01 and 9999-12-31")]
pub struct InvalidDate {
    /// The rejected text.
    pub text: String,
}

const SECONDS_PER_DAY: i64 = 86_400;

impl Day {
    /// The UTC day containing a Unix timestamp; `None` before 1970.
    pub fn from_unix_seconds(secs: i64) -> Option<Day> {
        if secs < 0 {
            return None;
        }
        u32::try_from(secs / SECONDS_PER_DAY).ok().map(Day)
    }

    /// Midnight UTC at the start of this day, as a Unix timestamp.
    pub fn unix_seconds(self) -> i64 {
        i64::from(self.0) * SECONDS_PER_DAY
    }

    /// Builds a day from a proleptic Gregorian date.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Day> {
        if !(1970..=9999).contains(&year) || !(1..=12).contains(&month) || day == 0 {
            return None;
        }
        if day > days_in_month(year, month) {
            return None;
        }
        // Howard Hinnant's days_from_civil, in integers only.
        let y = i64::from(if month <= 2 { year - 1 } else { year });
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        u32::try_from(era * 146_097 + doe - 719_468).ok().map(Day)
    }

    /// The (year, month, day) of this day.
    pub fn ymd(self) -> (i32, u32, u32) {
        let z = i64::from(self.0) + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let y = (yoe + era * 400 + i64::from(m <= 2)) as i32;
        (y, m, d)
    }

    /// Parses `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Result<Day, InvalidDate> {
        let invalid = || InvalidDate {
            text: text.to_string(),
        };
        let mut parts = text.split('-');
        let (Some(y), Some(m), Some(d), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return Err(invalid());
        }
        let y: i32 = y.parse().map_err(|_| invalid())?;
        let m: u32 = m.parse().map_err(|_| invalid())?;
        let d: u32 = d.parse().map_err(|_| invalid())?;
        Day::from_ymd(y, m, d).ok_or_else(invalid)
    }

    /// `self + days`, or `None` on overflow.
    pub fn checked_add_days(self, days: u32) -> Option<Day> {
        self.0.checked_add(days).map(Day)
    }

    /// Whole days from `self` to `later` (zero if `later` is not after `self`).
    pub fn days_until(self, later: Day) -> u32 {
        later.0.saturating_sub(self.0)
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_known_dates() {
        assert_eq!(Day::from_ymd(1970, 1, 1), Some(Day(0)));
        assert_eq!(Day::parse("2026-11-21").unwrap().to_string(), "2026-11-21");
        assert_eq!(
            Day::parse("2000-03-01").unwrap().0 - Day::parse("2000-02-28").unwrap().0,
            2
        );
        assert_eq!(
            Day::parse("2100-03-01").unwrap().0 - Day::parse("2100-02-28").unwrap().0,
            1
        );
        for n in (0..2_932_896u32).step_by(997) {
            // Every day from 1970-01-01 to 9999-12-31 (day 2,932,896), sampled.
            let (y, m, d) = Day(n).ymd();
            assert_eq!(Day::from_ymd(y, m, d), Some(Day(n)));
        }
    }

    #[test]
    fn rejects_impossible_dates() {
        for bad in [
            "2026-02-29",
            "2026-13-01",
            "2026-00-10",
            "1969-12-31",
            "2026-1-01",
            "x",
            "2026-01-01-01",
        ] {
            assert!(Day::parse(bad).is_err(), "{bad} accepted");
        }
        assert_eq!(Day::from_unix_seconds(-1), None);
        assert_eq!(Day::from_unix_seconds(86_399), Some(Day(0)));
        assert_eq!(Day::from_unix_seconds(86_400), Some(Day(1)));
    }
}
