//! One record: [`DatasetRecord`], typed or JSON, its wire form, [`RecordUpdate`] and
//! [`RecordKey`] (a record by id or by position).

use llmobs_core::datasets::InsertRecord;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::Dataset;
use crate::{Error, Result};

/// One record of a dataset: an input `Q`, an optional expected output `A`, metadata and
/// tags.
///
/// `Q` and `A` are JSON values by default; give any `serde` types to build typed
/// records (they are written as JSON when they join a dataset), and read stored records
/// back with [`read_as`](DatasetRecord::read_as) or [`Dataset::records_as`].
///
/// ```
/// use llmobs::DatasetRecord;
/// use serde::{Deserialize, Serialize};
/// use serde_json::json;
///
/// #[derive(Serialize, Deserialize)]
/// struct Question { text: String }
///
/// let untyped = DatasetRecord::new(json!({"text": "2+2"})).expected_output(json!("4"));
/// let typed = DatasetRecord::new(Question { text: "2+2".into() }).expected_output(4_u32);
/// assert_eq!(typed.into_json()?, untyped.clone().expected_output(json!(4)));
/// let back: DatasetRecord<Question, u32> = untyped.expected_output(json!(4)).read_as()?;
/// assert_eq!((back.input.text.as_str(), back.expected_output), ("2+2", Some(4)));
/// # Ok::<(), llmobs::Error>(())
/// ```
///
/// `expected_output` and `metadata` distinguish "never set" (`None`) from "explicitly
/// empty" (`Some(Value::Null)`), as the wire does (spec E5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetRecord<Q = Value, A = Value> {
    /// The record id; empty until the record joins a dataset, which then picks a UUID4.
    pub id: String,
    /// The input.
    pub input: Q,
    /// The expected output.
    #[serde(default = "none", skip_serializing_if = "Option::is_none")]
    pub expected_output: Option<A>,
    /// Metadata, usually an object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// `key:value` tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The id the server keeps across versions, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canonical_id: Option<String>,
}

fn none<A>() -> Option<A> {
    None
}

impl<Q> DatasetRecord<Q> {
    /// A record with `input` and nothing else.
    pub fn new(input: Q) -> Self {
        DatasetRecord {
            id: String::new(),
            input,
            expected_output: None,
            metadata: None,
            tags: Vec::new(),
            canonical_id: None,
        }
    }
}

impl<Q, A> DatasetRecord<Q, A> {
    /// Chooses the record id.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }

    /// Sets the expected output, of any type (`Value::Null` means "explicitly none").
    pub fn expected_output<B>(self, value: B) -> DatasetRecord<Q, B> {
        DatasetRecord {
            id: self.id,
            input: self.input,
            expected_output: Some(value),
            metadata: self.metadata,
            tags: self.tags,
            canonical_id: self.canonical_id,
        }
    }

    /// Sets the metadata.
    pub fn metadata(mut self, value: impl Into<Value>) -> Self {
        self.metadata = Some(value.into());
        self
    }

    /// Sets the tags (each `key:value`).
    pub fn tags<S: Into<String>>(mut self, tags: impl IntoIterator<Item = S>) -> Self {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }
}

impl<Q: Serialize + 'static, A: Serialize + 'static> DatasetRecord<Q, A> {
    /// The record with its input and expected output written as JSON (free for JSON
    /// values).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] naming the record and the field when a value cannot be
    /// written as JSON (a map with non-string keys, a failing `Serialize`).
    pub fn into_json(self) -> Result<DatasetRecord> {
        let fail = |id: &str, field: &str, err: serde_json::Error| Error::InvalidRequest {
            detail: format!("record '{id}': the {field} cannot be written as JSON: {err}"),
        };
        let input = to_json(self.input).map_err(|err| fail(&self.id, "input", err))?;
        let expected_output = match self.expected_output {
            Some(value) => {
                Some(to_json(value).map_err(|err| fail(&self.id, "expected output", err))?)
            }
            None => None,
        };
        Ok(DatasetRecord {
            id: self.id,
            input,
            expected_output,
            metadata: self.metadata,
            tags: self.tags,
            canonical_id: self.canonical_id,
        })
    }
}

/// `value` as JSON; a move when it is a [`Value`] already.
fn to_json<T: Serialize + 'static>(value: T) -> serde_json::Result<Value> {
    let mut slot = Some(value);
    if let Some(same) = (&mut slot as &mut dyn std::any::Any).downcast_mut::<Option<Value>>() {
        return Ok(same.take().expect("just set"));
    }
    serde_json::to_value(slot.expect("not taken"))
}

impl DatasetRecord {
    /// This record with its input read as `Q` and its expected output as `A`.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] (status 0) naming the record, the field and the type when
    /// the JSON does not fit.
    pub fn read_as<Q: DeserializeOwned, A: DeserializeOwned>(&self) -> Result<DatasetRecord<Q, A>> {
        let fail = |field: &str, type_name: &str, err: serde_json::Error| Error::Validation {
            status: 0,
            detail: format!(
                "record '{}': the {field} cannot be read as {type_name}: {err}",
                self.id
            ),
        };
        let input = Q::deserialize(&self.input)
            .map_err(|err| fail("input", std::any::type_name::<Q>(), err))?;
        let expected_output = match &self.expected_output {
            Some(value) => Some(
                A::deserialize(value)
                    .map_err(|err| fail("expected output", std::any::type_name::<A>(), err))?,
            ),
            None => None,
        };
        Ok(DatasetRecord {
            id: self.id.clone(),
            input,
            expected_output,
            metadata: self.metadata.clone(),
            tags: self.tags.clone(),
            canonical_id: self.canonical_id.clone(),
        })
    }

    /// The wire form of an insert (spec E5 field rules).
    pub(super) fn to_insert(&self) -> InsertRecord {
        InsertRecord {
            input: self.input.clone(),
            expected_output: Some(match &self.expected_output {
                None => Value::Null,
                Some(Value::Null) => Value::String(String::new()),
                Some(value) => value.clone(),
            }),
            metadata: Some(match &self.metadata {
                None => Value::Null,
                Some(Value::Null) => Value::Object(Map::new()),
                Some(value) => value.clone(),
            }),
            id: Some(self.id.clone()),
            tags: (!self.tags.is_empty()).then(|| self.tags.clone()),
        }
    }
}

/// Which record of a [`Dataset`] an edit is about: its id (`&str`, `String`), which
/// stays right however the dataset changes, or its position (`usize`), which a
/// [`delete`](Dataset::delete) shifts for the records after it.
pub trait RecordKey: private::Sealed {
    /// The record's position in `dataset`.
    #[doc(hidden)]
    fn locate(&self, dataset: &Dataset) -> Result<usize>;
}

mod private {
    pub trait Sealed {}
    impl Sealed for usize {}
    impl Sealed for &str {}
    impl Sealed for String {}
    impl Sealed for &String {}
}

impl RecordKey for usize {
    fn locate(&self, dataset: &Dataset) -> Result<usize> {
        dataset.index(*self)
    }
}

impl RecordKey for &str {
    fn locate(&self, dataset: &Dataset) -> Result<usize> {
        dataset.position_of(self)
    }
}

impl RecordKey for String {
    fn locate(&self, dataset: &Dataset) -> Result<usize> {
        dataset.position_of(self)
    }
}

impl RecordKey for &String {
    fn locate(&self, dataset: &Dataset) -> Result<usize> {
        dataset.position_of(self)
    }
}

/// Changes to a stored record for [`Dataset::update`]; `None` leaves a field alone.
/// `Some(Value::Null)` erases `expected_output` or `metadata`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordUpdate {
    /// A new input.
    pub input: Option<Value>,
    /// A new expected output; `Some(Null)` erases it.
    pub expected_output: Option<Value>,
    /// New metadata; `Some(Null)` erases it.
    pub metadata: Option<Value>,
    /// A new tag list (sent as a `set` tag operation).
    pub tags: Option<Vec<String>>,
}
