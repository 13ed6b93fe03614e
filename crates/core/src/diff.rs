//! Line diffs, as the web UI shows two prompt versions side by side: [`template_text`]
//! writes a template as lines (a chat template as one `[role]` line per message followed by
//! its content), and [`diff_lines`] compares two texts line by line (Myers' algorithm, from
//! the `similar` crate).
//!
//! ```
//! use llmobs_core::diff::{Change, diff_lines};
//!
//! let lines = diff_lines("a\nb\n", "a\nc\n");
//! let changes: Vec<_> = lines.iter().map(|l| (l.change, l.text.as_str())).collect();
//! assert_eq!(changes, [(Change::Same, "a"), (Change::Removed, "b"), (Change::Added, "c")]);
//! ```

use crate::prompts::{ChatItem, Template};

/// What happened to a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// In both texts.
    Same,
    /// Only in the new text.
    Added,
    /// Only in the old text.
    Removed,
}

impl Change {
    /// `same`, `added` or `removed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Same => "same",
            Change::Added => "added",
            Change::Removed => "removed",
        }
    }
}

/// One line of a diff, with its line numbers (from 1) in the old and the new text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffLine {
    /// Same, added or removed.
    pub change: Change,
    /// Its number in the old text; `None` for an added line.
    pub old: Option<usize>,
    /// Its number in the new text; `None` for a removed line.
    pub new: Option<usize>,
    /// The line, without its line break.
    pub text: String,
}

/// The lines of `old` and `new`, in order, each marked same, added or removed. A last line
/// without a line break counts as one with it.
pub fn diff_lines(old: &str, new: &str) -> Vec<DiffLine> {
    let ended = |text: &str| match text.is_empty() || text.ends_with('\n') {
        true => text.to_owned(),
        false => format!("{text}\n"),
    };
    let (old, new) = (ended(old), ended(new));
    let diff = similar::TextDiff::from_lines(&old, &new);
    diff.iter_all_changes()
        .map(|change| DiffLine {
            change: match change.tag() {
                similar::ChangeTag::Equal => Change::Same,
                similar::ChangeTag::Insert => Change::Added,
                similar::ChangeTag::Delete => Change::Removed,
            },
            old: change.old_index().map(|i| i + 1),
            new: change.new_index().map(|i| i + 1),
            text: change.value().trim_end_matches(['\n', '\r']).to_owned(),
        })
        .collect()
}

/// A template as lines to compare: a text template as it is; a chat template as, for each
/// message, a `[role]` line and then its content, and for each placeholder a
/// `[placeholder: name]` line.
pub fn template_text(template: &Template) -> String {
    match template {
        Template::Text(text) => text.clone(),
        Template::Chat(items) => {
            let mut out = String::new();
            for item in items {
                match item {
                    ChatItem::Message { role, content } => {
                        out.push_str(&format!("[{role}]\n{content}\n"));
                    }
                    ChatItem::Placeholder(_) => {
                        let name = item.placeholder_name().unwrap_or_default();
                        out.push_str(&format!("[placeholder: {name}]\n"));
                    }
                }
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_templates_diff_by_message_line() {
        let old = Template::Chat(vec![
            ChatItem::message("system", "Be brief."),
            ChatItem::message("user", "Capital of {country}?"),
        ]);
        let new = Template::Chat(vec![
            ChatItem::message("system", "Be brief.\nAnswer in English."),
            ChatItem::placeholder("history"),
            ChatItem::message("user", "Capital of {country}?"),
        ]);
        let lines = diff_lines(&template_text(&old), &template_text(&new));
        let shown: Vec<String> = lines
            .iter()
            .map(|l| format!("{} {:?} {:?} {}", l.change.as_str(), l.old, l.new, l.text))
            .collect();
        assert_eq!(
            shown,
            [
                "same Some(1) Some(1) [system]",
                "same Some(2) Some(2) Be brief.",
                "added None Some(3) Answer in English.",
                "added None Some(4) [placeholder: history]",
                "same Some(3) Some(5) [user]",
                "same Some(4) Some(6) Capital of {country}?",
            ]
        );
    }

    #[test]
    fn equal_texts_are_all_same_and_text_templates_diff_as_they_are() {
        assert!(diff_lines("a\nb", "a\nb").iter().all(|l| l.change == Change::Same));
        assert_eq!(diff_lines("", "").len(), 0);
        let old = template_text(&Template::Text("Hello {name}".into()));
        let lines = diff_lines(&old, "Hello {name}\nBye");
        let changes: Vec<_> = lines.iter().map(|l| l.change).collect();
        assert_eq!(changes, [Change::Same, Change::Added], "{lines:?}");
    }
}
