//! Record tag normalisation (spec §6, D22): every emitted tag is `key:value` with both
//! sides non-empty, because the SDK rejects anything else.

use crate::json::Json;
use crate::literal::py_float;

/// Normalises the `tags` value of one record: steps 1 to 4 of spec §6 (shape, elements,
/// trim, namespace). Scrubbing and de-duplication follow later, in [`dedup`].
///
/// Returns the tags, or a [`TagsError`] saying why the value cannot be used.
///
/// ```
/// use llmobs_bootstrap::{Json, normalise_tags};
///
/// let tags = Json::parse(r#"["smoke", " env:prod ", ":x", ":", 42, null, "a:b:c"]"#)?;
/// assert_eq!(normalise_tags(&tags)?, ["tag:smoke", "env:prod", "tag:x", "tag:42", "a:b:c"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn normalise_tags(tags: &Json) -> Result<Vec<String>, TagsError> {
    let raw: Vec<Option<String>> = match tags {
        Json::Array(items) => items.iter().map(element).collect::<Result<_, _>>()?,
        Json::Str(s) => vec![Some(s.clone())],
        Json::Object(pairs) => pairs
            .iter()
            .map(|(key, value)| {
                let value =
                    if *value == Json::Null { Some(String::new()) } else { element(value)? };
                Ok(value.map(|v| format!("{key}:{v}")))
            })
            .collect::<Result<_, TagsError>>()?,
        other => return Err(TagsError::Shape(other.type_name())),
    };
    Ok(raw.into_iter().flatten().filter_map(|tag| namespace(tag.trim())).collect())
}

/// Why a record's `tags` value cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TagsError {
    /// `tags` is neither a list, a string nor an object; holds the JSON type's name.
    #[error("\"tags\" must be a list, a string or an object, not {0}")]
    Shape(&'static str),
    /// One tag is a list or an object; holds the JSON type's name.
    #[error("a tag must be a string, number or boolean, not {0}")]
    Element(&'static str),
}

fn element(value: &Json) -> Result<Option<String>, TagsError> {
    Ok(match value {
        Json::Str(s) => Some(s.clone()),
        Json::Int(digits) => Some(digits.clone()),
        Json::Float(f) => Some(py_float(*f)),
        Json::Bool(b) => Some(b.to_string()),
        Json::Null => None,
        Json::Array(_) | Json::Object(_) => return Err(TagsError::Element(value.type_name())),
    })
}

fn namespace(tag: &str) -> Option<String> {
    if tag.is_empty() {
        return None;
    }
    match tag.split_once(':') {
        None => Some(format!("tag:{tag}")),
        Some((key, value)) => match (key.is_empty(), value.is_empty()) {
            (false, false) => Some(tag.to_owned()),
            (true, false) => Some(format!("tag:{value}")),
            (false, true) => Some(format!("tag:{key}")),
            (true, true) => None,
        },
    }
}

/// Removes exact duplicates, keeping the first occurrence (spec §6 step 6).
pub fn dedup(tags: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    tags.into_iter().filter(|t| seen.insert(t.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(text: &str) -> Result<Vec<String>, TagsError> {
        normalise_tags(&Json::parse(text).unwrap())
    }

    #[test]
    fn spec_example_list() {
        let tags = norm(
            r#"["smoke", "env:prod", "  spaced  ", ":x", "x:", ":", "", 42, true, null,
                "tag:smoke", "ümlaut", "a:b:c"]"#,
        )
        .unwrap();
        assert_eq!(
            dedup(tags),
            [
                "tag:smoke",
                "env:prod",
                "tag:spaced",
                "tag:x",
                "tag:42",
                "tag:true",
                "tag:ümlaut",
                "a:b:c"
            ]
        );
    }

    #[test]
    fn string_and_object_forms() {
        assert_eq!(norm(r#""smoke""#).unwrap(), ["tag:smoke"]);
        assert_eq!(norm(r#"{"env": "prod", "tier": "gold"}"#).unwrap(), ["env:prod", "tier:gold"]);
        assert_eq!(norm(r#"{"env": null, "n": 1.5}"#).unwrap(), ["tag:env", "n:1.5"]);
        assert_eq!(norm("[1e300, false]").unwrap(), ["tag:1e+300", "tag:false"]);
        assert_eq!(norm("[\"\u{3000}x\u{a0}\"]").unwrap(), ["tag:x"]);
    }

    #[test]
    fn nested_and_scalar_shapes_are_refused() {
        assert!(norm("[[\"a\"]]").is_err());
        assert!(norm(r#"[{"a": 1}]"#).is_err());
        assert!(norm("42").is_err());
        assert!(norm("true").is_err());
    }
}
