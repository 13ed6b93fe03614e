//! Soft deletes: a row is marked deleted (`deleted_at`), not removed, and a delete of a
//! row that is not live is an error.

use sqlx::AnyConnection;

use crate::error::{Error, Result};

/// Runs `update`, the soft delete of one live row, with `binds` as `$1`, `$2`, ... on
/// `conn`. When it changes no row (unknown, deleted already, or another org's), the
/// answer is `missing()`.
pub(crate) async fn soft_delete(
    conn: &mut AnyConnection,
    update: &'static str,
    binds: &[&str],
    missing: impl FnOnce() -> Error,
) -> Result<()> {
    let mut query = sqlx::query(update);
    for value in binds {
        query = query.bind(value.to_string());
    }
    if query.execute(conn).await?.rows_affected() == 0 {
        return Err(missing());
    }
    Ok(())
}
