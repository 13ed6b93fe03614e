//! Multi-row statements: many rows per insert ([`Insert`]) and many keys per lookup,
//! update or delete ([`Lookup`]), in chunks of up to [`CHUNK`] rows or keys.
//!
//! Each statement is a round trip to the database (on SQLite, a hand-off to its worker
//! thread), so a batch of rows goes in a few statements instead of one per row. A full
//! chunk always has the same SQL text, and a shorter rest is written in power-of-two
//! pieces (inserts) or padded to a power of two (lookups) with texts of their own, built
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

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::{Any, AnyConnection};

use crate::error::Result;

/// Rows per statement, at most. SQLite gets anonymous `?` placeholders, which sqlx binds
/// in order; named or numbered ones (`$n`) it binds by asking SQLite for each name, a
/// linear scan, which made wide statements cost the square of their parameters.
/// PostgreSQL binds `$n` by position.
pub(crate) const CHUNK: usize = 256;

/// Statement sizes: powers of two up to [`CHUNK`], so a table has few SQL texts (and
/// prepared statements) whatever the batch size.
const SIZES: usize = CHUNK.trailing_zeros() as usize + 1;
const _: () = assert!(CHUNK.is_power_of_two());

/// The most values any insert here binds for a row.
const MAX_VALUES: usize = 17;
const _: () = assert!(CHUNK * MAX_VALUES <= 32766, "SQLite allows 32766 parameters");

/// A query being bound.
pub(crate) type Query = sqlx::query::Query<'static, Any, AnyArguments>;

/// How a column of a row gets its value.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Col {
    /// The row's next bound value.
    Row,
    /// The statement's shared value number `n` (1-based, in the order `shared` binds).
    Shared(usize),
    /// The row's optional number, bound as two values with [`bind_number`]: whether it is
    /// there, and the number (0 when not). The database never sees a NULL float
    /// parameter: sqlx's `Any` driver (0.9.0) declares a NULL `f64` to PostgreSQL as
    /// `real`, PostgreSQL keeps a prepared statement's declared types, and a later `f64`
    /// on the same connection was refused ("incorrect binary data format").
    Number,
}

impl Col {
    /// The placeholders the column takes in a row (positional style binds shared values
    /// again for every row).
    const fn values(self) -> usize {
        match self {
            Col::Row | Col::Shared(_) => 1,
            Col::Number => 2,
        }
    }
}

/// Binds an optional number for a [`Col::Number`] column.
pub(crate) fn bind_number(query: Query, number: Option<f64>) -> Query {
    query.bind(i64::from(number.is_some())).bind(number.unwrap_or(0.0))
}

/// Placeholder style of a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    /// `$n`, shared values bound once (PostgreSQL).
    Numbered,
    /// `?`, shared values bound again for every row, columns listed shared-first (SQLite).
    Positional,
}

impl Style {
    fn of(conn: &AnyConnection) -> Style {
        if conn.backend_name() == "SQLite" { Style::Positional } else { Style::Numbered }
    }
}

/// One multi-row insert: `INSERT INTO {table} (…) VALUES (…), (…), … {tail}`.
pub(crate) struct Insert {
    table: &'static str,
    columns: &'static [(&'static str, Col)],
    tail: &'static str,
    /// The SQL text for `2^k` rows in each style, built on first use.
    texts: [[OnceLock<String>; SIZES]; 2],
}

impl Insert {
    /// An insert into `table` of rows of `columns`; `tail` follows the values (e.g. an
    /// `ON CONFLICT` clause).
    pub(crate) const fn new(
        table: &'static str,
        columns: &'static [(&'static str, Col)],
        tail: &'static str,
    ) -> Self {
        let (mut values, mut c) = (0, 0);
        while c < columns.len() {
            values += columns[c].1.values();
            c += 1;
        }
        assert!(values <= MAX_VALUES);
        Insert { table, columns, tail, texts: [const { [const { OnceLock::new() }; SIZES] }; 2] }
    }

    /// The statement sizes `rows` rows are written in: full chunks, then the powers of
    /// two of the rest, largest first.
    fn sizes(rows: usize) -> impl Iterator<Item = usize> {
        let rest = rows % CHUNK;
        std::iter::repeat_n(CHUNK, rows / CHUNK)
            .chain((0..SIZES).rev().map(|k| 1 << k).filter(move |size| rest & size != 0))
    }

    /// How many statements `rows` rows take.
    pub(crate) fn statements(rows: usize) -> usize {
        Self::sizes(rows).count()
    }

    /// The columns in the order a row's values are bound: as declared (numbered), or the
    /// shared ones first, by number (positional).
    fn ordered(&self, style: Style) -> Vec<(&'static str, Col)> {
        let mut columns = self.columns.to_vec();
        if style == Style::Positional {
            columns.sort_by_key(|(_, col)| match col {
                Col::Shared(n) => (0, *n),
                Col::Row | Col::Number => (1, 0),
            });
        }
        columns
    }

    /// The SQL text for `rows` rows (a power of two up to [`CHUNK`]).
    fn sql(&'static self, style: Style, rows: usize) -> &'static str {
        self.texts[style as usize][rows.trailing_zeros() as usize].get_or_init(|| {
            let columns = self.ordered(style);
            let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
            let mut next = self
                .columns
                .iter()
                .filter_map(|(_, c)| if let Col::Shared(n) = c { Some(*n) } else { None })
                .max()
                .unwrap_or(0);
            let mut sql = format!("INSERT INTO {} ({}) VALUES ", self.table, names.join(", "));
            for r in 0..rows {
                sql.push_str(if r == 0 { "(" } else { ", (" });
                for (c, (_, col)) in columns.iter().enumerate() {
                    if c > 0 {
                        sql.push_str(", ");
                    }
                    match (style, col) {
                        (Style::Positional, Col::Number) => {
                            sql.push_str("CASE WHEN ? = 1 THEN ? END");
                        }
                        (Style::Positional, _) => sql.push('?'),
                        (Style::Numbered, Col::Shared(n)) => sql.push_str(&format!("${n}")),
                        (Style::Numbered, Col::Row) => {
                            next += 1;
                            sql.push_str(&format!("${next}"));
                        }
                        (Style::Numbered, Col::Number) => {
                            sql.push_str(&format!(
                                "CASE WHEN ${} = 1 THEN ${} END",
                                next + 1,
                                next + 2
                            ));
                            next += 2;
                        }
                    }
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

    /// Inserts `rows`, a statement per chunk: `shared` binds the shared values in number
    /// order, `bind` a row's own values in column order.
    pub(crate) async fn run<R>(
        &'static self,
        conn: &mut AnyConnection,
        rows: &[R],
        shared: impl Fn(Query) -> Query,
        bind: impl Fn(Query, &R) -> Query,
    ) -> Result<()> {
        let style = Style::of(conn);
        let mut rest = rows;
        for size in Self::sizes(rows.len()) {
            let (chunk, tail) = rest.split_at(size);
            rest = tail;
            let query = sqlx::query(self.sql(style, size));
            let query = match style {
                Style::Numbered => chunk.iter().fold(shared(query), &bind),
                Style::Positional => chunk.iter().fold(query, |q, row| bind(shared(q), row)),
            };
            query.execute(&mut *conn).await?;
        }
        Ok(())
    }
}

/// One statement run for many keys at once: `sql` holds `$1`, `$2`, … for values shared
/// by every chunk (each once, in that order) and then `{keys}`, which becomes the chunk's
/// keys as a list of placeholders (for `IN ({keys})`).
pub(crate) struct Lookup {
    sql: &'static str,
    /// The SQL text for `2^k` keys in each style, built on first use.
    texts: [[OnceLock<String>; SIZES]; 2],
}

impl Lookup {
    /// A statement over many keys; see [`Lookup`] for the form of `sql`.
    pub(crate) const fn new(sql: &'static str) -> Self {
        Lookup { sql, texts: [const { [const { OnceLock::new() }; SIZES] }; 2] }
    }

    /// The SQL text for `keys` keys (a power of two up to [`CHUNK`]).
    fn sql(&'static self, style: Style, keys: usize) -> &'static str {
        self.texts[style as usize][keys.trailing_zeros() as usize].get_or_init(|| {
            let (head, tail) = self.sql.split_once("{keys}").expect("a lookup has {keys}");
            // The shared values' placeholders, in the order they appear.
            let mut shared = 0;
            let mut text = String::with_capacity(self.sql.len() + 6 * keys);
            let mut chars = head.char_indices().peekable();
            while let Some((_, c)) = chars.next() {
                let mut digits = String::new();
                while c == '$' && chars.peek().is_some_and(|(_, d)| d.is_ascii_digit()) {
                    digits.push(chars.next().expect("peeked").1);
                }
                if digits.is_empty() {
                    text.push(c);
                    continue;
                }
                shared += 1;
                assert_eq!(digits, shared.to_string(), "shared values appear as $1, $2, … once");
                text.push_str(match style {
                    Style::Numbered => "$",
                    Style::Positional => "?",
                });
                if style == Style::Numbered {
                    text.push_str(&digits);
                }
            }
            assert!(!tail.contains('$'), "shared values come before {{keys}}");
            for k in 0..keys {
                if k > 0 {
                    text.push_str(", ");
                }
                match style {
                    Style::Numbered => text.push_str(&format!("${}", shared + k + 1)),
                    Style::Positional => text.push('?'),
                }
            }
            text.push_str(tail);
            text
        })
    }

    /// Runs the statement for `keys` (deduped, in sorted order), a chunk at a time, and
    /// returns the rows of every chunk. `shared` binds the shared values in number order.
    /// A short chunk is padded to a power of two by repeating its last key, which changes
    /// nothing in an `IN` list.
    pub(crate) async fn run<'k>(
        &'static self,
        conn: &mut AnyConnection,
        keys: impl IntoIterator<Item = &'k str>,
        shared: impl Fn(Query) -> Query,
    ) -> Result<Vec<AnyRow>> {
        let mut keys: Vec<&str> = keys.into_iter().collect();
        keys.sort_unstable();
        keys.dedup();
        let style = Style::of(conn);
        let mut rows = Vec::new();
        for chunk in keys.chunks(CHUNK) {
            let size = chunk.len().next_power_of_two();
            let last = chunk[chunk.len() - 1];
            let padded = chunk.iter().copied().chain(std::iter::repeat_n(last, size - chunk.len()));
            let query = padded
                .fold(shared(sqlx::query(self.sql(style, size))), |q, key| q.bind(key.to_owned()));
            rows.extend(query.fetch_all(&mut *conn).await?);
        }
        Ok(rows)
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
        "t",
        &[("a", Col::Shared(1)), ("b", Col::Row), ("c", Col::Row), ("d", Col::Shared(2))],
        "ON CONFLICT (a, b) DO NOTHING",
    );

    static NUMBERS: Insert =
        Insert::new("n", &[("a", Col::Shared(1)), ("x", Col::Number), ("b", Col::Row)], "");

    #[test]
    fn a_number_column_binds_whether_it_is_there_and_its_value() {
        assert_eq!(
            NUMBERS.sql(Style::Numbered, 2),
            "INSERT INTO n (a, x, b) VALUES ($1, CASE WHEN $2 = 1 THEN $3 END, $4), \
             ($1, CASE WHEN $5 = 1 THEN $6 END, $7)"
        );
        assert_eq!(
            NUMBERS.sql(Style::Positional, 1),
            "INSERT INTO n (a, x, b) VALUES (?, CASE WHEN ? = 1 THEN ? END, ?)"
        );
    }

    #[test]
    fn numbered_sql_numbers_row_values_after_the_shared_ones() {
        assert_eq!(
            EXAMPLE.sql(Style::Numbered, 2),
            "INSERT INTO t (a, b, c, d) VALUES ($1, $3, $4, $2), ($1, $5, $6, $2) \
             ON CONFLICT (a, b) DO NOTHING"
        );
        let full = EXAMPLE.sql(Style::Numbered, CHUNK);
        assert!(full.ends_with(&format!(
            "($1, ${}, ${}, $2) ON CONFLICT (a, b) DO NOTHING",
            2 * CHUNK + 1,
            2 * CHUNK + 2
        )));
        assert!(std::ptr::eq(full, EXAMPLE.sql(Style::Numbered, CHUNK)), "built once");
    }

    #[test]
    fn positional_sql_lists_shared_columns_first() {
        assert_eq!(
            EXAMPLE.sql(Style::Positional, 2),
            "INSERT INTO t (a, d, b, c) VALUES (?, ?, ?, ?), (?, ?, ?, ?) \
             ON CONFLICT (a, b) DO NOTHING"
        );
    }

    #[test]
    fn batches_split_into_full_chunks_and_powers_of_two() {
        let sizes = |n| Insert::sizes(n).collect::<Vec<_>>();
        assert_eq!(sizes(0), Vec::<usize>::new());
        assert_eq!(sizes(1), [1]);
        assert_eq!(sizes(CHUNK), [CHUNK]);
        assert_eq!(sizes(2 * CHUNK + 13), [CHUNK, CHUNK, 8, 4, 1]);
        for n in [0, 1, 31, 32, 33, 255, 256, 257, 1000] {
            assert_eq!(sizes(n).iter().sum::<usize>(), n);
            assert_eq!(Insert::statements(n), sizes(n).len());
        }
    }

    static LOOKUP: Lookup =
        Lookup::new("SELECT k FROM t WHERE a = $1 AND b = $2 AND k IN ({keys}) ORDER BY k");

    #[test]
    fn lookup_sql_lists_a_placeholder_per_key_after_the_shared_values() {
        assert_eq!(
            LOOKUP.sql(Style::Numbered, 4),
            "SELECT k FROM t WHERE a = $1 AND b = $2 AND k IN ($3, $4, $5, $6) ORDER BY k"
        );
        assert_eq!(
            LOOKUP.sql(Style::Positional, 2),
            "SELECT k FROM t WHERE a = ? AND b = ? AND k IN (?, ?) ORDER BY k"
        );
        assert!(std::ptr::eq(LOOKUP.sql(Style::Numbered, 4), LOOKUP.sql(Style::Numbered, 4)));
    }

    #[test]
    #[should_panic(expected = "shared values appear as $1, $2")]
    fn lookup_sql_refuses_shared_values_out_of_order() {
        static BAD: Lookup = Lookup::new("SELECT k FROM t WHERE a = $2 AND k IN ({keys})");
        BAD.sql(Style::Positional, 1);
    }

    #[tokio::test]
    async fn lookups_find_every_key_across_chunks_and_padding() {
        use sqlx::Row;
        let dir = tempfile::tempdir().unwrap();
        let store = crate::test_db::open(dir.path()).await;
        let mut conn = store.write.acquire().await.unwrap();
        sqlx::query("CREATE TABLE t (a TEXT, b TEXT, k TEXT)").execute(&mut *conn).await.unwrap();
        static KEYS: Insert =
            Insert::new("t", &[("a", Col::Shared(1)), ("b", Col::Shared(2)), ("k", Col::Row)], "");
        let stored: Vec<String> = (0..600).map(|n| format!("k{n:04}")).collect();
        let shared = |q: Query| q.bind("x".to_owned()).bind("y".to_owned());
        KEYS.run(&mut conn, &stored, shared, |q, k| q.bind(k.clone())).await.unwrap();
        // Every even key, given twice and out of order, and some unknown ones.
        let mut wanted: Vec<String> =
            (0..700).step_by(2).rev().map(|n| format!("k{n:04}")).collect();
        wanted.extend(wanted.clone());
        let rows = LOOKUP.run(&mut conn, wanted.iter().map(String::as_str), shared).await.unwrap();
        let found: Vec<String> = rows.iter().map(|r| r.get::<String, _>("k")).collect();
        let expected: Vec<String> = (0..600).step_by(2).map(|n| format!("k{n:04}")).collect();
        assert_eq!(found, expected);
        let other = |q: Query| q.bind("x".to_owned()).bind("z".to_owned());
        assert!(LOOKUP.run(&mut conn, ["k0000"], other).await.unwrap().is_empty());
        assert!(LOOKUP.run(&mut conn, [], shared).await.unwrap().is_empty());
    }

    #[test]
    fn dedupe_keeps_the_first_position_and_the_last_row() {
        let rows = [("a", 1), ("b", 2), ("a", 3), ("c", 4), ("b", 5), ("a", 6)];
        assert_eq!(dedupe(&rows, |r| r.0), vec![&("a", 6), &("b", 5), &("c", 4)]);
        assert!(dedupe(&[] as &[(u8, u8)], |r| r.0).is_empty());
    }
}
