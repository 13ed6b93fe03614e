//! How a CSV file of any header becomes records, as ddtrace's `create_dataset_from_csv`
//! reads one: chosen columns make each record's input, expected output and metadata, each
//! an object of those columns' text, and one column may hold its id.

use serde_json::{Map, Value};

/// What a column of a [`ColumnMap`] makes of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnRole {
    /// Part of the input.
    Input,
    /// Part of the expected output.
    ExpectedOutput,
    /// Part of the metadata.
    Metadata,
    /// The record's id.
    Id,
}

/// A column a [`ColumnMap`] names that the header does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{column}' is not a column of the header")]
pub struct MissingColumn {
    /// What the column was to make.
    pub role: ColumnRole,
    /// The column's name.
    pub column: String,
}

/// The columns of a header that make each part of a record, by position.
#[derive(Debug, Clone, Default)]
pub struct ColumnMap {
    input: Vec<(String, usize)>,
    expected_output: Vec<(String, usize)>,
    metadata: Vec<(String, usize)>,
    id: Option<usize>,
}

impl ColumnMap {
    /// Finds the named columns in `header`; the first one missing (input's first, then
    /// expected output's, metadata's and the id's) is the error.
    pub fn new<'h>(
        header: impl IntoIterator<Item = &'h str>,
        input: &[String],
        expected_output: &[String],
        metadata: &[String],
        id: Option<&str>,
    ) -> Result<ColumnMap, MissingColumn> {
        let header: Vec<&str> = header.into_iter().collect();
        let find = |names: &[String], role: ColumnRole| {
            (names.iter())
                .map(|name| match header.iter().position(|h| h == name) {
                    Some(i) => Ok((name.clone(), i)),
                    None => Err(MissingColumn { role, column: name.clone() }),
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let input = find(input, ColumnRole::Input)?;
        let expected_output = find(expected_output, ColumnRole::ExpectedOutput)?;
        let metadata = find(metadata, ColumnRole::Metadata)?;
        let id = match id {
            Some(name) => Some(find(std::slice::from_ref(&name.to_owned()), ColumnRole::Id)?[0].1),
            None => None,
        };
        Ok(ColumnMap { input, expected_output, metadata, id })
    }

    /// Whether any column makes `role` of a record.
    pub fn has(&self, role: ColumnRole) -> bool {
        match role {
            ColumnRole::Id => self.id.is_some(),
            role => !self.columns(role).is_empty(),
        }
    }

    /// The object `role` (input, expected output or metadata; empty for the id) of a row
    /// whose cells `cell` gives by position: each column's name with its text.
    pub fn object<'r>(
        &self,
        role: ColumnRole,
        cell: impl Fn(usize) -> Option<&'r str>,
    ) -> Map<String, Value> {
        (self.columns(role).iter())
            .map(|(name, i)| (name.clone(), Value::String(cell(*i).unwrap_or("").to_owned())))
            .collect()
    }

    /// A row's id cell, when a column holds ids.
    pub fn id<'r>(&self, cell: impl Fn(usize) -> Option<&'r str>) -> Option<&'r str> {
        self.id.map(|i| cell(i).unwrap_or(""))
    }

    fn columns(&self, role: ColumnRole) -> &[(String, usize)] {
        match role {
            ColumnRole::Input => &self.input,
            ColumnRole::ExpectedOutput => &self.expected_output,
            ColumnRole::Metadata => &self.metadata,
            ColumnRole::Id => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn columns_are_found_by_name_and_rows_read_by_position() {
        let header = ["name", "question", "capital"];
        let map =
            ColumnMap::new(header, &names(&["question"]), &names(&["capital"]), &[], Some("name"))
                .unwrap();
        let row = ["fr", "Capital of France?", "Paris"];
        let cell = |i: usize| row.get(i).copied();
        assert_eq!(
            Value::Object(map.object(ColumnRole::Input, cell)).to_string(),
            r#"{"question":"Capital of France?"}"#
        );
        assert_eq!(
            Value::Object(map.object(ColumnRole::ExpectedOutput, cell)).to_string(),
            r#"{"capital":"Paris"}"#
        );
        assert!(map.object(ColumnRole::Metadata, cell).is_empty());
        assert!(!map.has(ColumnRole::Metadata) && map.has(ColumnRole::Id));
        assert_eq!(map.id(cell), Some("fr"));
    }

    #[test]
    fn the_first_missing_column_is_the_error() {
        let header = ["a", "b"];
        let err = ColumnMap::new(header, &names(&["a"]), &names(&["x"]), &names(&["y"]), None);
        let missing = MissingColumn { role: ColumnRole::ExpectedOutput, column: "x".into() };
        assert_eq!(err.unwrap_err(), missing);
        let err = ColumnMap::new(header, &names(&["a"]), &[], &[], Some("id"));
        assert_eq!(err.unwrap_err().role, ColumnRole::Id);
    }
}
