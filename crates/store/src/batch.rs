//! Multi-row writes: many rows per statement, in chunks of [`CHUNK`] rows.
//!
//! Each statement is a round trip to the database (on SQLite, a hand-off to its worker
//! thread), so a batch of rows goes in a few statements instead of one per row. A full
//! chunk always has the same SQL text, and each shorter one a text of its own, built
//! once; so prepared statements are reused. Placeholders stay far below the limits of
//! SQLite (32766) and PostgreSQL (65535).
//!
//! PostgreSQL refuses an `ON CONFLICT DO UPDATE` statement that meets the same key twice,
//! so callers dedupe rows by conflict key with [`dedupe`] first, which keeps what
//! sequential upserts would have left. A write of several statements runs in a
//! transaction; a write of one statement is atomic by itself and is spared the `BEGIN`
//! and `COMMIT` round trips.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::OnceLock;

use sqlx::any::AnyArguments;
use sqlx::{Any, AnyConnection};

use crate::error::Result;

/// Rows per statement. Small, because sqlx binds each SQLite parameter by asking for its
/// name, which SQLite finds by a linear scan of the statement's parameters: binding
/// costs grow with the square of a statement's parameters, and at 32 rows that cost and
/// the per-statement round trip are about even (measured on the experiment runner).
pub(crate) const CHUNK: usize = 32;

/// The widest row any insert here has, in columns.
const MAX_COLUMNS: usize = 8;
const _: () = assert!(CHUNK * MAX_COLUMNS <= 32766, "SQLite allows 32766 parameters");

/// A query being bound.
pub(crate) type Query = sqlx::query::Query<'static, Any, AnyArguments>;

/// How a column of a row gets its value.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Col {
    /// The row's next bound value.
    Row,
    /// The statement's shared value `$n` (bound once, before the rows' values).
    Shared(usize),
}

/// One multi-row insert: `{head} VALUES (…), (…), … {tail}`.
pub(crate) struct Insert {
    head: &'static str,
    row: &'static [Col],
    tail: &'static str,
    /// The SQL text for `n + 1` rows, built on first use.
    texts: [OnceLock<String>; CHUNK],
}

impl Insert {
    /// An insert of rows of columns `row` (in `head`'s column order); `tail` follows the
    /// values (e.g. an `ON CONFLICT` clause).
    pub(crate) const fn new(head: &'static str, row: &'static [Col], tail: &'static str) -> Self {
        assert!(row.len() <= MAX_COLUMNS);
        Insert { head, row, tail, texts: [const { OnceLock::new() }; CHUNK] }
    }

    /// How many statements `rows` rows take.
    pub(crate) fn statements(rows: usize) -> usize {
        rows.div_ceil(CHUNK)
    }

    /// The SQL text for `rows` rows (1 ..= CHUNK).
    fn sql(&'static self, rows: usize) -> &'static str {
        self.texts[rows - 1].get_or_init(|| {
            let shared = self
                .row
                .iter()
                .filter_map(|c| if let Col::Shared(n) = c { Some(*n) } else { None });
            let mut next = shared.max().unwrap_or(0);
            let mut sql = String::with_capacity(self.head.len() + rows * self.row.len() * 7 + 64);
            sql.push_str(self.head);
            sql.push_str(" VALUES ");
            for r in 0..rows {
                sql.push_str(if r == 0 { "(" } else { ", (" });
                for (c, col) in self.row.iter().enumerate() {
                    if c > 0 {
                        sql.push_str(", ");
                    }
                    let n = match col {
                        Col::Row => {
                            next += 1;
                            next
                        }
                        Col::Shared(n) => *n,
                    };
                    sql.push('$');
                    sql.push_str(&n.to_string());
                }
                sql.push(')');
            }
            if !self.tail.is_empty() {
                sql.push(' ');
                sql.push_str(self.tail);
            }
            sql
        })
    }

    /// Inserts `rows`, a statement per chunk: `shared` binds the shared values, `bind` a
    /// row's values.
    pub(crate) async fn run<R>(
        &'static self,
        conn: &mut AnyConnection,
        rows: &[R],
        shared: impl Fn(Query) -> Query,
        bind: impl Fn(Query, &R) -> Query,
    ) -> Result<()> {
        for chunk in rows.chunks(CHUNK) {
            let query = chunk.iter().fold(shared(sqlx::query(self.sql(chunk.len()))), &bind);
            query.execute(&mut *conn).await?;
        }
        Ok(())
    }
}

/// `rows` deduped by `key`: each key keeps its first position and its last row, which
/// is what upserting the rows one by one would leave.
pub(crate) fn dedupe<'r, R, K: Hash + Eq>(rows: &'r [R], key: impl Fn(&'r R) -> K) -> Vec<&'r R> {
    use std::collections::hash_map::Entry;
    let mut at: HashMap<K, usize> = HashMap::with_capacity(rows.len());
    let mut kept: Vec<&R> = Vec::with_capacity(rows.len());
    for row in rows {
        match at.entry(key(row)) {
            Entry::Occupied(slot) => kept[*slot.get()] = row,
            Entry::Vacant(slot) => {
                slot.insert(kept.len());
                kept.push(row);
            }
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    static EXAMPLE: Insert = Insert::new(
        "INSERT INTO t (a, b, c, d)",
        &[Col::Shared(1), Col::Row, Col::Row, Col::Shared(2)],
        "ON CONFLICT (a, b) DO NOTHING",
    );

    #[test]
    fn sql_numbers_row_values_after_the_shared_ones() {
        assert_eq!(
            EXAMPLE.sql(2),
            "INSERT INTO t (a, b, c, d) VALUES ($1, $3, $4, $2), ($1, $5, $6, $2) \
             ON CONFLICT (a, b) DO NOTHING"
        );
        let full = EXAMPLE.sql(CHUNK);
        assert!(full.ends_with(&format!(
            "($1, ${}, ${}, $2) ON CONFLICT (a, b) DO NOTHING",
            2 * CHUNK + 1,
            2 * CHUNK + 2
        )));
        assert!(std::ptr::eq(full, EXAMPLE.sql(CHUNK)), "built once");
        assert_eq!(Insert::statements(0), 0);
        assert_eq!(Insert::statements(CHUNK), 1);
        assert_eq!(Insert::statements(CHUNK + 1), 2);
    }

    #[test]
    fn dedupe_keeps_the_first_position_and_the_last_row() {
        let rows = [("a", 1), ("b", 2), ("a", 3), ("c", 4), ("b", 5), ("a", 6)];
        assert_eq!(dedupe(&rows, |r| r.0), vec![&("a", 6), &("b", 5), &("c", 4)]);
        assert!(dedupe(&[] as &[(u8, u8)], |r| r.0).is_empty());
    }
}
