//! A dataset version as a file (CSV or JSON lines, in the API export's format), streamed a
//! chunk of records at a time, so an export holds one chunk in memory whatever the
//! dataset's size. The API's export and the UI's download both answer with it.

use axum::body::Body;
use axum::http::HeaderValue;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use llmobs_core::public::ExportFormat;
use llmobs_store::{OrgId, RecordPage, RecordQuery};

use crate::error::ApiError;
use crate::state::AppState;

/// Records read per chunk.
const CHUNK: usize = 1000;

/// Which version of which dataset to write.
pub(crate) struct Version {
    pub(crate) org: OrgId,
    pub(crate) project_id: String,
    pub(crate) dataset_id: String,
    /// A version number, already resolved (not 0): later writes to the dataset do not
    /// change what a running export reads.
    pub(crate) version: i64,
}

/// The records of `version` as a streamed `format` body, with its content type. The first
/// chunk is read before answering, so an unknown dataset or version is an error answer
/// rather than a body cut short.
pub(crate) async fn stream(
    state: AppState,
    version: Version,
    format: ExportFormat,
) -> Result<Response, ApiError> {
    let Version { org, project_id, dataset_id, version } = version;
    let chunk = move |after: i64| RecordQuery {
        version: Some(version),
        after,
        limit: CHUNK,
        ..RecordQuery::default()
    };
    let first = state.store.records(&org, &project_id, &dataset_id, &chunk(0)).await?;
    let write = move |(records, _): &RecordPage| -> Result<String, std::io::Error> {
        let mut out = String::new();
        for (id, record) in records {
            out.push_str(&format.line(id, record).map_err(std::io::Error::other)?);
        }
        Ok(out)
    };
    let head = format!(
        "{}{}",
        format.header(),
        write(&first).map_err(|e| ApiError::invalid(e.to_string()))?
    );
    let rest = futures_util::stream::unfold(first.1, move |after| {
        let (state, org, project_id, dataset_id) =
            (state.clone(), org.clone(), project_id.clone(), dataset_id.clone());
        async move {
            let after = after?;
            let page = state.store.records(&org, &project_id, &dataset_id, &chunk(after)).await;
            Some(match page {
                Ok(page) => (write(&page), page.1),
                Err(err) => (Err(std::io::Error::other(err.to_string())), None),
            })
        }
    });
    let stream = futures_util::StreamExt::chain(
        futures_util::stream::once(async move { Ok::<_, std::io::Error>(head) }),
        rest,
    );
    let mut response = Body::from_stream(stream).into_response();
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    Ok(response)
}
