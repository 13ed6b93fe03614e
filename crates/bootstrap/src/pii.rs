//! PII scrubbing (spec §7): fourteen detectors, applied in a fixed order, each replacing
//! its matches with a `<REDACTED:type>` marker.

use std::fmt;
use std::sync::OnceLock;

use regex::Regex;

/// The kind of secret or personal data a detector finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PiiKind {
    /// API keys and tokens (OpenAI, Anthropic, Stripe, AWS, GitHub, Slack, Google, JWT,
    /// 32-hex Datadog keys).
    ApiKey,
    /// E-mail addresses.
    Email,
    /// US social security numbers.
    Ssn,
    /// Phone numbers (NANP and international).
    Phone,
}

impl PiiKind {
    /// The name used in markers and reports: `api-key`, `email`, `ssn`, `phone`.
    pub fn name(self) -> &'static str {
        match self {
            PiiKind::ApiKey => "api-key",
            PiiKind::Email => "email",
            PiiKind::Ssn => "ssn",
            PiiKind::Phone => "phone",
        }
    }

    /// The marker that replaces a match, such as `<REDACTED:email>`.
    pub fn marker(self) -> &'static str {
        match self {
            PiiKind::ApiKey => "<REDACTED:api-key>",
            PiiKind::Email => "<REDACTED:email>",
            PiiKind::Ssn => "<REDACTED:ssn>",
            PiiKind::Phone => "<REDACTED:phone>",
        }
    }

    const ALL: [PiiKind; 4] = [PiiKind::ApiKey, PiiKind::Email, PiiKind::Ssn, PiiKind::Phone];
}

/// How many matches of each kind were redacted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PiiCounts {
    /// API keys and tokens.
    pub api_key: usize,
    /// E-mail addresses.
    pub email: usize,
    /// Social security numbers.
    pub ssn: usize,
    /// Phone numbers.
    pub phone: usize,
}

impl PiiCounts {
    /// The count for one kind.
    pub fn get(&self, kind: PiiKind) -> usize {
        match kind {
            PiiKind::ApiKey => self.api_key,
            PiiKind::Email => self.email,
            PiiKind::Ssn => self.ssn,
            PiiKind::Phone => self.phone,
        }
    }

    fn bump(&mut self, kind: PiiKind) {
        match kind {
            PiiKind::ApiKey => self.api_key += 1,
            PiiKind::Email => self.email += 1,
            PiiKind::Ssn => self.ssn += 1,
            PiiKind::Phone => self.phone += 1,
        }
    }

    /// Adds another set of counts to this one.
    pub fn add(&mut self, other: &PiiCounts) {
        self.api_key += other.api_key;
        self.email += other.email;
        self.ssn += other.ssn;
        self.phone += other.phone;
    }

    /// The sum over all kinds.
    pub fn total(&self) -> usize {
        self.api_key + self.email + self.ssn + self.phone
    }
}

impl fmt::Display for PiiCounts {
    /// `api-key: 1, email: 2`: only non-zero kinds, in the fixed order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for kind in PiiKind::ALL {
            let n = self.get(kind);
            if n > 0 {
                if !first {
                    f.write_str(", ")?;
                }
                write!(f, "{}: {n}", kind.name())?;
                first = false;
            }
        }
        Ok(())
    }
}

/// What may stand right before or after a match.
#[derive(Clone, Copy)]
enum Boundary {
    /// No word char.
    Word,
    /// No word char and none of the extra characters.
    WordOr(&'static str),
    /// Rules 13 and 14, before: no word char, no `+`, no `.` that follows a digit.
    PhoneBefore,
    /// Rules 13 and 14, after: no word char, no `.` followed by a digit.
    PhoneAfter,
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

impl Boundary {
    fn allows_before(self, text: &str, start: usize) -> bool {
        let mut before = text[..start].chars().rev();
        let Some(c) = before.next() else { return true };
        match self {
            Boundary::Word => !is_word(c),
            Boundary::WordOr(extra) => !is_word(c) && !extra.contains(c),
            Boundary::PhoneBefore => {
                !is_word(c)
                    && c != '+'
                    && !(c == '.' && before.next().is_some_and(|p| p.is_ascii_digit()))
            }
            Boundary::PhoneAfter => unreachable!("only used after a match"),
        }
    }

    fn allows_after(self, text: &str, end: usize) -> bool {
        let mut after = text[end..].chars();
        let Some(c) = after.next() else { return true };
        match self {
            Boundary::Word => !is_word(c),
            Boundary::WordOr(extra) => !is_word(c) && !extra.contains(c),
            Boundary::PhoneAfter => {
                !(is_word(c) || c == '.' && after.next().is_some_and(|n| n.is_ascii_digit()))
            }
            Boundary::PhoneBefore => unreachable!("only used before a match"),
        }
    }
}

struct Detector {
    kind: PiiKind,
    regex: Regex,
    /// Replace only this capture group (rule 9) instead of the whole match.
    group: Option<usize>,
    before: Boundary,
    after: Boundary,
    /// Accept only matches holding this many digits (rule 14).
    digits: Option<(usize, usize)>,
}

fn detectors() -> &'static [Detector] {
    static DETECTORS: OnceLock<Vec<Detector>> = OnceLock::new();
    DETECTORS.get_or_init(|| {
        use Boundary::*;
        use PiiKind::*;
        let rule = |kind, pattern: &str, before, after| Detector {
            kind,
            regex: Regex::new(pattern).expect("PII patterns are valid"),
            group: None,
            before,
            after,
            digits: None,
        };
        vec![
            rule(ApiKey, r"sk-[A-Za-z0-9_-]{20,}", WordOr("-"), WordOr("-")),
            rule(ApiKey, r"[rs]k_(?:live|test)_[A-Za-z0-9]{16,}", Word, Word),
            rule(ApiKey, r"(?:AKIA|ASIA)[A-Z0-9]{16}", Word, Word),
            rule(ApiKey, r"gh[oprsu]_[A-Za-z0-9]{36,}", Word, Word),
            rule(ApiKey, r"github_pat_[A-Za-z0-9_]{22,}", Word, Word),
            rule(ApiKey, r"xox[abeoprs]-[A-Za-z0-9-]{10,}", Word, WordOr("-")),
            rule(ApiKey, r"AIza[A-Za-z0-9_-]{35}", WordOr("-"), WordOr("-")),
            rule(
                ApiKey,
                r"eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}",
                WordOr("-."),
                WordOr("-."),
            ),
            Detector {
                group: Some(1),
                ..rule(
                    ApiKey,
                    r#"(?i:aws_secret_access_key)["']?[ \t]*[:=][ \t]*["']?([A-Za-z0-9/+]{40})"#,
                    Word,
                    WordOr("/+="),
                )
            },
            rule(ApiKey, r"[0-9A-Fa-f]{32}", Word, Word),
            rule(
                Email,
                r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
                WordOr(".%+-"),
                WordOr("-"),
            ),
            rule(Ssn, r"[0-9]{3}-[0-9]{2}-[0-9]{4}|[0-9]{3} [0-9]{2} [0-9]{4}", Word, Word),
            rule(
                Phone,
                r"(?:\+1[-. ]?|1[-. ])?(?:\([0-9]{3}\)[-. ]?|[0-9]{3}[-. ]?)[0-9]{3}[-. ]?[0-9]{4}",
                PhoneBefore,
                PhoneAfter,
            ),
            Detector {
                digits: Some((8, 15)),
                ..rule(
                    Phone,
                    r"\+[2-9][0-9]{0,2}(?:[-. ][0-9]{1,4}){2,5}|\+[2-9][0-9]{7,14}",
                    PhoneBefore,
                    PhoneAfter,
                )
            },
        ]
    })
}

/// Scrubs one string: every detector in table order, each over the output of the one
/// before (spec §7.1). Returns the new text; `counts` gets one per marker inserted.
///
/// ```
/// use llmobs_bootstrap::{PiiCounts, scrub};
///
/// let mut counts = PiiCounts::default();
/// let text = scrub("Mail jane@example.com or call (555) 123-4567", &mut counts);
/// assert_eq!(text, "Mail <REDACTED:email> or call <REDACTED:phone>");
/// assert_eq!((counts.email, counts.phone), (1, 1));
/// ```
pub fn scrub(text: &str, counts: &mut PiiCounts) -> String {
    let mut current = text.to_owned();
    for detector in detectors() {
        current = apply(detector, current, counts);
    }
    current
}

fn apply(detector: &Detector, mut text: String, counts: &mut PiiCounts) -> String {
    let mut pos = 0;
    while pos <= text.len() {
        let Some(caps) = detector.regex.captures_at(&text, pos) else { break };
        let whole = caps.get(0).expect("group 0 always exists");
        let (start, end) = (whole.start(), whole.end());
        let digits_ok = detector.digits.is_none_or(|(low, high)| {
            let n = whole.as_str().bytes().filter(u8::is_ascii_digit).count();
            (low..=high).contains(&n)
        });
        if digits_ok
            && detector.before.allows_before(&text, start)
            && detector.after.allows_after(&text, end)
        {
            let target = match detector.group {
                Some(group) => {
                    caps.get(group).expect("the redacted group takes part in every match")
                }
                None => whole,
            };
            let (from, to) = (target.start(), target.end());
            let marker = detector.kind.marker();
            text.replace_range(from..to, marker);
            counts.bump(detector.kind);
            pos = end - (to - from) + marker.len();
        } else {
            pos = start + text[start..].chars().next().map_or(1, char::len_utf8);
        }
    }
    text
}

/// Counts what [`scrub`] would redact in `text`, without building the result.
pub fn detect(text: &str) -> PiiCounts {
    let mut counts = PiiCounts::default();
    scrub(text, &mut counts);
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> (String, PiiCounts) {
        let mut counts = PiiCounts::default();
        (scrub(text, &mut counts), counts)
    }

    #[test]
    fn markers_are_stable_under_rescrubbing() {
        for kind in PiiKind::ALL {
            let (again, counts) = one(&format!("x {} y", kind.marker()));
            assert_eq!(again, format!("x {} y", kind.marker()));
            assert_eq!(counts.total(), 0);
        }
    }

    #[test]
    fn aws_secret_keeps_the_assignment_text() {
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        let (text, counts) = one(&format!("AWS_SECRET_ACCESS_KEY = \"{secret}\""));
        assert_eq!(text, "AWS_SECRET_ACCESS_KEY = \"<REDACTED:api-key>\"");
        assert_eq!(counts.api_key, 1);
    }

    #[test]
    fn international_numbers_need_eight_to_fifteen_digits() {
        assert_eq!(one("+44 20 7946 0958").0, "<REDACTED:phone>");
        assert_eq!(one("call +4 12 34").0, "call +4 12 34");
    }

    #[test]
    fn counts_print_in_fixed_order() {
        let counts = PiiCounts { api_key: 0, email: 2, ssn: 0, phone: 1 };
        assert_eq!(counts.to_string(), "email: 2, phone: 1");
    }
}
