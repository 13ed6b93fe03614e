//! Acceptance cases 25 to 29: what each detector redacts, what it leaves alone, and how
//! redactions are reported.

use llmobs_bootstrap::{Dataset, Format, PiiCounts, scrub};

use crate::util::{assert_round_trip, render_json};

fn scrubbed(text: &str) -> (String, PiiCounts) {
    let mut counts = PiiCounts::default();
    (scrub(text, &mut counts), counts)
}

fn unchanged(text: &str) {
    let (out, counts) = scrubbed(text);
    assert_eq!(out, text, "{text:?} must not be redacted");
    assert_eq!(counts.total(), 0);
}

#[test]
fn emails() {
    let cases = [
        ("Contact jane.doe+qa@sub.example.co.uk now", "Contact <REDACTED:email> now"),
        ("<bob@example.org>", "<<REDACTED:email>>"),
        ("mailto:a@b.io", "mailto:<REDACTED:email>"),
    ];
    for (input, expected) in cases {
        let (out, counts) = scrubbed(input);
        assert_eq!(out, expected);
        assert_eq!(counts.email, 1);
    }
    for text in ["@handle", "user@localhost", "a@b"] {
        unchanged(text);
    }
    // The scrub runs on decoded JSON text.
    let (plan, _) = render_json(r#"[{"input_data": "jane\u0040example.com"}]"#);
    assert_eq!(
        plan.dataset.inline_records().unwrap()[0].input_data,
        llmobs_bootstrap::Json::Str("<REDACTED:email>".into())
    );
}

#[test]
fn phones_and_look_alikes() {
    for phone in [
        "(555) 123-4567",
        "555.123.4567",
        "5551234567",
        "+1-555-123-4567",
        "1-800-555-0199",
        "+44 20 7946 0958",
        "+33 1 23 45 67 89",
        "+81-3-1234-5678",
    ] {
        let (out, counts) = scrubbed(&format!("call {phone} today"));
        assert_eq!(out, "call <REDACTED:phone> today", "{phone}");
        assert_eq!(counts.phone, 1, "{phone}");
    }
    for text in [
        "2024-01-15",
        "10:30:45",
        "192.168.1.1",
        "v1.2.3",
        "$1,234,567.89",
        "94105-1234",
        "978-3-16-148410-0",
        "pi 3.1415926535",
    ] {
        unchanged(text);
    }
}

#[test]
fn ssn_beats_phone() {
    for ssn in ["123-45-6789", "123 45 6789"] {
        let (out, counts) = scrubbed(ssn);
        assert_eq!(out, "<REDACTED:ssn>");
        assert_eq!((counts.ssn, counts.phone), (1, 0));
    }
    unchanged("order 123456789");
}

#[test]
fn keys_become_one_marker_each() {
    let alnum48: String = "aB3".repeat(16);
    let proj100: String = "a-b_C9".repeat(17)[..100].to_owned();
    let pat82: String = "Ab1_".repeat(21)[..82].to_owned();
    let keys = [
        format!("sk-{alnum48}"),
        format!("sk-proj-{proj100}"),
        "sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789-AbCdEf".to_owned(),
        "(AKIAIOSFODNN7EXAMPLE)".to_owned(),
        format!("ghp_{}", "x".repeat(36)),
        format!("github_pat_{pat82}"),
        "0123456789abcdef0123456789abcdef".to_owned(),
    ];
    for key in &keys {
        let (out, counts) = scrubbed(key);
        let expected =
            if key.starts_with('(') { "(<REDACTED:api-key>)" } else { "<REDACTED:api-key>" };
        assert_eq!(out, expected, "{key}");
        assert_eq!((counts.api_key, counts.total()), (1, 1), "{key}");
    }
    let (out, _) = scrubbed("DD_API_KEY=0123456789abcdef0123456789abcdef");
    assert_eq!(out, "DD_API_KEY=<REDACTED:api-key>");
    let (out, _) = scrubbed(&format!("https://x.io/?key=sk-proj-{proj100}&q=1"));
    assert_eq!(out, "https://x.io/?key=<REDACTED:api-key>&q=1");
    for text in [
        "task-0123456789abcdefghij",
        "risk-assessment-framework-for-llm-apps",
        "sk-short",
        "desk-lamp",
        "da39a3ee5e6b4b0d3255bfef95601890afd80709",
    ] {
        unchanged(text);
    }
}

#[test]
fn one_value_with_three_kinds_gets_three_markers_in_order() {
    let (out, counts) =
        scrubbed("mail ann@example.com, call 555-123-4567, key sk-abcdefghijklmnopqrstuvwxyz");
    assert_eq!(out, "mail <REDACTED:email>, call <REDACTED:phone>, key <REDACTED:api-key>");
    assert_eq!(counts, PiiCounts { api_key: 1, email: 1, ssn: 0, phone: 1 });
    unchanged("already <REDACTED:email> here");
}

#[test]
fn every_part_of_a_record_is_scrubbed_and_reported() {
    let json = r#"[
        {"input_data": {"nested": ["x", {"deep": "ann@example.com"}]}},
        {"input_data": "q", "expected_output": "call 555-123-4567",
         "metadata": {"trace_id": "0123456789abcdef0123456789abcdef"}},
        {"input_data": {"jane@x.com": "hi"}, "tags": ["jane@x.com", "owner:bob@example.org"]},
        {"input_data": "clean"}
    ]"#;
    let (plan, rendered) = render_json(json);
    assert_round_trip(json, &rendered.text, Format::Py);
    let Dataset::Json { records, .. } = &plan.dataset else { panic!("a JSON dataset") };
    let records_with_pii: Vec<usize> = records.pii.iter().map(|(i, _)| *i).collect();
    assert_eq!(records_with_pii, [0, 1, 2]);
    assert_eq!(records.records[2].tags, ["tag:<REDACTED:email>", "owner:<REDACTED:email>"]);
    assert!(
        plan.warnings.contains(
            &"PII redacted in records 0, 1, 2 (api-key: 1, email: 4, phone: 1)".to_owned()
        ),
        "{:?}",
        plan.warnings
    );
    assert!(rendered.text.contains(r#""input_data": {"<REDACTED:email>": "hi"},"#));
}

#[test]
fn redaction_that_merges_two_keys_is_an_error() {
    let error = crate::util::refuse_json(
        r#"[{"input_data": 1}, {"input_data": {"a@x.com": 1, "b@y.org": 2}}]"#,
    )
    .to_string();
    assert!(error.contains("record 1") && error.contains("two keys equal"), "{error}");
}

#[test]
fn the_generators_own_environment_never_reaches_the_output() {
    // The generator reads no credential variable: the output is the same whatever the
    // environment holds (checked with the variables set for this process).
    let secret = "0123456789abcdef0123456789abcdef";
    let before = crate::util::Dir::named("acme-bot").render(&Default::default()).unwrap().1.text;
    // SAFETY: this test binary sets these variables in this one test only, and no other
    // code in it reads them.
    unsafe {
        std::env::set_var("DD_API_KEY", secret);
        std::env::set_var("OPENAI_API_KEY", "sk-abcdefghijklmnopqrstuvwxyz");
    }
    let after = crate::util::Dir::named("acme-bot").render(&Default::default()).unwrap().1.text;
    assert_eq!(before, after);
    assert!(!after.contains(secret));
}
