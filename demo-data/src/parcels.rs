//! land_registry.parcels: CSV.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::dates::{Day, random_day};
use crate::district::{Address, District, Interleave, LandUse, Progress, TOWNS, pick_town, push_address};
use crate::ids;
use crate::text::{push_csv_field, push_hundredths, push_iso_date, push_number};
use crate::{
    ADULT_AFTER_DAYS, GenerateError, LAND_REGISTRATION_FROM, OUTSIDER_PARCELS_PERCENT, REFERENCE_DAY, Stream,
    choose, io_error, pick, rng_for,
};

/// How many parcels an adult resident owns: most own their home and one more (farmland, a
/// shop, a workshop); a few own three or more.
pub(crate) const PARCELS_OWNED: [(u8, u32); 6] = [(0, 30), (1, 100), (2, 840), (3, 20), (4, 7), (5, 3)];
pub(crate) const PARCELS_HEADER: &str =
    "parcel_id,owner_id_number,town,address,area_m2,land_use,registered_on\n";

pub(crate) fn write_parcels(
    path: &Path,
    district: &District,
    progress: &dyn Fn(&str, u64, u64),
) -> Result<usize, GenerateError> {
    let mut rng = rng_for(Stream::Parcels);
    let owned: Vec<u8> = district
        .residents
        .iter()
        .map(|resident| {
            if resident.age >= 18 {
                pick(&mut rng, &PARCELS_OWNED)
            } else {
                0
            }
        })
        .collect();
    let resident_parcels: usize = owned.iter().map(|count| usize::from(*count)).sum();
    let outsider_parcels = resident_parcels * OUTSIDER_PARCELS_PERCENT / (100 - OUTSIDER_PARCELS_PERCENT);
    let mut outsiders_between = Interleave::new(resident_parcels, outsider_parcels);
    let mut progress = Progress::start("parcels", resident_parcels + outsider_parcels, progress);

    let file = File::create(path).map_err(io_error(path))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    out.write_all(PARCELS_HEADER.as_bytes()).map_err(io_error(path))?;
    let mut writer = ParcelWriter {
        last_number: [0; TOWNS.len()],
        line: String::with_capacity(160),
        address: String::with_capacity(64),
    };
    let mut registered_home = None;
    for (resident, &count) in district.residents.iter().zip(&owned) {
        for index in 0..count {
            // The first owner in a household to be listed holds its home.
            let (address, land_use) = if index == 0 && registered_home != Some(resident.household_key()) {
                registered_home = Some(resident.household_key());
                (resident.address, LandUse::Residential)
            } else {
                random_parcel(&mut rng, district, Some(resident.address.town))
            };
            let owner = Owner {
                id_number: &resident.id_number,
                birth: resident.birth,
            };
            writer
                .write(&mut out, &mut rng, owner, address, land_use)
                .map_err(io_error(path))?;
            progress.row();
            if outsiders_between.tick() {
                let outsider = choose(&mut rng, &district.outsiders);
                let owner = Owner {
                    id_number: &outsider.id_number,
                    birth: outsider.birth,
                };
                let (address, land_use) = random_parcel(&mut rng, district, None);
                writer
                    .write(&mut out, &mut rng, owner, address, land_use)
                    .map_err(io_error(path))?;
                progress.row();
            }
        }
    }
    out.flush().map_err(io_error(path))?;
    let written = progress.done;
    progress.finish();
    Ok(written)
}

/// A parcel other than a home: mostly in the owner's town, if any, and of a use that suits
/// the town.
pub(crate) fn random_parcel(
    rng: &mut ChaCha8Rng,
    district: &District,
    owner_town: Option<u8>,
) -> (Address, LandUse) {
    let town = match owner_town {
        Some(town) if rng.random_ratio(9, 10) => town,
        _ => pick_town(rng, |town| town.resident_share),
    };
    let address = Address {
        town,
        grid: rng.random_range(1..=district.grids_per_town[usize::from(town)]),
        street: rng.random_range(0..TOWNS[usize::from(town)].streets.len()) as u8,
        house_number: rng.random_range(1..=300),
    };
    (address, pick(rng, &TOWNS[usize::from(town)].land_uses))
}

#[derive(Clone, Copy)]
pub(crate) struct Owner<'a> {
    pub(crate) id_number: &'a str,
    pub(crate) birth: Day,
}

pub(crate) struct ParcelWriter {
    /// The last parcel number given in each town.
    pub(crate) last_number: [u32; TOWNS.len()],
    pub(crate) line: String,
    pub(crate) address: String,
}

impl ParcelWriter {
    /// Writes the CSV line of a new parcel.
    pub(crate) fn write(
        &mut self,
        out: &mut impl Write,
        rng: &mut ChaCha8Rng,
        owner: Owner<'_>,
        address: Address,
        land_use: LandUse,
    ) -> io::Result<()> {
        let town = usize::from(address.town);
        self.last_number[town] += 1;
        let line = &mut self.line;
        line.clear();
        push_number(line, u64::from(ids::NANHAI), 6);
        line.push('-');
        line.push_str(TOWNS[town].code);
        line.push('-');
        push_number(line, u64::from(self.last_number[town]), 6);
        line.push(',');
        line.push_str(owner.id_number);
        line.push(',');
        line.push_str(TOWNS[town].name);
        line.push(',');
        self.address.clear();
        push_address(&mut self.address, address);
        push_csv_field(line, &self.address);
        line.push(',');
        push_hundredths(line, land_use.area_hundredths(rng));
        line.push(',');
        line.push_str(land_use.as_str());
        line.push(',');
        let earliest = LAND_REGISTRATION_FROM.max(owner.birth.plus(ADULT_AFTER_DAYS));
        push_iso_date(line, random_day(rng, earliest, REFERENCE_DAY.plus(-1)));
        line.push('\n');
        out.write_all(line.as_bytes())
    }
}
