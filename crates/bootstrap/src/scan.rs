//! The forbidden-pattern list (spec §12.1) and the scanner.

use std::ops::Range;
use std::sync::OnceLock;

use regex::Regex;

/// One forbidden pattern: a fixed substring or a regular expression.
pub struct Forbidden {
    /// How the pattern is shown in messages.
    pub label: &'static str,
    matcher: Matcher,
}

enum Matcher {
    Text(&'static str),
    Regex(Regex),
}

/// The forbidden patterns of spec §12.1, the original list first.
pub fn forbidden_patterns() -> &'static [Forbidden] {
    static LIST: OnceLock<Vec<Forbidden>> = OnceLock::new();
    LIST.get_or_init(|| {
        let text = |s: &'static str| Forbidden { label: s, matcher: Matcher::Text(s) };
        let regex = |label: &'static str, pattern: &str| Forbidden {
            label,
            matcher: Matcher::Regex(Regex::new(pattern).expect("forbidden patterns are valid")),
        };
        vec![
            text("uuid4"),
            text("uuid.uuid4"),
            text("PATCH "),
            text("batch_update"),
            text("records/upload"),
            text("from ddtrace.llmobs._"),
            text("\"record_id\""),
            text("\"canonical_id\""),
            regex("DD_API_KEY = \"...\"", r#"(?-u:\b)DD_API_KEY(?-u:\s)*=(?-u:\s)*["']"#),
            text("requests.post"),
            text("httpx.post"),
            text("import requests"),
            text("import httpx"),
            text("urllib.request"),
            text("http.client"),
            text("ddtrace.llmobs._"),
            text("os.getcwd"),
            text("Path.cwd"),
            regex(
                "DD_APPLICATION_KEY / DD_APP_KEY / OPENAI_API_KEY = \"...\"",
                r#"(?-u:\b)(?:DD_APPLICATION_KEY|DD_APP_KEY|OPENAI_API_KEY)(?-u:\s)*=(?-u:\s)*["']"#,
            ),
            text("LLMJudge("),
            text("MultiEvaluatorResult"),
            text("ExperimentSummary"),
            text("requirements.txt"),
            text("pyproject.toml"),
        ]
    })
}

impl Forbidden {
    /// Every match of this pattern in `text`, as byte ranges.
    pub fn find_all(&self, text: &str) -> Vec<Range<usize>> {
        match &self.matcher {
            Matcher::Text(needle) => {
                text.match_indices(needle).map(|(at, m)| at..at + m.len()).collect()
            }
            Matcher::Regex(regex) => regex.find_iter(text).map(|m| m.range()).collect(),
        }
    }
}

/// The first forbidden pattern found in `text`, if any.
pub fn first_forbidden(text: &str) -> Option<&'static str> {
    forbidden_patterns().iter().find(|p| !p.find_all(text).is_empty()).map(|p| p.label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_find_what_the_spec_lists() {
        for bad in [
            "x = uuid.uuid4()",
            "requests.post(url)",
            "import ddtrace.llmobs._experiment",
            "DD_API_KEY = 'x'",
            "OPENAI_API_KEY=\"x\"",
            "meta = {\"record_id\": 1}",
            "PATCH /x",
            "LLMJudge(provider='openai')",
        ] {
            assert!(first_forbidden(bad).is_some(), "{bad}");
        }
        for ok in [
            "require_env(\"DD_API_KEY\")",
            "os.getenv(\"DD_APP_KEY\")",
            "MY_DD_API_KEY = 'x'",
            "an LLMJudge inside a function",
        ] {
            assert_eq!(first_forbidden(ok), None, "{ok}");
        }
    }
}
