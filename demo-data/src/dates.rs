//! Dates: days since the epoch, and random ones.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// A day as Arrow's Date32 counts it: days since 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Day(pub(crate) i32);

impl Day {
    /// The proleptic Gregorian day (Howard Hinnant's `days_from_civil`).
    pub(crate) const fn from_civil(year: i32, month: u32, day: u32) -> Self {
        let year = if month <= 2 { year - 1 } else { year };
        let era = (if year >= 0 { year } else { year - 399 }) / 400;
        let year_of_era = year - era * 400;
        let month_from_march = (if month > 2 { month - 3 } else { month + 9 }) as i32;
        let day_of_year = (153 * month_from_march + 2) / 5 + day as i32 - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        Self(era * 146_097 + day_of_era - 719_468)
    }

    /// Year, month and day (Howard Hinnant's `civil_from_days`).
    pub(crate) fn civil(self) -> (i32, u32, u32) {
        let days = self.0 + 719_468;
        let era = (if days >= 0 { days } else { days - 146_096 }) / 146_097;
        let day_of_era = days - era * 146_097;
        let year_of_era =
            (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let month_from_march = (5 * day_of_year + 2) / 153;
        let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
        let month = (if month_from_march < 10 {
            month_from_march + 3
        } else {
            month_from_march - 9
        }) as u32;
        let year = year_of_era + era * 400 + i32::from(month <= 2);
        (year, month, day)
    }

    pub(crate) fn plus(self, days: i32) -> Self {
        Self(self.0 + days)
    }

    /// Whole years from `self` to `later`.
    pub(crate) fn years_until(self, later: Day) -> u32 {
        let (birth_year, birth_month, birth_day) = self.civil();
        let (year, month, day) = later.civil();
        let years = year - birth_year - i32::from((month, day) < (birth_month, birth_day));
        years.max(0).unsigned_abs()
    }
}

/// A day between `from` and `to`, both included; `to` when the range is empty.
pub(crate) fn random_day(rng: &mut ChaCha8Rng, from: Day, to: Day) -> Day {
    if from >= to {
        to
    } else {
        Day(rng.random_range(from.0..=to.0))
    }
}
