//! Acceptance cases 16 to 18, 30 and 34: JSON shape rules, SDK-owned keys, structured
//! expected outputs, tag normalisation and pulled datasets.

use llmobs_bootstrap::{Error, Format, Options};

use crate::util::{Dir, assert_round_trip, refuse_json, render_json};

fn refusal(json: &str) -> String {
    let error = refuse_json(json);
    assert!(matches!(error, Error::Dataset { .. }), "{error:?}");
    assert_eq!(error.exit_code(), 1);
    assert!(error.to_string().starts_with("dataset \"data.json\": "), "{error}");
    error.to_string()
}

#[test]
fn shape_errors_name_the_record_and_key() {
    let cases = [
        (r#"{"records": [{"input_data": 1}]}"#, vec!["top-level JSON array"]),
        ("42", vec!["top-level JSON array"]),
        ("[]", vec!["no records"]),
        (r#"[{"input_data": 1}, "oops"]"#, vec!["record 1", "must be an object"]),
        (r#"[{"expected_output": "a"}]"#, vec!["record 0", "input_data"]),
        (r#"[{"input_data": null}]"#, vec!["record 0", "input_data"]),
        (
            r#"[{"input_data": "x", "expected": "y"}]"#,
            vec!["record 0", "\"expected\"", "allowed keys"],
        ),
        (r#"[{"input_data": {"a": 1, "a": 2}}]"#, vec!["record 0", "duplicate key"]),
        ("[{\"input_data\": 1},\n {\"input_data\": 2},\n]", vec!["line 3, column 1"]),
        (r#"[{"input_data": 1, "metadata": [1]}]"#, vec!["record 0", "metadata", "object"]),
        (r#"[{"input_data": 1, "id": 7}]"#, vec!["record 0", "\"id\""]),
        (r#"[{"input_data": 1, "id": ""}]"#, vec!["record 0", "\"id\""]),
        (r#"[{"input_data": 1, "tags": [["x"]]}]"#, vec!["record 0", "tag"]),
        (r#"[{"input_data": 1, "tags": 5}]"#, vec!["record 0", "tags"]),
    ];
    for (json, needles) in cases {
        let message = refusal(json);
        for needle in needles {
            assert!(message.contains(needle), "{json}: {message:?} lacks {needle:?}");
        }
    }
    let deep = format!("[{{\"input_data\": {}1{}}}]", "[".repeat(99), "]".repeat(99));
    let message = refusal(&deep);
    assert!(message.contains("record 0") && message.contains("nesting"), "{message}");
}

#[test]
fn files_that_are_not_utf8_json_are_refused() {
    let dir = Dir::named("work");
    dir.write("utf16.json", b"\xff\xfe[\x00]\x00");
    let error = dir.plan(&crate::util::with_dataset("utf16.json")).unwrap_err().to_string();
    assert!(error.contains("not UTF-8"), "{error}");
    dir.write("bom.json", "\u{feff}[{\"input_data\": 1}]");
    assert!(dir.plan(&crate::util::with_dataset("bom.json")).is_ok());
}

#[test]
fn sdk_owned_keys_are_dropped_and_ids_must_be_unique() {
    let json = r#"[{"input_data": 1, "record_id": "a"}, {"input_data": 2},
                   {"input_data": 3, "canonical_id": "c", "id": "x"}]"#;
    let (plan, rendered) = render_json(json);
    assert!(!rendered.text.contains("record_id") && !rendered.text.contains("canonical_id"));
    assert!(plan.warnings.contains(
        &"Removed SDK-owned keys (record_id, canonical_id) from records 0, 2".to_owned()
    ));
    assert!(rendered.warnings.is_empty(), "the raw view is clean: {:?}", rendered.warnings);
    let message = refusal(
        r#"[{"input_data": 1, "id": "a"}, {"input_data": 2}, {"input_data": 3, "id": "a"}]"#,
    );
    assert!(message.contains("records 0 and 2"), "{message}");
}

#[test]
fn structured_expected_output_adds_the_json_shape_evaluator() {
    let json = r#"[{"input_data": "plain", "expected_output": {"city": "Paris"}},
                   {"input_data": {"q": 1}, "expected_output": "x"}]"#;
    let (plan, rendered) = render_json(json);
    assert_eq!(rendered.evaluator_count, 4);
    assert!(rendered.text.contains(
        "evaluators=[exact_match, response_well_formed, json_shape_matches, llm_judge_placeholder],"
    ));
    assert!(rendered.text.contains("import json\n\nfrom ddtrace.llmobs import EvaluatorResult\n"));
    assert!(rendered.text.contains("def task_fn(input_data: Any, config: Dict[str, Any]) -> str:"));
    let summary = llmobs_bootstrap::summary(&plan, &rendered, &llmobs_bootstrap::SyntaxCheck::Pass);
    assert!(summary.contains("  ✓ 4 evaluators (style: function)\n"));
    // Not structured: three evaluators, an object-typed task input.
    let (_, flat) = render_json(r#"[{"input_data": {"q": 1}, "expected_output": "x"}]"#);
    assert_eq!(flat.evaluator_count, 3);
    assert!(!flat.text.contains("json_shape_matches"));
    assert!(flat.text.contains("def task_fn(input_data: Dict[str, Any], config"));
}

#[test]
fn tags_are_normalised_to_key_value() {
    let json = r#"[
        {"input_data": 0, "tags": ["smoke", "env:prod", "  spaced  ", ":x", "x:", ":", "", 42, true,
                                   null, "tag:smoke", "ümlaut", "a:b:c"]},
        {"input_data": 1, "tags": "smoke"},
        {"input_data": 2, "tags": {"env": "prod", "tier": "gold"}},
        {"input_data": 3, "tags": ["jane@x.com", "owner:bob@example.org"]},
        {"input_data": 4, "tags": ["env:ok"]},
        {"input_data": 5, "tags": [":"]}
    ]"#;
    let (plan, rendered) = render_json(json);
    assert_round_trip(json, &rendered.text, Format::Py);
    let tags: Vec<Vec<String>> =
        plan.dataset.inline_records().unwrap().iter().map(|r| r.tags.clone()).collect();
    assert_eq!(
        tags[0],
        [
            "tag:smoke",
            "env:prod",
            "tag:spaced",
            "tag:x",
            "tag:42",
            "tag:true",
            "tag:ümlaut",
            "a:b:c"
        ]
    );
    assert_eq!(tags[1], ["tag:smoke"]);
    assert_eq!(tags[2], ["env:prod", "tier:gold"]);
    assert_eq!(tags[3], ["tag:<REDACTED:email>", "owner:<REDACTED:email>"]);
    assert_eq!(tags[4], ["env:ok"]);
    assert!(tags[5].is_empty());
    assert!(rendered.text.contains(r#""tags": ["tag:smoke", "env:prod", "tag:spaced", "tag:x", "tag:42", "tag:true", "tag:\xfcmlaut", "a:b:c"],"#));
    assert!(
        plan.warnings
            .contains(&"Tags rewritten to key:value form in records 0, 1, 2, 3, 5".to_owned())
    );
    // An emptied list emits no tags key.
    let record5 = rendered.text.split("\"input_data\": 5,").nth(1).unwrap();
    assert!(record5.trim_start().starts_with('}'), "{record5}");
}

#[test]
fn pulled_datasets_are_latest_or_pinned() {
    let dir = Dir::named("work");
    let options = Options { dataset_name: Some("Q&A set ü".into()), ..Options::default() };
    let (plan, rendered) = dir.render(&options).unwrap();
    assert!(rendered.text.contains(
        "# Pulled from Datadog: dataset_name=\"Q&A set \\xfc\", version=latest\n\
         dataset = LLMObs.pull_dataset(dataset_name=\"Q&A set \\xfc\", project_name=PROJECT_NAME)\n"
    ));
    assert!(!rendered.text.contains("records=") && !rendered.text.contains("create_dataset"));
    assert!(rendered.text.contains("def task_fn(input_data: Any,"));
    assert!(plan.warnings.is_empty());
    assert_eq!(rendered.dataset_call, "pull_dataset");

    let options = Options { dataset_version: Some(2), ..options };
    let (_, pinned) = dir.render(&options).unwrap();
    assert!(pinned.text.contains(
        "# Pulled from Datadog: dataset_name=\"Q&A set \\xfc\", version=2\n\
         dataset = LLMObs.pull_dataset(dataset_name=\"Q&A set \\xfc\", project_name=PROJECT_NAME, version=2)\n"
    ));
}

#[test]
fn dataset_paths_must_be_readable_files_with_a_known_extension() {
    let dir = Dir::named("work");
    dir.write("data.jsonl", "{}");
    dir.write("notes.txt", "x");
    dir.write("noext", "x");
    std::fs::create_dir_all(dir.cwd.join("folder.json")).unwrap();
    for (path, needle) in [
        ("missing.json", "cannot read"),
        ("data.jsonl", ".jsonl"),
        ("notes.txt", ".txt"),
        ("noext", "no extension"),
        ("folder.json", "directory"),
    ] {
        let error = dir.plan(&crate::util::with_dataset(path)).unwrap_err();
        let message = error.to_string();
        assert_eq!(error.exit_code(), 1);
        assert!(message.contains(&format!("\"{path}\"")), "{message}");
        assert!(message.contains(needle) && message.contains(".json, .csv, .tsv"), "{message}");
    }
}
