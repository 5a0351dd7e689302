//! social_security.enrolments: SQLite.

use std::fs;
use std::io;
use std::path::Path;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::dates::{Day, random_day};
use crate::district::{District, Interleave, Progress};
use crate::text::{hundredths, push_hundredths, push_iso_date};
use crate::{
    ADULT_AFTER_DAYS, GenerateError, OUTSIDER_ENROLMENTS_PERCENT, REFERENCE_DAY, Stream, choose, io_error,
    pick, rng_for, sqlite_error,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    EmployeePension,
    ResidentPension,
    BasicMedical,
}

impl Scheme {
    pub(crate) const ALL: [Self; 3] = [Self::EmployeePension, Self::ResidentPension, Self::BasicMedical];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::EmployeePension => "urban_employee_pension",
            Self::ResidentPension => "urban_rural_resident_pension",
            Self::BasicMedical => "basic_medical",
        }
    }

    pub(crate) fn bit(self) -> u8 {
        1 << self as u8
    }

    /// When the scheme began in the district.
    pub(crate) fn since(self) -> Day {
        match self {
            Self::EmployeePension => Day::from_civil(1995, 1, 1),
            Self::ResidentPension => Day::from_civil(2009, 10, 1),
            Self::BasicMedical => Day::from_civil(2000, 1, 1),
        }
    }

    /// Employees pay a share of their wage; resident pension contributions are an annual
    /// grade paid monthly; resident medical insurance is a flat premium.
    pub(crate) fn monthly_contribution_cents(self, rng: &mut ChaCha8Rng, employed: bool) -> u64 {
        const RESIDENT_PENSION_GRADES: [u64; 13] = [
            100, 200, 300, 400, 500, 600, 700, 800, 900, 1_000, 1_500, 2_000, 3_000,
        ];
        match self {
            Self::EmployeePension => rng.random_range(hundredths(380)..=hundredths(1_800)),
            Self::ResidentPension => hundredths(*choose(rng, &RESIDENT_PENSION_GRADES)) / 12,
            Self::BasicMedical if employed => rng.random_range(hundredths(80)..=hundredths(600)),
            Self::BasicMedical => rng.random_range(hundredths(28)..=hundredths(35)),
        }
    }
}

pub(crate) const ENROLMENT_STATUSES: [(&str, u32); 3] = [("active", 85), ("suspended", 8), ("ended", 7)];

/// The schemes someone is enrolled in, as bits: most adults have a pension and medical
/// insurance, children only medical insurance.
pub(crate) fn plan_schemes(rng: &mut ChaCha8Rng, age: u32) -> u8 {
    let medical = if rng.random_ratio(9, 10) {
        Scheme::BasicMedical.bit()
    } else {
        0
    };
    if age < 18 {
        return medical;
    }
    let (employee, resident) = if age < 60 { (65, 25) } else { (40, 50) };
    let ticket = rng.random_range(0..100);
    let pension = if ticket < employee {
        Scheme::EmployeePension.bit()
    } else if ticket < employee + resident {
        Scheme::ResidentPension.bit()
    } else {
        0
    };
    pension | medical
}

/// The file is written once, from scratch: it needs neither a rollback journal nor syncs.
pub(crate) const ENROLMENTS_SETUP: &str = "PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
CREATE TABLE enrolments (
    id_number TEXT NOT NULL,
    scheme TEXT NOT NULL,
    enrolled_on DATE,
    monthly_contribution DECIMAL(10,2),
    status TEXT
);";

pub(crate) fn write_enrolments(
    path: &Path,
    district: &District,
    progress: &dyn Fn(&str, u64, u64),
) -> Result<usize, GenerateError> {
    let mut rng = rng_for(Stream::Enrolments);
    let planned: Vec<u8> = district
        .residents
        .iter()
        .map(|resident| plan_schemes(&mut rng, resident.age))
        .collect();
    let resident_enrolments: usize = planned.iter().map(|schemes| schemes.count_ones() as usize).sum();
    let outsider_enrolments =
        resident_enrolments * OUTSIDER_ENROLMENTS_PERCENT / (100 - OUTSIDER_ENROLMENTS_PERCENT);
    let mut outsiders_between = Interleave::new(resident_enrolments, outsider_enrolments);
    let mut progress = Progress::start("enrolments", resident_enrolments + outsider_enrolments, progress);

    if let Err(error) = fs::remove_file(path)
        && error.kind() != io::ErrorKind::NotFound
    {
        return Err(io_error(path)(error));
    }
    let mut connection = rusqlite::Connection::open(path).map_err(sqlite_error(path))?;
    connection
        .execute_batch(ENROLMENTS_SETUP)
        .map_err(sqlite_error(path))?;
    let transaction = connection.transaction().map_err(sqlite_error(path))?;
    {
        let mut insert = transaction
            .prepare(
                "INSERT INTO enrolments (id_number, scheme, enrolled_on, monthly_contribution, status) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(sqlite_error(path))?;
        let mut enrolled_on = String::with_capacity(10);
        // Bound as text with two decimals. SQLite's NUMERIC affinity (the column is DECIMAL)
        // keeps it as a REAL or INTEGER, which reads back exactly at scale 2.
        let mut contribution = String::with_capacity(12);
        let mut enrol =
            |rng: &mut ChaCha8Rng, id_number: &str, birth: Day, scheme: Scheme, employed: bool| {
                let earliest = match scheme {
                    Scheme::BasicMedical => birth,
                    Scheme::EmployeePension | Scheme::ResidentPension => birth.plus(ADULT_AFTER_DAYS),
                };
                enrolled_on.clear();
                push_iso_date(
                    &mut enrolled_on,
                    random_day(rng, scheme.since().max(earliest), REFERENCE_DAY.plus(-1)),
                );
                contribution.clear();
                push_hundredths(
                    &mut contribution,
                    scheme.monthly_contribution_cents(rng, employed),
                );
                let status = pick(rng, &ENROLMENT_STATUSES);
                insert.execute((id_number, scheme.as_str(), &enrolled_on, &contribution, status))
            };
        for (resident, &schemes) in district.residents.iter().zip(&planned) {
            let employed = schemes & Scheme::EmployeePension.bit() != 0;
            for scheme in Scheme::ALL
                .into_iter()
                .filter(|scheme| schemes & scheme.bit() != 0)
            {
                enrol(&mut rng, &resident.id_number, resident.birth, scheme, employed)
                    .map_err(sqlite_error(path))?;
                progress.row();
                if outsiders_between.tick() {
                    // People who work in the district but are registered elsewhere.
                    let outsider = choose(&mut rng, &district.outsiders);
                    let scheme = if rng.random_ratio(1, 2) {
                        Scheme::EmployeePension
                    } else {
                        Scheme::BasicMedical
                    };
                    enrol(&mut rng, &outsider.id_number, outsider.birth, scheme, true)
                        .map_err(sqlite_error(path))?;
                    progress.row();
                }
            }
        }
    }
    transaction
        .execute_batch("CREATE INDEX enrolments_id_number ON enrolments (id_number);")
        .map_err(sqlite_error(path))?;
    transaction.commit().map_err(sqlite_error(path))?;
    connection
        .close()
        .map_err(|(_, error)| sqlite_error(path)(error))?;
    let written = progress.done;
    progress.finish();
    Ok(written)
}
