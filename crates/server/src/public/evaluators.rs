//! Custom evaluator configs under Datadog's public path (put is [`crate::evaluators`]).

use axum::Router;

use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
}
