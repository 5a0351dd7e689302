//! market_supervision.enterprises: NDJSON.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::dates::{Day, random_day};
use crate::district::{District, Progress, TOWNS, Town, pick_town};
use crate::ids;
use crate::text::{hundredths, push_hundredths, push_iso_date};
use crate::{
    ENTERPRISES_FROM, GenerateError, REFERENCE_DAY, RESIDENTS_PER_ENTERPRISE, Stream, choose, io_error, pick,
    rng_for,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CreditRating {
    A,
    B,
    C,
    D,
}

/// What an inspection of an enterprise found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InspectionResult {
    Passed,
    Rectify,
    Fined,
}

impl InspectionResult {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Passed => "passed",
            Self::Rectify => "rectify",
            Self::Fined => "fined",
        }
    }
}

impl CreditRating {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::A => "A",
            Self::B => "B",
            Self::C => "C",
            Self::D => "D",
        }
    }

    /// Firms with a poor rating fail more inspections: that is partly why their rating is poor.
    pub(crate) fn inspection_results(self) -> [(InspectionResult, u32); 3] {
        let (passed, rectify, fined) = match self {
            Self::A => (85, 12, 3),
            Self::B => (70, 22, 8),
            Self::C => (50, 30, 20),
            Self::D => (30, 35, 35),
        };
        [
            (InspectionResult::Passed, passed),
            (InspectionResult::Rectify, rectify),
            (InspectionResult::Fined, fined),
        ]
    }
}

pub(crate) const CREDIT_RATINGS: [(CreditRating, u32); 4] = [
    (CreditRating::A, 45),
    (CreditRating::B, 38),
    (CreditRating::C, 12),
    (CreditRating::D, 5),
];
/// Registered capital in yuan.
pub(crate) const REGISTERED_CAPITAL: [(u64, u32); 8] = [
    (100_000, 25),
    (300_000, 20),
    (500_000, 20),
    (1_000_000, 18),
    (3_000_000, 8),
    (5_000_000, 5),
    (10_000_000, 3),
    (50_000_000, 1),
];
/// The district's trades: hardware, ceramics, aluminium, textiles and more.
pub(crate) const INDUSTRIES: [&str; 15] = [
    "Hardware",
    "Ceramics",
    "Aluminium",
    "Textile",
    "Furniture",
    "Electronics",
    "Trading",
    "Logistics",
    "Food",
    "Plastics",
    "Machinery",
    "Lighting",
    "Auto Parts",
    "Building Materials",
    "Garment",
];
pub(crate) const BRAND_HEADS: [&str; 25] = [
    "Hong", "Xing", "Jin", "Hua", "Yong", "Mei", "Lian", "Heng", "Tai", "Fu", "Sheng", "Guang", "Da", "Xin",
    "Rui", "Long", "Feng", "Cheng", "Kai", "Bao", "Tian", "Wei", "Jia", "Hai", "Run",
];
pub(crate) const BRAND_TAILS: [&str; 20] = [
    "da", "hui", "li", "feng", "sheng", "de", "yi", "xin", "tai", "fa", "xing", "yuan", "tong", "cheng",
    "an", "hong", "rui", "bang", "chang", "yu",
];
/// The first organisation number; the next ones follow at random small steps.
pub(crate) const FIRST_ORGANISATION_NUMBER: u32 = 30_000_000;

pub(crate) struct Enterprise<'a> {
    pub(crate) credit_code: String,
    pub(crate) name: String,
    pub(crate) legal_rep_id_number: &'a str,
    pub(crate) town: u8,
    pub(crate) rating: CreditRating,
    pub(crate) capital_cents: u64,
    pub(crate) established: Day,
}

pub(crate) fn build_enterprises(district: &District) -> Vec<Enterprise<'_>> {
    let mut rng = rng_for(Stream::Enterprises);
    let count = district.residents.len() / RESIDENTS_PER_ENTERPRISE;
    // Legal representatives are residents of working age, mostly of the firm's own town.
    let mut candidates: [Vec<&str>; TOWNS.len()] = Default::default();
    for resident in district
        .residents
        .iter()
        .filter(|resident| (25..=70).contains(&resident.age))
    {
        candidates[usize::from(resident.address.town)].push(&resident.id_number);
    }
    let mut names = HashSet::with_capacity(count);
    let mut organisation_number = FIRST_ORGANISATION_NUMBER;
    (0..count)
        .map(|serial| {
            let town = pick_town(&mut rng, |town| town.enterprise_share);
            let rep_town = if rng.random_ratio(17, 18) {
                town
            } else {
                pick_town(&mut rng, |town| town.resident_share)
            };
            let town_candidates = &candidates[usize::from(rep_town)];
            let legal_rep_id_number = if rng.random_ratio(9, 10) && !town_candidates.is_empty() {
                *choose(&mut rng, town_candidates)
            } else {
                &*choose(&mut rng, &district.outsiders).id_number
            };
            organisation_number += rng.random_range(1..=150);
            Enterprise {
                credit_code: ids::enterprise_credit_code(ids::NANHAI, organisation_number),
                name: enterprise_name(&mut rng, &TOWNS[usize::from(town)], &mut names, serial),
                legal_rep_id_number,
                town,
                rating: pick(&mut rng, &CREDIT_RATINGS),
                capital_cents: hundredths(pick(&mut rng, &REGISTERED_CAPITAL)),
                established: random_day(&mut rng, ENTERPRISES_FROM, REFERENCE_DAY.plus(-30)),
            }
        })
        .collect()
}

/// `Foshan Nanhai Guicheng Hongda Hardware Co., Ltd.`, unique in the district as the
/// registry requires: a name already taken is drawn again, with a longer brand after a few
/// tries, and numbered as a last resort.
pub(crate) fn enterprise_name(
    rng: &mut ChaCha8Rng,
    town: &Town,
    taken: &mut HashSet<String>,
    serial: usize,
) -> String {
    let industry = choose(rng, &INDUSTRIES);
    for attempt in 0..16 {
        let mut name = format!("Foshan Nanhai {} {}", town.name, choose(rng, &BRAND_HEADS));
        for _ in 0..if attempt < 4 { 1 } else { 2 } {
            let tail = choose(rng, &BRAND_TAILS);
            name.push_str(tail);
        }
        name.push(' ');
        name.push_str(industry);
        name.push_str(" Co., Ltd.");
        if taken.insert(name.clone()) {
            return name;
        }
    }
    let name = format!(
        "Foshan Nanhai {} {industry} No. {} Co., Ltd.",
        town.name,
        serial + 1
    );
    taken.insert(name.clone());
    name
}

#[derive(Serialize)]
pub(crate) struct EnterpriseRecord<'a> {
    pub(crate) credit_code: &'a str,
    pub(crate) name: &'a str,
    pub(crate) legal_rep_id_number: &'a str,
    pub(crate) town: &'a str,
    pub(crate) credit_rating: &'a str,
    pub(crate) registered_capital: &'a str,
    pub(crate) established_on: &'a str,
}

pub(crate) fn write_enterprises(
    path: &Path,
    enterprises: &[Enterprise<'_>],
    progress: &dyn Fn(&str, u64, u64),
) -> Result<(), GenerateError> {
    let mut progress = Progress::start("enterprises", enterprises.len(), progress);
    let file = File::create(path).map_err(io_error(path))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut capital = String::with_capacity(16);
    let mut established_on = String::with_capacity(10);
    for enterprise in enterprises {
        capital.clear();
        push_hundredths(&mut capital, enterprise.capital_cents);
        established_on.clear();
        push_iso_date(&mut established_on, enterprise.established);
        let record = EnterpriseRecord {
            credit_code: &enterprise.credit_code,
            name: &enterprise.name,
            legal_rep_id_number: enterprise.legal_rep_id_number,
            town: TOWNS[usize::from(enterprise.town)].name,
            credit_rating: enterprise.rating.as_str(),
            registered_capital: &capital,
            established_on: &established_on,
        };
        serde_json::to_writer(&mut out, &record).map_err(|source| GenerateError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        out.write_all(b"\n").map_err(io_error(path))?;
        progress.row();
    }
    out.flush().map_err(io_error(path))?;
    progress.finish();
    Ok(())
}
