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

/// Whether showing a column as `replacement` reveals no more than showing it as `asked`
/// (`None`: raw). The order of disclosure, most first: raw; then the masks that keep part
/// of the value or a pseudonym of it (`partial`, `hash`, `prefix`, `year_only`, `bucket`,
/// `sql`); then `null`, which reveals nothing. Within one kind, a `partial` that keeps no
/// more characters at either end, a `bucket` whose width is a whole multiple, and the same
/// `prefix` or `sql` reveal no more. Masks of different kinds cannot be compared (a keyed
/// hash joins where a partial value does not, and the reverse): `None`, and the requester
/// must agree to the change by asking again.
pub fn reveals_no_more(replacement: &Mask, asked: Option<&Mask>) -> Option<bool> {
    let Some(asked) = asked else {
        return Some(true);
    };
    Some(match (replacement, asked) {
        (Mask::Null, _) => true,
        (_, Mask::Null) => false,
        (
            Mask::Partial { first, last },
            Mask::Partial {
                first: asked_first,
                last: asked_last,
            },
        ) => first <= asked_first && last <= asked_last,
        (Mask::Hash, Mask::Hash) | (Mask::YearOnly, Mask::YearOnly) => true,
        (Mask::Bucket { width }, Mask::Bucket { width: asked_width }) => {
            *asked_width > 0.0 && *width >= *asked_width && (width / asked_width).fract() == 0.0
        }
        (Mask::Prefix { before }, Mask::Prefix { before: asked_before }) => before == asked_before,
        (
            Mask::Sql { expression },
            Mask::Sql {
                expression: asked_expression,
            },
        ) => expression == asked_expression,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replacement_reveals_no_more_than_what_was_asked() {
        let partial = |first, last| Mask::Partial { first, last };
        assert_eq!(
            reveals_no_more(&Mask::Hash, None),
            Some(true),
            "anything instead of raw"
        );
        assert_eq!(reveals_no_more(&Mask::Null, Some(&Mask::Hash)), Some(true));
        assert_eq!(reveals_no_more(&Mask::Hash, Some(&Mask::Null)), Some(false));
        assert_eq!(reveals_no_more(&partial(0, 2), Some(&partial(0, 4))), Some(true));
        assert_eq!(reveals_no_more(&partial(0, 8), Some(&partial(0, 4))), Some(false));
        assert_eq!(reveals_no_more(&partial(1, 0), Some(&partial(0, 4))), Some(false));
        assert_eq!(
            reveals_no_more(&Mask::Bucket { width: 20.0 }, Some(&Mask::Bucket { width: 10.0 })),
            Some(true)
        );
        assert_eq!(
            reveals_no_more(&Mask::Bucket { width: 15.0 }, Some(&Mask::Bucket { width: 10.0 })),
            Some(false),
            "bands that straddle the asked ones tell more"
        );
        assert_eq!(
            reveals_no_more(&Mask::Hash, Some(&partial(0, 4))),
            None,
            "different kinds"
        );
    }
}
