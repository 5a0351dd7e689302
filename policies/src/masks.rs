//! The masks classifications carry by default: personal data is masked unless a grant
//! lifts the mask for the column by name.

use causeway_schemas::Classification;

use crate::model::Mask;

/// The default mask of a classification, if it has one.
///
/// | tag | shown as |
/// |---|---|
/// | `pii.national_id` | the last 4 characters |
/// | `pii.phone` | the last 4 characters |
/// | `pii.name` | the first character (the family name) |
/// | `pii.address` | the text before the first comma (the town) |
/// | `pii.birth_date` | the year |
pub fn default_mask(classification: &Classification) -> Option<Mask> {
    Some(match classification.as_str() {
        "pii.national_id" | "pii.phone" => Mask::Partial { first: 0, last: 4 },
        "pii.name" => Mask::Partial { first: 1, last: 0 },
        "pii.address" => Mask::Prefix { before: ",".into() },
        "pii.birth_date" => Mask::YearOnly,
        _ => return None,
    })
}
