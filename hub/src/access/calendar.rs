//! Working days, for the decision deadlines of access requests: Mondays to Fridays, less
//! public holidays, plus the weekend days worked in their place (调休上班日).
//!
//! The calendar is the hub's `[calendar]` section: a built-in official calendar (the State
//! Council's notices on public holidays, 国务院办公厅关于部分节假日安排的通知) and any
//! dates the operator adds, in the offices' time zone. A year the calendar does not cover
//! counts Saturdays and Sundays only, and the hub says so when it starts.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Days, FixedOffset, NaiveDate, Utc, Weekday};
use serde::{Deserialize, Serialize};

/// `[calendar]` in the configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CalendarConfig {
    /// The official calendar shipped with this release: `cn` (mainland China's public
    /// holidays and make-up working days, for the years in [`BUILTIN_CN`]), or `none`.
    pub builtin: BuiltinCalendar,
    /// The offices' offset from UTC, e.g. `+08:00`: a request filed at 23:00 UTC on a Sunday
    /// is filed on Monday in Beijing.
    pub utc_offset: String,
    /// Further days off: dates (`2027-01-01`) or ISO 8601 intervals of dates, both ends
    /// included (`2027-02-06/2027-02-12`).
    pub public_holidays: Vec<String>,
    /// Saturdays and Sundays that are working days, as dates.
    pub make_up_working_days: Vec<String>,
}

impl Default for CalendarConfig {
    fn default() -> Self {
        Self {
            builtin: BuiltinCalendar::Cn,
            utc_offset: "+08:00".into(),
            public_holidays: Vec::new(),
            make_up_working_days: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BuiltinCalendar {
    Cn,
    None,
}

/// One year of an official calendar: its days off and its make-up working days.
struct OfficialYear {
    year: i32,
    /// The notice it is taken from.
    source: &'static str,
    holidays: &'static [(&'static str, &'static str)],
    make_up_working_days: &'static [&'static str],
}

/// Mainland China's calendar, from the State Council's notices. Add a year when its notice
/// is published (usually in November of the year before).
const BUILTIN_CN: &[OfficialYear] = &[OfficialYear {
    year: 2026,
    source: "国务院办公厅关于2026年部分节假日安排的通知",
    holidays: &[
        ("2026-01-01", "2026-01-03"),
        ("2026-02-15", "2026-02-23"),
        ("2026-04-04", "2026-04-06"),
        ("2026-05-01", "2026-05-05"),
        ("2026-06-19", "2026-06-21"),
        ("2026-09-25", "2026-09-27"),
        ("2026-10-01", "2026-10-07"),
    ],
    make_up_working_days: &[
        "2026-01-04",
        "2026-02-14",
        "2026-02-28",
        "2026-05-09",
        "2026-09-20",
        "2026-10-10",
    ],
}];

#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    #[error("[calendar] utc_offset '{0}' is not an offset such as +08:00")]
    Offset(String),
    #[error("[calendar] '{0}' is not a date (YYYY-MM-DD) or an interval of dates (START/END)")]
    Date(String),
    #[error("[calendar] make-up working day {0} is not a Saturday or a Sunday")]
    NotAWeekend(NaiveDate),
}

/// Which days are working days.
#[derive(Debug, Clone)]
pub struct WorkingCalendar {
    offset: FixedOffset,
    holidays: BTreeSet<NaiveDate>,
    make_up_working_days: BTreeSet<NaiveDate>,
    /// Years an official calendar or the operator's dates speak for.
    covered_years: BTreeSet<i32>,
    /// The official notices the built-in dates are taken from.
    sources: Vec<&'static str>,
}

impl Default for WorkingCalendar {
    /// Saturdays and Sundays off, in UTC: the calendar of tests that set none.
    fn default() -> Self {
        Self {
            offset: chrono::Offset::fix(&Utc),
            holidays: BTreeSet::new(),
            make_up_working_days: BTreeSet::new(),
            covered_years: BTreeSet::new(),
            sources: Vec::new(),
        }
    }
}

impl WorkingCalendar {
    pub fn from_config(config: &CalendarConfig) -> Result<Self, CalendarError> {
        let offset: FixedOffset = config
            .utc_offset
            .parse()
            .map_err(|_| CalendarError::Offset(config.utc_offset.clone()))?;
        let mut calendar = Self {
            offset,
            ..Self::default()
        };
        if config.builtin == BuiltinCalendar::Cn {
            for year in BUILTIN_CN {
                calendar.covered_years.insert(year.year);
                calendar.sources.push(year.source);
                for (first, last) in year.holidays {
                    calendar.add_range(date(first)?, date(last)?, first)?;
                }
                for day in year.make_up_working_days {
                    calendar.add_make_up_day(day)?;
                }
            }
        }
        for text in &config.public_holidays {
            calendar.add_holidays(text)?;
        }
        for text in &config.make_up_working_days {
            calendar.add_make_up_day(text)?;
        }
        Ok(calendar)
    }

    fn add_holidays(&mut self, text: &str) -> Result<(), CalendarError> {
        let (first, last) = match text.split_once('/') {
            Some((first, last)) => (date(first)?, date(last)?),
            None => (date(text)?, date(text)?),
        };
        self.add_range(first, last, text)
    }

    /// The days from `first` to `last`, both included, as days off; `text` is how they were
    /// written, for the error.
    fn add_range(&mut self, first: NaiveDate, last: NaiveDate, text: &str) -> Result<(), CalendarError> {
        if last < first || (last - first).num_days() > 366 {
            return Err(CalendarError::Date(text.to_owned()));
        }
        for day in first.iter_days().take_while(|day| *day <= last) {
            self.covered_years.insert(day.year());
            self.holidays.insert(day);
        }
        Ok(())
    }

    fn add_make_up_day(&mut self, text: &str) -> Result<(), CalendarError> {
        let day = date(text)?;
        if !is_weekend(day) {
            return Err(CalendarError::NotAWeekend(day));
        }
        self.covered_years.insert(day.year());
        self.make_up_working_days.insert(day);
        Ok(())
    }

    pub fn is_working_day(&self, day: NaiveDate) -> bool {
        if self.holidays.contains(&day) {
            return false;
        }
        !is_weekend(day) || self.make_up_working_days.contains(&day)
    }

    /// `start` plus `days` working days: the same time of day, in the offices' time zone,
    /// on the `days`-th working day after the day of `start`.
    pub fn add_working_days(&self, start: DateTime<Utc>, days: u32) -> DateTime<Utc> {
        let local = start.with_timezone(&self.offset);
        let mut day = local.date_naive();
        let mut left = days;
        while left > 0 {
            let Some(next) = day.checked_add_days(Days::new(1)) else {
                break;
            };
            day = next;
            if self.is_working_day(day) {
                left -= 1;
            }
        }
        day.and_time(local.time())
            .and_local_timezone(self.offset)
            .single()
            .map_or(start, |deadline| deadline.with_timezone(&Utc))
    }

    /// The official notices the built-in dates are taken from.
    pub fn sources(&self) -> &[&'static str] {
        &self.sources
    }

    /// Whether the calendar speaks for `year`; one that does not counts weekends only.
    pub fn covers(&self, year: i32) -> bool {
        self.covered_years.contains(&year)
    }

    /// The years of `years` the calendar does not cover.
    pub fn missing_years(&self, years: impl IntoIterator<Item = i32>) -> Vec<i32> {
        years.into_iter().filter(|year| !self.covers(*year)).collect()
    }
}

fn date(text: &str) -> Result<NaiveDate, CalendarError> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| CalendarError::Date(text.to_owned()))
}

fn is_weekend(day: NaiveDate) -> bool {
    matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn china() -> WorkingCalendar {
        WorkingCalendar::from_config(&CalendarConfig::default()).unwrap()
    }

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn weekends_alone_without_a_calendar() {
        let calendar = WorkingCalendar::default();
        let friday = at("2026-11-27T10:00:00Z");
        assert_eq!(calendar.add_working_days(friday, 1), at("2026-11-30T10:00:00Z"));
        assert_eq!(calendar.add_working_days(friday, 5), at("2026-12-04T10:00:00Z"));
        assert_eq!(calendar.add_working_days(friday, 0), friday);
    }

    #[test]
    fn the_spring_festival_is_no_working_time_and_its_saturdays_are() {
        // Filed on Friday 13 February 2026 at 10:00 in Beijing. Saturday the 14th is worked;
        // the 15th to the 23rd are off; then Tuesday the 24th, Wednesday, Thursday, Friday.
        let filed = at("2026-02-13T02:00:00Z");
        assert_eq!(china().add_working_days(filed, 1), at("2026-02-14T02:00:00Z"));
        assert_eq!(china().add_working_days(filed, 5), at("2026-02-27T02:00:00Z"));
        // Saturday the 28th is worked too.
        assert_eq!(china().add_working_days(filed, 6), at("2026-02-28T02:00:00Z"));
    }

    #[test]
    fn national_day_week_is_skipped() {
        // Filed on Tuesday 29 September 2026: the 30th, then Thursday 8 October, Friday the
        // 9th, Saturday the 10th (worked), Monday the 12th.
        let filed = at("2026-09-29T01:00:00Z");
        assert_eq!(china().add_working_days(filed, 5), at("2026-10-12T01:00:00Z"));
        // With weekends alone it would have been 6 October, in the middle of the holiday.
        assert_eq!(
            WorkingCalendar::default().add_working_days(filed, 5),
            at("2026-10-06T01:00:00Z")
        );
    }

    #[test]
    fn days_are_counted_in_the_offices_time_zone() {
        // 20:00 UTC on Friday 27 November is 04:00 on Saturday in Beijing: the first working
        // day after it is Monday, and the second Tuesday.
        let filed = at("2026-11-27T20:00:00Z");
        assert_eq!(china().add_working_days(filed, 1), at("2026-11-29T20:00:00Z"));
        assert_eq!(china().add_working_days(filed, 2), at("2026-11-30T20:00:00Z"));
    }

    #[test]
    fn operators_add_years_and_intervals() {
        let config = CalendarConfig {
            public_holidays: vec!["2027-02-08/2027-02-12".into(), "2027-01-01".into()],
            make_up_working_days: vec!["2027-02-06".into()],
            ..CalendarConfig::default()
        };
        let calendar = WorkingCalendar::from_config(&config).unwrap();
        assert!(calendar.covers(2026) && calendar.covers(2027) && !calendar.covers(2028));
        assert!(!calendar.is_working_day(NaiveDate::from_ymd_opt(2027, 2, 10).unwrap()));
        assert!(calendar.is_working_day(NaiveDate::from_ymd_opt(2027, 2, 6).unwrap()));
        assert_eq!(calendar.missing_years([2026, 2028]), vec![2028]);
    }

    #[test]
    fn bad_dates_are_refused_with_what_was_wrong() {
        for (holiday, make_up) in [
            ("2027-13-01", None),
            ("2027-02-12/2027-02-08", None),
            ("2027-02-08", Some("2027-02-08")),
        ] {
            let config = CalendarConfig {
                public_holidays: vec![holiday.into()],
                make_up_working_days: make_up.into_iter().map(String::from).collect(),
                ..CalendarConfig::default()
            };
            assert!(
                WorkingCalendar::from_config(&config).is_err(),
                "{holiday} {make_up:?}"
            );
        }
        let offset = CalendarConfig {
            utc_offset: "Beijing".into(),
            ..CalendarConfig::default()
        };
        assert!(WorkingCalendar::from_config(&offset).is_err());
    }
}
