//! Acceptance cases 15 and 19 to 24: hostile text and numbers become inert literals that
//! compile and round-trip.

use llmobs_bootstrap::{Format, Options};

use crate::util::{Dir, assert_round_trip, refuse_json, render_json};

fn record_with(values: &[&str]) -> String {
    let items: Vec<String> = values
        .iter()
        .map(|v| format!("{{\"input_data\": {{\"text\": {}}}}}", serde_json::to_string(v).unwrap()))
        .collect();
    format!("[{}]", items.join(", "))
}

fn round_trips_in_both_formats(json: &str) -> String {
    let (_, rendered) = render_json(json);
    assert_round_trip(json, &rendered.text, Format::Py);
    let dir = Dir::named("work");
    dir.write("data.json", json);
    let options = Options { format: Format::Ipynb, ..crate::util::with_dataset("data.json") };
    let (_, notebook) = dir.render(&options).unwrap();
    assert_round_trip(json, &notebook.text, Format::Ipynb);
    rendered.text
}

#[test]
fn quotes_and_backslashes_arrive_byte_identical() {
    let json = record_with(&[
        r#"he said """hi""""#,
        "it's '''odd'''",
        r"C:\new\table",
        "ends with \\",
        r"\N{BULLET}",
        r"\x41",
        r"\u0041",
    ]);
    let text = round_trips_in_both_formats(&json);
    assert!(text.contains(r#"{"text": "he said \"\"\"hi\"\"\""}"#));
    assert!(text.contains(r#"{"text": "C:\\new\\table"}"#));
    assert!(text.contains(r#"{"text": "ends with \\"}"#));
    assert!(text.contains(r#"{"text": "\\N{BULLET}"}"#));
}

#[test]
fn control_characters_are_escaped() {
    let json = record_with(&[
        "a\nb",
        "c\r\nd",
        "lone\r",
        "t\tab",
        "nul\0",
        "\u{1b}[31m",
        "del\u{7f}",
        "v\u{b}f\u{c}",
    ]);
    let text = round_trips_in_both_formats(&json);
    for escaped in [
        r"a\nb",
        r"c\r\nd",
        r"lone\r",
        r"t\tab",
        r"nul\x00",
        r"\x1b[31m",
        r"del\x7f",
        r"v\x0bf\x0c",
    ] {
        assert!(text.contains(escaped), "{escaped} missing");
    }
    let raw_controls: Vec<char> = text.chars().filter(|c| c.is_control() && *c != '\n').collect();
    assert!(raw_controls.is_empty(), "raw control characters: {raw_controls:?}");
}

#[test]
fn unicode_hazards_are_escaped_and_round_trip() {
    let json = record_with(&[
        "nel\u{85}ls\u{2028}ps\u{2029}",
        "bidi\u{202e}\u{2066}\u{2067}\u{2068}\u{2069}",
        "zw\u{200b}bom\u{feff}",
        "🚀 👩‍💻 日本語 مرحبا e\u{301}",
    ]);
    let text = round_trips_in_both_formats(&json);
    for escaped in [
        r"\x85",
        r"\u2028",
        r"\u2029",
        r"\u202e",
        r"\u2066",
        r"\u2069",
        r"\u200b",
        r"\ufeff",
        r"\U0001f680",
    ] {
        assert!(text.contains(escaped), "{escaped} missing");
    }
    let outside_banners: String = text.chars().filter(|c| !c.is_ascii() && *c != '─').collect();
    assert_eq!(outside_banners, "", "only the banners may hold non-ASCII text");
    // A JSON surrogate pair is one character.
    let pair = r#"[{"input_data": "\ud83d\ude80"}]"#;
    assert!(round_trips_in_both_formats(pair).contains(r#""input_data": "\U0001f680","#));
    let error = refuse_json(r#"[{"input_data": "ok"}, {"input_data": "\ud800"}]"#).to_string();
    assert!(error.contains("record 1") && error.contains("lone surrogate"), "{error}");
}

#[test]
fn code_injection_stays_data() {
    let json = r#"[
        {"input_data": {"q": "\"); import os; os.system(\"touch pwned.txt\") #"}},
        {"input_data": {"q": "'''; __import__('os').system('touch pwned.txt'); '''"}},
        {"input_data": {"q": "{__import__('os').getcwd()}"},
         "metadata": {"a\"b": 1, "line\nbreak": 2, "class": 3, "1": 4, "": 5}}
    ]"#;
    let (_, rendered) = render_json(json);
    assert_round_trip(json, &rendered.text, Format::Py);
    assert!(!rendered.code_view.contains("os.system"), "user text leaked into the code view");
    assert!(
        rendered
            .text
            .contains(r#""metadata": {"a\"b": 1, "line\nbreak": 2, "class": 3, "1": 4, "": 5},"#)
    );
}

#[test]
fn numbers_keep_type_and_value() {
    let json = r#"[{"input_data": [1.0, -0.0, 1e-7, 1.5e300, 12345678901234567890123,
                    -9223372036854775809, true, false, null, -0, 1E2, 1e-400]}]"#;
    let text = round_trips_in_both_formats(json);
    assert!(text.contains(
        "[1.0, -0.0, 1e-07, 1.5e+300, 12345678901234567890123, -9223372036854775809, \
         True, False, None, 0, 100.0, 0.0]"
    ));
    for bad in ["NaN", "Infinity", "-Infinity", "1e400"] {
        let error = refuse_json(&format!("[{{\"input_data\": {bad}}}]")).to_string();
        assert!(error.contains("record 0") || error.contains("line 1"), "{bad}: {error}");
    }
}

#[test]
fn adversarial_project_name_is_one_literal() {
    let dir = Dir::named("work");
    let options = Options { project_name: Some("a\"b\\c\ny".into()), ..Options::default() };
    let (_, rendered) = dir.render(&options).unwrap();
    let assignments: Vec<&str> =
        rendered.text.lines().filter(|l| l.starts_with("PROJECT_NAME")).collect();
    assert_eq!(assignments, [r#"PROJECT_NAME = "a\"b\\c\ny""#]);
    let options = Options { project_name: Some("My Team / QA".into()), ..Options::default() };
    let (plan, _) = dir.render(&options).unwrap();
    assert_eq!(plan.project_name, "My Team / QA");
}

#[test]
fn dataset_name_cannot_break_out_of_the_pull_comment() {
    let dir = Dir::named("work");
    let name = "qa_v3\nimport os; os.system(\"touch pwned.txt\")";
    let options = Options { dataset_name: Some(name.into()), ..Options::default() };
    let (_, rendered) = dir.render(&options).unwrap();
    let literal = r#""qa_v3\nimport os; os.system(\"touch pwned.txt\")""#;
    assert!(rendered.text.contains(&format!(
        "# Pulled from Datadog: dataset_name={literal}, version=latest\n\
         dataset = LLMObs.pull_dataset(dataset_name={literal}, project_name=PROJECT_NAME)\n"
    )));
    assert!(!rendered.code_view.contains("os.system"));
}
