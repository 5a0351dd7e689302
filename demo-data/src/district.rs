//! The district: its towns and grids, its households and residents, and the people from
//! outside it who own parcels or pay contributions here.

use std::num::NonZeroU64;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::dates::Day;
use crate::ids;
use crate::text::{hundredths, push_number};
use crate::{PROGRESS_EVERY, REFERENCE_DAY, RESIDENTS_PER_OUTSIDER, Stream, choose, pick, rng_for};

pub(crate) struct Town {
    pub(crate) name: &'static str,
    /// Prefix of the town's grid, household and parcel identifiers.
    pub(crate) code: &'static str,
    /// Share of the district's residents, in thousandths.
    pub(crate) resident_share: u32,
    /// Share of the district's enterprises, in thousandths.
    pub(crate) enterprise_share: u32,
    pub(crate) streets: &'static [&'static str],
    /// The use of parcels other than homes: central towns are commercial and industrial,
    /// the towns along the rivers agricultural.
    pub(crate) land_uses: [(LandUse, u32); 4],
}

/// What a parcel is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LandUse {
    Residential,
    Commercial,
    Industrial,
    Agricultural,
}

impl LandUse {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Residential => "residential",
            Self::Commercial => "commercial",
            Self::Industrial => "industrial",
            Self::Agricultural => "agricultural",
        }
    }

    pub(crate) fn area_hundredths(self, rng: &mut ChaCha8Rng) -> u64 {
        match self {
            Self::Residential => rng.random_range(hundredths(60)..=hundredths(320)),
            Self::Commercial => rng.random_range(hundredths(40)..=hundredths(2_500)),
            Self::Industrial => rng.random_range(hundredths(800)..=hundredths(30_000)),
            Self::Agricultural => rng.random_range(hundredths(300)..=hundredths(12_000)),
        }
    }
}

pub(crate) const fn land_uses(
    residential: u32,
    commercial: u32,
    industrial: u32,
    agricultural: u32,
) -> [(LandUse, u32); 4] {
    [
        (LandUse::Residential, residential),
        (LandUse::Commercial, commercial),
        (LandUse::Industrial, industrial),
        (LandUse::Agricultural, agricultural),
    ]
}

pub(crate) const TOWNS: [Town; 7] = [
    Town {
        name: "Guicheng",
        code: "GC",
        resident_share: 280,
        enterprise_share: 230,
        streets: &[
            "Nanhai Avenue",
            "Guiping Road",
            "Denghu Road",
            "Nanxin Road",
            "Haisan Road",
            "Guilan Road",
            "Jihua Road",
            "Pingzhou Street",
        ],
        land_uses: land_uses(30, 40, 20, 10),
    },
    Town {
        name: "Jiujiang",
        code: "JJ",
        resident_share: 80,
        enterprise_share: 80,
        streets: &[
            "Jiujiang Avenue",
            "Rudong Road",
            "Zhenhua Road",
            "Shabo Road",
            "Nanjin Road",
            "Xiabei Road",
        ],
        land_uses: land_uses(20, 10, 20, 50),
    },
    Town {
        name: "Xiqiao",
        code: "XQ",
        resident_share: 70,
        enterprise_share: 60,
        streets: &[
            "Xiqiao Avenue",
            "Baiyun Road",
            "Qiaoshan Road",
            "Jiangpu Road",
            "Shatou Road",
            "Zhenxing Road",
        ],
        land_uses: land_uses(25, 20, 15, 40),
    },
    Town {
        name: "Danzao",
        code: "DZ",
        resident_share: 80,
        enterprise_share: 90,
        streets: &[
            "Danzao Avenue",
            "Jinsha Road",
            "Xianxi Road",
            "Lianhe Road",
            "Cangjiang Road",
            "Jinxi Road",
        ],
        land_uses: land_uses(20, 10, 30, 40),
    },
    Town {
        name: "Shishan",
        code: "SS",
        resident_share: 130,
        enterprise_share: 200,
        streets: &[
            "Shishan Avenue",
            "Songgang Road",
            "Xiaotang Road",
            "Luocun Road",
            "Boai Road",
            "Tongsheng Road",
            "Shida Road",
        ],
        land_uses: land_uses(20, 15, 45, 20),
    },
    Town {
        name: "Dali",
        code: "DL",
        resident_share: 230,
        enterprise_share: 220,
        streets: &[
            "Guangfo Road",
            "Huangqi Road",
            "Dali Avenue",
            "Yanbu Road",
            "Zhongnan Road",
            "Taiping Road",
            "Fengchi Road",
        ],
        land_uses: land_uses(25, 25, 40, 10),
    },
    Town {
        name: "Lishui",
        code: "LS",
        resident_share: 130,
        enterprise_share: 120,
        streets: &[
            "Lishui Avenue",
            "Heshun Road",
            "Ganjiao Road",
            "Dazhen Road",
            "Zhouxi Road",
            "Hebin Road",
        ],
        land_uses: land_uses(20, 15, 35, 30),
    },
];

/// The index of a town in `TOWNS`, chosen by the given share.
pub(crate) fn pick_town(rng: &mut ChaCha8Rng, share: fn(&Town) -> u32) -> u8 {
    let shares: [(u8, u32); TOWNS.len()] = std::array::from_fn(|index| (index as u8, share(&TOWNS[index])));
    pick(rng, &shares)
}

/// Common surnames of the Pearl River Delta, weighted roughly by frequency.
#[rustfmt::skip]
pub(crate) const SURNAMES: [(&str, u32); 38] = [
    ("陈", 120), ("李", 70), ("梁", 65), ("黄", 60), ("何", 40), ("张", 40), ("林", 35), ("吴", 30),
    ("罗", 28), ("冯", 26), ("关", 22), ("区", 20), ("麦", 20), ("潘", 18), ("邓", 18), ("叶", 16),
    ("周", 15), ("刘", 15), ("杨", 14), ("郑", 14), ("谭", 13), ("卢", 13), ("苏", 12), ("蔡", 10),
    ("钟", 10), ("胡", 9), ("谢", 9), ("朱", 8), ("伍", 8), ("霍", 7), ("莫", 7), ("简", 6),
    ("岑", 6), ("邝", 6), ("欧阳", 5), ("招", 5), ("劳", 4), ("植", 3),
];
pub(crate) const MALE_GIVEN: [&str; 40] = [
    "伟", "强", "明", "志", "俊", "杰", "浩", "健", "文", "辉", "华", "国", "建", "荣", "海", "斌", "锦",
    "炜", "嘉", "家", "永", "耀", "德", "振", "宇", "泽", "铭", "鹏", "涛", "峰", "坚", "成", "标", "满",
    "权", "棠", "汉", "昌", "达", "冠",
];
pub(crate) const FEMALE_GIVEN: [&str; 40] = [
    "芳", "丽", "敏", "静", "婷", "颖", "欣", "雪", "燕", "玲", "慧", "琳", "洁", "霞", "丹", "娟", "艳",
    "萍", "晓", "佩", "嘉", "咏", "诗", "雅", "莹", "淑", "凤", "美", "玉", "兰", "桂", "秀", "彩", "珊",
    "碧", "翠", "宝", "妍", "思", "蕙",
];
/// Mobile prefixes of the three carriers: 130-139, 150-159 (but 154) and 180-189.
pub(crate) const PHONE_PREFIXES: [u64; 29] = [
    130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 150, 151, 152, 153, 155, 156, 157, 158, 159, 180, 181,
    182, 183, 184, 185, 186, 187, 188, 189,
];
pub(crate) const HOUSEHOLD_SIZES: [(usize, u32); 5] = [(1, 15), (2, 25), (3, 28), (4, 20), (5, 12)];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Address {
    pub(crate) town: u8,
    pub(crate) grid: u16,
    pub(crate) street: u8,
    pub(crate) house_number: u16,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Name {
    pub(crate) surname: u8,
    pub(crate) given: [u8; 2],
    /// One or two given characters.
    pub(crate) given_length: u8,
}

/// What every dataset needs to know about a resident; the text is written from it on demand.
pub(crate) struct Resident {
    pub(crate) id_number: Box<str>,
    pub(crate) birth: Day,
    /// On `REFERENCE_DAY`.
    pub(crate) age: u32,
    pub(crate) male: bool,
    pub(crate) address: Address,
    /// The household's number within its grid.
    pub(crate) household: u16,
    pub(crate) name: Name,
    /// Adults only.
    pub(crate) phone: Option<NonZeroU64>,
}

impl Resident {
    pub(crate) fn household_key(&self) -> (u8, u16, u16) {
        (self.address.town, self.address.grid, self.household)
    }
}

/// Someone registered elsewhere who owns land, pays in or runs a firm in the district.
pub(crate) struct Outsider {
    pub(crate) id_number: Box<str>,
    pub(crate) birth: Day,
}

/// The residents, town by town and household by household, and the outsiders.
pub(crate) struct District {
    pub(crate) residents: Vec<Resident>,
    pub(crate) grids_per_town: [u16; TOWNS.len()],
    pub(crate) outsiders: Vec<Outsider>,
}

impl District {
    pub(crate) fn build(resident_count: usize, progress: &dyn Fn(&str, u64, u64)) -> Self {
        let mut builder = RegisterBuilder {
            rng: rng_for(Stream::Register),
            ids: IdAllocator::new(&ids::RESIDENT_AREAS),
            residents: Vec::with_capacity(resident_count),
        };
        let total = resident_count as u64;
        progress("register", 0, total);
        let mut grids_per_town = [0; TOWNS.len()];
        let mut town_start = 0;
        let mut next_report = PROGRESS_EVERY;
        for (town, grids) in grids_per_town.iter_mut().enumerate() {
            let town_end = if town + 1 == TOWNS.len() {
                resident_count
            } else {
                town_start + resident_count * TOWNS[town].resident_share as usize / 1_000
            };
            // Every town has at least one grid, even at sizes too small to fill it.
            loop {
                *grids += 1;
                let households = builder.rng.random_range(200..=500u16);
                for household in 1..=households {
                    let room = town_end - builder.residents.len();
                    if room == 0 {
                        break;
                    }
                    builder.add_household(town as u8, *grids, household, room);
                }
                if builder.residents.len() >= next_report {
                    progress("register", builder.residents.len() as u64, total);
                    next_report = builder.residents.len() + PROGRESS_EVERY;
                }
                if builder.residents.len() >= town_end {
                    break;
                }
            }
            town_start = town_end;
        }
        progress("register", total, total);
        Self {
            residents: builder.residents,
            grids_per_town,
            outsiders: build_outsiders((resident_count / RESIDENTS_PER_OUTSIDER).max(20)),
        }
    }
}

pub(crate) struct RegisterBuilder {
    pub(crate) rng: ChaCha8Rng,
    pub(crate) ids: IdAllocator,
    pub(crate) residents: Vec<Resident>,
}

impl RegisterBuilder {
    /// A household of at most `room` people: a head, usually a spouse, children, and in
    /// some large households a parent of the head. Children take the father's surname.
    pub(crate) fn add_household(&mut self, town: u8, grid: u16, household: u16, room: usize) {
        let rng = &mut self.rng;
        let street_count = TOWNS[usize::from(town)].streets.len();
        let address = Address {
            town,
            grid,
            street: rng.random_range(0..street_count) as u8,
            house_number: rng.random_range(1..=300),
        };
        let size = pick(rng, &HOUSEHOLD_SIZES).min(room);
        // Most residents' numbers were issued in Nanhai; the others kept their birthplace's.
        let area = if rng.random_ratio(82, 100) {
            0
        } else {
            rng.random_range(1..ids::RESIDENT_AREAS.len())
        };
        let head_age = if size == 1 && rng.random_ratio(2, 5) {
            rng.random_range(60..=95)
        } else {
            22 + rng.random_range(0..=25) + rng.random_range(0..=25)
        };
        let head_male = rng.random_ratio(11, 20);
        let head_surname = pick_surname(rng);
        let mut children_surname = head_surname;
        let person = Person {
            address,
            household,
            area,
        };
        self.add(person, head_age, head_male, head_surname);
        for member in 1..size {
            let rng = &mut self.rng;
            if member == 1 && rng.random_ratio(17, 20) {
                let age = (head_age + rng.random_range(0..=10))
                    .saturating_sub(5)
                    .clamp(20, 95);
                let surname = pick_surname(rng);
                if !head_male {
                    children_surname = surname;
                }
                self.add(person, age, !head_male, surname);
            } else if member == 4 && head_age <= 60 && rng.random_ratio(1, 2) {
                let age = (head_age + rng.random_range(22..=35)).min(95);
                let male = rng.random_ratio(1, 2);
                let surname = if male { head_surname } else { pick_surname(rng) };
                self.add(person, age, male, surname);
            } else {
                let age = rng.random_range(0..=(head_age - 20).min(40));
                let male = rng.random_ratio(1, 2);
                self.add(person, age, male, children_surname);
            }
        }
    }

    /// A resident about `nominal_age` years old on the reference day.
    pub(crate) fn add(&mut self, person: Person, nominal_age: u32, male: bool, surname: u8) {
        let rng = &mut self.rng;
        let nominal_birth =
            REFERENCE_DAY.plus(-((nominal_age * 36_525 / 100) as i32) - rng.random_range(0..365));
        let (id_number, birth) = self.ids.issue(person.area, nominal_birth, male);
        let given_names = if male { &MALE_GIVEN } else { &FEMALE_GIVEN };
        let name = Name {
            surname,
            given: [
                rng.random_range(0..given_names.len()) as u8,
                rng.random_range(0..given_names.len()) as u8,
            ],
            given_length: if rng.random_ratio(7, 10) { 2 } else { 1 },
        };
        let age = birth.years_until(REFERENCE_DAY);
        let phone = if age >= 18 {
            NonZeroU64::new(choose(rng, &PHONE_PREFIXES) * 100_000_000 + rng.random_range(0..100_000_000))
        } else {
            None
        };
        self.residents.push(Resident {
            id_number,
            birth,
            age,
            male,
            address: person.address,
            household: person.household,
            name,
            phone,
        });
    }
}

/// Where a household's members live and which area issued their numbers.
#[derive(Clone, Copy)]
pub(crate) struct Person {
    pub(crate) address: Address,
    pub(crate) household: u16,
    pub(crate) area: usize,
}

pub(crate) fn pick_surname(rng: &mut ChaCha8Rng) -> u8 {
    let indexes: [(u8, u32); SURNAMES.len()] = std::array::from_fn(|index| (index as u8, SURNAMES[index].1));
    pick(rng, &indexes)
}

pub(crate) fn build_outsiders(count: usize) -> Vec<Outsider> {
    let mut rng = rng_for(Stream::Outsiders);
    let mut allocator = IdAllocator::new(&ids::OUTSIDER_AREAS);
    (0..count)
        .map(|_| {
            let area = rng.random_range(0..ids::OUTSIDER_AREAS.len());
            let nominal_birth = REFERENCE_DAY.plus(-rng.random_range(22 * 365..=80 * 365));
            let (id_number, birth) = allocator.issue(area, nominal_birth, rng.random_ratio(1, 2));
            Outsider { id_number, birth }
        })
        .collect()
}

/// Birth days that the identity numbers can carry: 97 years up to the reference day.
pub(crate) const BIRTH_WINDOW_DAYS: i32 = 97 * 366;

/// Hands out sequence numbers so that no two people get the same identity number: one
/// counter per area, birth day and sex. Men get odd numbers (1 to 999), women even ones
/// (2 to 998); when a day runs out, the birth moves a day earlier.
pub(crate) struct IdAllocator {
    pub(crate) areas: &'static [u32],
    pub(crate) issued: Vec<u16>,
}

impl IdAllocator {
    pub(crate) fn new(areas: &'static [u32]) -> Self {
        Self {
            areas,
            issued: vec![0; areas.len() * BIRTH_WINDOW_DAYS as usize * 2],
        }
    }

    /// The number of someone registered in `areas[area]`, and their birth day.
    pub(crate) fn issue(&mut self, area: usize, birth: Day, male: bool) -> (Box<str>, Day) {
        let earliest = REFERENCE_DAY.0 - BIRTH_WINDOW_DAYS + 1;
        let capacity = if male { 500 } else { 499 };
        let mut day = birth.0.clamp(earliest, REFERENCE_DAY.0);
        loop {
            let slot =
                (area * BIRTH_WINDOW_DAYS as usize + (day - earliest) as usize) * 2 + usize::from(male);
            let issued = self.issued[slot];
            if issued < capacity {
                self.issued[slot] = issued + 1;
                let sequence = 2 * u32::from(issued) + if male { 1 } else { 2 };
                let birth = Day(day);
                let id_number = ids::resident_id(self.areas[area], birth.civil(), sequence);
                return (id_number.into_boxed_str(), birth);
            }
            day = if day == earliest { REFERENCE_DAY.0 } else { day - 1 };
        }
    }
}

pub(crate) fn push_name(out: &mut String, name: Name, male: bool) {
    let given_names = if male { &MALE_GIVEN } else { &FEMALE_GIVEN };
    out.push_str(SURNAMES[usize::from(name.surname)].0);
    for given in &name.given[..usize::from(name.given_length)] {
        out.push_str(given_names[usize::from(*given)]);
    }
}

/// `GC-012`.
pub(crate) fn push_grid_id(out: &mut String, town: u8, grid: u16) {
    out.push_str(TOWNS[usize::from(town)].code);
    out.push('-');
    push_number(out, u64::from(grid), 3);
}

/// `Guicheng Town, Grid GC-012, No. 34 Nanhai Avenue`.
pub(crate) fn push_address(out: &mut String, address: Address) {
    let town = &TOWNS[usize::from(address.town)];
    out.push_str(town.name);
    out.push_str(" Town, Grid ");
    push_grid_id(out, address.town, address.grid);
    out.push_str(", No. ");
    push_number(out, u64::from(address.house_number), 1);
    out.push(' ');
    out.push_str(town.streets[usize::from(address.street)]);
}

/// Calls `progress` at the start, every `PROGRESS_EVERY` rows and at the end.
pub(crate) struct Progress<'a> {
    pub(crate) what: &'static str,
    pub(crate) done: usize,
    pub(crate) total: usize,
    pub(crate) report: &'a dyn Fn(&str, u64, u64),
}

impl<'a> Progress<'a> {
    pub(crate) fn start(what: &'static str, total: usize, report: &'a dyn Fn(&str, u64, u64)) -> Self {
        report(what, 0, total as u64);
        Self {
            what,
            done: 0,
            total,
            report,
        }
    }

    pub(crate) fn row(&mut self) {
        self.done += 1;
        if self.done.is_multiple_of(PROGRESS_EVERY) {
            (self.report)(self.what, self.done as u64, self.total as u64);
        }
    }

    pub(crate) fn finish(self) {
        (self.report)(self.what, self.done as u64, self.total as u64);
    }
}

/// Spreads `extra` rows evenly among `base` rows: `tick`, called once after each base row,
/// answers true exactly `extra` times in all.
pub(crate) struct Interleave {
    pub(crate) base: usize,
    pub(crate) extra: usize,
    pub(crate) owed: usize,
}

impl Interleave {
    pub(crate) fn new(base: usize, extra: usize) -> Self {
        Self { base, extra, owed: 0 }
    }

    pub(crate) fn tick(&mut self) -> bool {
        self.owed += self.extra;
        if self.owed >= self.base {
            self.owed -= self.base;
            true
        } else {
            false
        }
    }
}
