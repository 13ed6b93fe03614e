//! LIKE patterns of search words, shared by the span search and the experimentation
//! search: a literal word escaped, a wildcard word (`*`, `?`) translated. Every pattern
//! is meant for `LIKE ... ESCAPE '\\'`.

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
