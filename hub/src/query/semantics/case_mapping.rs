//! `upper` and `lower` as PostgreSQL computes them: one character for one.
//!
//! DataFusion 55's `upper` and `lower` use Unicode's full case mapping, which may turn one
//! character into several and depends on context: `upper('straße')` is `'STRASSE'` and
//! `lower('ΣΑΣ')` ends in the final sigma `ς`. PostgreSQL (with the libc provider, its
//! default) maps each character on its own to one character (`towupper`/`towlower`,
//! Unicode's simple case mapping): `'STRAßE'`, `'σασ'`. These functions replace
//! DataFusion's under the same names, so a filter such as `lower(name) = 'straße'` finds
//! what PostgreSQL finds.
//!
//! A character whose full mapping is several characters keeps itself (the simple mapping
//! has no other answer for `ß`, the ligatures `ﬀ`..`ﬆ` or `ŉ`), but for `İ`, whose simple
//! lowercase is `i`.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::types::logical_string;
use datafusion::common::{Result, exec_err};
use datafusion::functions::utils::make_scalar_function;
use datafusion::logical_expr::{
    Coercion, ColumnarValue, EncodingPreservation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    TypeSignatureClass, Volatility,
};

/// Which way a [`CaseMapping`] maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Case {
    Upper,
    Lower,
}

/// `upper` and `lower`, to register in place of DataFusion's.
pub(crate) fn case_mappings() -> [ScalarUDF; 2] {
    [Case::Upper, Case::Lower].map(|case| {
        ScalarUDF::new_from_impl(CaseMapping {
            case,
            // DataFusion's own signature for these: any text, dictionaries kept.
            signature: Signature::coercible(
                vec![
                    Coercion::new_exact(TypeSignatureClass::Native(logical_string()))
                        .with_encoding_preservation(EncodingPreservation::dictionary()),
                ],
                Volatility::Immutable,
            ),
        })
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct CaseMapping {
    case: Case,
    signature: Signature,
}

impl ScalarUDFImpl for CaseMapping {
    fn name(&self) -> &str {
        match self.case {
            Case::Upper => "upper",
            Case::Lower => "lower",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arguments: &[DataType]) -> Result<DataType> {
        match arguments {
            [text] => Ok(text.clone()),
            _ => exec_err!("{} takes one text", self.name()),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let to = args.return_field.data_type().clone();
        make_scalar_function(
            |texts: &[ArrayRef]| match texts {
                [texts] => self.map_array(texts, &to),
                _ => exec_err!("{} takes one text", self.name()),
            },
            vec![],
        )(&args.args)
    }
}

impl CaseMapping {
    fn map_array(&self, texts: &ArrayRef, to: &DataType) -> Result<ArrayRef> {
        let texts = cast(texts, &DataType::Utf8)?;
        let mapped: StringArray = texts
            .as_string::<i32>()
            .iter()
            .map(|text| text.map(|text| self.map(text)))
            .collect();
        Ok(cast(&(Arc::new(mapped) as ArrayRef), to)?)
    }

    fn map(&self, text: &str) -> String {
        if text.is_ascii() {
            return match self.case {
                Case::Upper => text.to_ascii_uppercase(),
                Case::Lower => text.to_ascii_lowercase(),
            };
        }
        text.chars().map(|character| self.map_char(character)).collect()
    }

    /// Unicode's simple case mapping of one character: the full mapping where that is one
    /// character, the character itself where it is several (but `İ`, lowercase `i`).
    fn map_char(&self, character: char) -> char {
        let mut full: Box<dyn Iterator<Item = char>> = match self.case {
            Case::Upper => Box::new(character.to_uppercase()),
            Case::Lower => Box::new(character.to_lowercase()),
        };
        match (full.next(), full.next()) {
            (Some(single), None) => single,
            _ if self.case == Case::Lower && character == 'İ' => 'i',
            _ => character,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapped(case: Case, text: &str) -> String {
        CaseMapping {
            case,
            signature: Signature::any(1, Volatility::Immutable),
        }
        .map(text)
    }

    #[test]
    fn each_character_maps_to_one_as_in_postgresql() {
        assert_eq!(mapped(Case::Upper, "straße ǅ"), "STRAßE Ǆ");
        assert_eq!(mapped(Case::Lower, "ΣΑΣ"), "σασ");
        assert_eq!(mapped(Case::Lower, "José ÑÚÑEZ İ"), "josé ñúñez i");
        assert_eq!(mapped(Case::Upper, "ﬀ ŉ ǆ"), "ﬀ ŉ Ǆ");
        assert_eq!(mapped(Case::Upper, "plain ascii"), "PLAIN ASCII");
        assert_eq!(mapped(Case::Lower, "桂城 Guicheng"), "桂城 guicheng");
    }
}
