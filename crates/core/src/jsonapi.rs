//! The JSON:API envelopes of the datasets and experiments API.
//!
//! Requests are `{"data": {"type", ["id"], "attributes"}}`; answers are one resource
//! `{"data": {"id", "type", "attributes"}}` or a page of them with `{"meta": {"after"}}`,
//! where an empty `after` marks the last page.

use serde::{Deserialize, Serialize};

/// A request document: `{"data": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Request<A> {
    /// The resource sent.
    pub data: RequestData<A>,
}

/// The `data` of a [`Request`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RequestData<A> {
    /// The resource type, such as `datasets`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The resource id, on requests that name one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The fields.
    pub attributes: A,
}

impl<A> Request<A> {
    /// A request for a resource of type `kind`.
    pub fn new(kind: &str, attributes: A) -> Self {
        Request { data: RequestData { kind: kind.to_owned(), id: None, attributes } }
    }
}

/// One resource of an answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Resource<A> {
    /// Its id.
    pub id: String,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its fields.
    pub attributes: A,
}

impl<A> Resource<A> {
    /// A resource of type `kind`.
    pub fn new(id: impl Into<String>, kind: &str, attributes: A) -> Self {
        Resource { id: id.into(), kind: kind.to_owned(), attributes }
    }
}

/// An answer: one resource, or a list with paging metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Document<T> {
    /// The resource or resources.
    pub data: T,
    /// Paging: present on lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
}

impl<T> Document<T> {
    /// A single-resource answer.
    pub fn one(data: T) -> Self {
        Document { data, meta: None }
    }
}

impl<A> Document<Vec<Resource<A>>> {
    /// A page of resources; `after` is the cursor of the next page, `""` on the last.
    pub fn page(data: Vec<Resource<A>>, after: impl Into<String>) -> Self {
        Document { data, meta: Some(Meta { after: after.into() }) }
    }
}

/// Paging metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Meta {
    /// The cursor of the next page; empty on the last page.
    #[serde(default)]
    pub after: String,
}

/// `{"id": …}`: who made a resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Author {
    /// The user's UUID.
    pub id: String,
}
