//! Decimals as PostgreSQL's `numeric`, in the text and the binary format, at every precision
//! a contract can declare (up to 76 digits, Arrow's `Decimal256`).
//!
//! arrow-pg writes a `Decimal128` through `rust_decimal`, whose 96-bit mantissa holds about
//! 28 digits: a `decimal(38, s)` value past that, or a scale past 28, failed with `22003`,
//! and it has no `Decimal256` at all. The value is taken from Arrow's own formatting of the
//! decimal (exact at any precision) and written here.
//!
//! The binary format is PostgreSQL's `numeric_send` (src/backend/utils/adt/numeric.c): the
//! number of base-10000 digits, the weight of the first, the sign (`0x0000` or `0x4000`),
//! the display scale, then the digits, each an `int16`, most significant first, with no
//! leading or trailing zero digit.

use std::error::Error;

use bytes::{BufMut, BytesMut};
use pgwire::api::Type;
use pgwire::types::ToSqlText;
use pgwire::types::format::FormatOptions;
use postgres_types::{IsNull, ToSql, to_sql_checked};

/// A decimal as Arrow writes it (`-123.4500`, `0.00`, `17`), or NULL.
#[derive(Debug)]
pub struct Numeric(pub Option<String>);

const POSITIVE: u16 = 0x0000;
const NEGATIVE: u16 = 0x4000;

impl Numeric {
    /// The binary `numeric` of `text`, or `None` if it is no plain decimal.
    fn binary(text: &str) -> Option<BytesMut> {
        let (negative, unsigned) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (integer, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        if !(integer.bytes().all(|b| b.is_ascii_digit()) && fraction.bytes().all(|b| b.is_ascii_digit())) {
            return None;
        }
        let scale = i16::try_from(fraction.len()).ok()?;
        // Whole groups of four digits on each side of the point.
        let integer = integer.trim_start_matches('0');
        let lead = (4 - integer.len() % 4) % 4;
        let trail = (4 - fraction.len() % 4) % 4;
        let digits: String = "0".repeat(lead) + integer + fraction + &"0".repeat(trail);
        let mut groups: Vec<i16> = digits
            .as_bytes()
            .chunks(4)
            .map(|chunk| {
                chunk
                    .iter()
                    .fold(0i16, |value, digit| value * 10 + i16::from(digit - b'0'))
            })
            .collect();
        let mut weight = i16::try_from((lead + integer.len()) / 4).ok()? - 1;
        // No leading zero digit (each one dropped moves the weight down), nor trailing one.
        let leading = groups.iter().take_while(|group| **group == 0).count();
        groups.drain(..leading);
        weight -= i16::try_from(leading).ok()?;
        while groups.last() == Some(&0) {
            groups.pop();
        }
        let zero = groups.is_empty();
        let mut out = BytesMut::with_capacity(8 + 2 * groups.len());
        out.put_i16(i16::try_from(groups.len()).ok()?);
        out.put_i16(if zero { 0 } else { weight });
        out.put_u16(if negative && !zero { NEGATIVE } else { POSITIVE });
        out.put_i16(scale);
        for group in groups {
            out.put_i16(group);
        }
        Some(out)
    }
}

impl ToSql for Numeric {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        let Some(text) = &self.0 else {
            return Ok(IsNull::Yes);
        };
        let binary = Self::binary(text).ok_or("a decimal that is no plain number")?;
        out.extend_from_slice(&binary);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }

    to_sql_checked!();
}

impl ToSqlText for Numeric {
    fn to_sql_text(
        &self,
        _: &Type,
        out: &mut BytesMut,
        _: &FormatOptions,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match &self.0 {
            Some(text) => {
                out.extend_from_slice(text.as_bytes());
                Ok(IsNull::No)
            }
            None => Ok(IsNull::Yes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(text: &str) -> String {
        Numeric::binary(text)
            .expect("a decimal")
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    /// The bytes PostgreSQL 15's `numeric_send` writes for the same values.
    #[test]
    fn decimals_are_written_as_numeric_send_writes_them() {
        for (text, sent) in [
            ("12345.678", "0003000100000003000109291a7c"),
            ("-7.25", "0002000040000002000709c4"),
            ("0.00", "0000000000000002"),
            ("-0.00", "0000000000000002"),
            ("0.000001", "0001fffe000000060064"),
            ("10000", "00010001000000000001"),
            ("17", "00010000000000000011"),
            (
                "123456789012345678901234567890123456.78",
                "000a00080000000204d2162e23340d801ed204d2162e23340d801e78",
            ),
        ] {
            assert_eq!(hex(text), sent, "{text}");
        }
        // Past 38 digits (a Decimal256): eleven base-10000 digits.
        assert!(hex("1234567890123456789012345678901234567890.5").starts_with("000b"));
        assert!(Numeric::binary("1e5").is_none());
    }
}
