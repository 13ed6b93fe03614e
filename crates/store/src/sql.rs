//! SQL built from a search, shared by the span search and the experimentation search:
//! [`Sql`], text with every request value bound; [`Conditions`], how a parsed query's
//! `NOT`/`AND`/`OR` structure is written around its terms; and LIKE patterns of search
//! words (a literal word escaped, a wildcard word translated), each meant for
//! `LIKE ... ESCAPE '\\'`.

use llmobs_core::search::{Query, Term};
use sqlx::AssertSqlSafe;
use sqlx::any::AnyArguments;

use crate::error::Result;

/// SQL under construction: text and the values bound to its `$n`.
#[derive(Debug, Default)]
pub(crate) struct Sql {
    /// The text so far.
    pub(crate) text: String,
    binds: Vec<Bind>,
}

/// A value bound to a `$n` of [`Sql`].
#[derive(Debug, Clone)]
pub(crate) enum Bind {
    Text(String),
    Int(i64),
    Real(f64),
}

impl Sql {
    /// Binds `value` to the next `$n` and returns that `$n`.
    pub(crate) fn bind(&mut self, value: Bind) -> String {
        self.binds.push(value);
        format!("${}", self.binds.len())
    }

    /// The query of the text, its values bound.
    pub(crate) fn query(&self) -> sqlx::query::Query<'_, sqlx::Any, AnyArguments> {
        // Only the text built here is SQL; every request value is bound.
        let mut query = sqlx::query(AssertSqlSafe(self.text.clone()));
        for bind in &self.binds {
            query = match bind {
                Bind::Text(text) => query.bind(text.clone()),
                Bind::Int(n) => query.bind(*n),
                Bind::Real(n) => query.bind(*n),
            };
        }
        query
    }
}

/// Writes the condition of a parsed search query into SQL text: the structure
/// (`NOT`, `AND`, `OR`, match-all) here, each term by the implementor.
pub(crate) trait Conditions {
    /// The SQL text the condition is appended to.
    fn sql_text(&mut self) -> &mut String;

    /// Appends the condition of one term.
    fn term(&mut self, term: &Term) -> Result<()>;

    /// Appends the condition of `query`.
    fn condition(&mut self, query: &Query) -> Result<()> {
        match query {
            Query::All => self.sql_text().push_str("1 = 1"),
            Query::Not(inner) => {
                self.sql_text().push_str("NOT (");
                self.condition(inner)?;
                self.sql_text().push(')');
            }
            Query::And(items) | Query::Or(items) => {
                let joiner = if matches!(query, Query::And(_)) { " AND " } else { " OR " };
                self.sql_text().push('(');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.sql_text().push_str(joiner);
                    }
                    self.condition(item)?;
                }
                self.sql_text().push(')');
            }
            Query::Term(term) => self.term(term)?,
        }
        Ok(())
    }
}

/// A LIKE pattern matching `text` exactly (its `%`, `_` and `\` escaped).
pub(crate) fn like_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A LIKE pattern of a wildcard word: `*` any run, `?` one character, `\*` a star.
pub(crate) fn like_wildcard(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '*' => out.push('%'),
            '?' => out.push('_'),
            '\\' => {
                if let Some(next) = chars.next() {
                    out.push_str(&like_literal(&next.to_string()));
                }
            }
            c => out.push_str(&like_literal(&c.to_string())),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_what_is_literal() {
        assert_eq!(like_literal("50%_a\\"), "50\\%\\_a\\\\");
        assert_eq!(like_wildcard("ch?t*"), "ch_t%");
        assert_eq!(like_wildcard("a\\*b_"), "a*b\\_");
    }
}
