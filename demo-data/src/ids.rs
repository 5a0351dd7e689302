//! Identity numbers as the registers issue them, each with its check character, so that
//! generated data passes the same validation as real records:
//! - the 18-digit resident identity number (GB 11643-1999): area code, birth date, sequence
//!   number (odd for men, even for women) and an ISO 7064 MOD 11-2 check character;
//! - the 18-character unified social credit code (GB 32100-2015): registration authority,
//!   organisation category, area code, organisation code (GB 11714-1997, with its own check
//!   character) and a MOD 31 check character.

/// Administrative division code of Nanhai District, Foshan.
pub const NANHAI: u32 = 440_605;

/// Areas whose codes residents' identity numbers carry: Nanhai first, then the birthplaces of
/// people who moved to Nanhai and kept the number they were first issued.
pub const RESIDENT_AREAS: [u32; 7] = [
    NANHAI,  // Nanhai District, Foshan
    430_524, // Longhui County, Shaoyang, Hunan
    431_023, // Yongxing County, Chenzhou, Hunan
    450_881, // Guiping, Guigang, Guangxi
    441_781, // Yangchun, Yangjiang, Guangdong
    360_730, // Ningdu County, Ganzhou, Jiangxi
    511_623, // Linshui County, Guang'an, Sichuan
];

/// Areas of people who are not residents of Nanhai but own land, pay in or run firms there:
/// the rest of Foshan and two districts of Guangzhou. No code here is in `RESIDENT_AREAS`, so
/// no outsider's number can ever equal a resident's.
pub const OUTSIDER_AREAS: [u32; 6] = [
    440_604, // Chancheng District, Foshan
    440_606, // Shunde District, Foshan
    440_607, // Sanshui District, Foshan
    440_608, // Gaoming District, Foshan
    440_103, // Liwan District, Guangzhou
    440_106, // Tianhe District, Guangzhou
];

const RESIDENT_ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const RESIDENT_ID_CHECK_CHARACTERS: &[u8; 11] = b"10X98765432";

/// The characters of a unified social credit code, in the order of their values (no I, O,
/// S, V or Z).
const CREDIT_CODE_CHARACTERS: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const CREDIT_CODE_WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
const ORGANISATION_CODE_WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];

/// The resident identity number of someone registered in `area`, born on
/// `year`-`month`-`day`, with the given sequence number (0 to 999; odd for men).
pub fn resident_id(area: u32, (year, month, day): (i32, u32, u32), sequence: u32) -> String {
    let mut digits = [0u8; 17];
    put_digits(&mut digits[0..6], area);
    put_digits(&mut digits[6..10], year.unsigned_abs());
    put_digits(&mut digits[10..12], month);
    put_digits(&mut digits[12..14], day);
    put_digits(&mut digits[14..17], sequence);
    let mut id = String::with_capacity(18);
    id.extend(digits.iter().map(|digit| char::from(b'0' + digit)));
    id.push(char::from(resident_id_check(&digits)));
    id
}

/// The unified social credit code of a company (registration authority 9, market
/// supervision; category 1, enterprise) registered in `area`, whose organisation code is
/// the 8-digit `organisation_number` followed by its check character.
pub fn enterprise_credit_code(area: u32, organisation_number: u32) -> String {
    let mut values = [0u8; 17];
    values[0] = 9;
    values[1] = 1;
    put_digits(&mut values[2..8], area);
    put_digits(&mut values[8..16], organisation_number);
    let mut organisation_digits = [0u8; 8];
    organisation_digits.copy_from_slice(&values[8..16]);
    values[16] = organisation_code_check(&organisation_digits);
    let mut code = String::with_capacity(18);
    code.extend(
        values
            .iter()
            .map(|value| char::from(CREDIT_CODE_CHARACTERS[usize::from(*value)])),
    );
    code.push(char::from(
        CREDIT_CODE_CHARACTERS[usize::from(credit_code_check(&values))],
    ));
    code
}

/// Writes the last `digits.len()` decimal digits of `value`, most significant first.
fn put_digits(digits: &mut [u8], mut value: u32) {
    for digit in digits.iter_mut().rev() {
        *digit = (value % 10) as u8;
        value /= 10;
    }
}

/// The GB 11643-1999 check character (an ASCII digit or `X`) of the first 17 digits.
fn resident_id_check(digits: &[u8; 17]) -> u8 {
    let sum: u32 = digits
        .iter()
        .zip(RESIDENT_ID_WEIGHTS)
        .map(|(digit, weight)| u32::from(*digit) * weight)
        .sum();
    RESIDENT_ID_CHECK_CHARACTERS[(sum % 11) as usize]
}

/// The value (in `CREDIT_CODE_CHARACTERS`) of the GB 11714-1997 check character of an
/// organisation code whose first eight characters have these values: 0-9 for digits and
/// 10-35 for the letters A-Z. 10 is written `X` and 11 is written `0`.
fn organisation_code_check(values: &[u8; 8]) -> u8 {
    let sum: u32 = values
        .iter()
        .zip(ORGANISATION_CODE_WEIGHTS)
        .map(|(value, weight)| u32::from(*value) * weight)
        .sum();
    match 11 - sum % 11 {
        11 => 0,
        10 => 29, // 'X' in CREDIT_CODE_CHARACTERS
        check => check as u8,
    }
}

/// The value (in `CREDIT_CODE_CHARACTERS`) of the GB 32100-2015 check character.
fn credit_code_check(values: &[u8; 17]) -> u8 {
    let sum: u32 = values
        .iter()
        .zip(CREDIT_CODE_WEIGHTS)
        .map(|(value, weight)| u32::from(*value) * weight)
        .sum();
    ((31 - sum % 31) % 31) as u8
}

/// Whether `id` is an 18-character resident identity number with the right check character.
#[cfg(test)]
pub fn is_valid_resident_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    if bytes.len() != 18 || !bytes[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let mut digits = [0u8; 17];
    for (digit, byte) in digits.iter_mut().zip(bytes) {
        *digit = byte - b'0';
    }
    resident_id_check(&digits) == bytes[17]
}

/// Whether `code` is an 18-character unified social credit code with the right check
/// character.
#[cfg(test)]
pub fn is_valid_credit_code(code: &str) -> bool {
    let values: Option<Vec<u8>> = code
        .bytes()
        .map(|byte| {
            let value = CREDIT_CODE_CHARACTERS
                .iter()
                .position(|character| *character == byte);
            value.map(|value| value as u8)
        })
        .collect();
    match values.as_deref() {
        Some([first17 @ .., check]) => {
            <[u8; 17]>::try_from(first17).is_ok_and(|first17| credit_code_check(&first17) == *check)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_resident_ids_are_valid() {
        assert!(is_valid_resident_id("11010519491231002X"));
        assert!(is_valid_resident_id("440524188001010014"));
        assert!(!is_valid_resident_id("110105194912310021"));
        assert!(!is_valid_resident_id("11010519491231002"));
        assert!(!is_valid_resident_id("1101051949123100AX"));
    }

    #[test]
    fn built_resident_ids_match_known_ones() {
        assert_eq!(resident_id(110_105, (1949, 12, 31), 2), "11010519491231002X");
        assert_eq!(resident_id(440_524, (1880, 1, 1), 1), "440524188001010014");
        assert_eq!(resident_id(NANHAI, (2001, 2, 3), 45).len(), 18);
    }

    #[test]
    fn known_credit_code_is_valid() {
        assert!(is_valid_credit_code("91350100M000100Y43"));
        assert!(!is_valid_credit_code("91350100M000100Y44"));
        assert!(!is_valid_credit_code("91350100M000100Y4"));
        assert!(!is_valid_credit_code("91350100M000100Y4I"));
    }

    #[test]
    fn organisation_code_check_matches_a_known_code() {
        // "M000100Y" with M = 22 and Y = 34 in GB 11714 has the check character 4.
        assert_eq!(organisation_code_check(&[22, 0, 0, 0, 1, 0, 0, 34]), 4);
    }

    #[test]
    fn built_credit_codes_are_valid() {
        for number in [0, 1, 12_345_678, 30_000_517, 99_999_999] {
            let code = enterprise_credit_code(NANHAI, number);
            assert_eq!(code.len(), 18);
            assert!(code.starts_with("91440605"), "{code}");
            assert!(is_valid_credit_code(&code), "{code}");
        }
    }

    #[test]
    fn resident_and_outsider_areas_are_disjoint() {
        assert!(OUTSIDER_AREAS.iter().all(|area| !RESIDENT_AREAS.contains(area)));
    }
}
