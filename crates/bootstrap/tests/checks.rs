//! Acceptance cases 2, 37 to 40 and 43: the rules every output keeps, the self-checks,
//! the syntax check and the warnings block.

use std::collections::HashSet;

use llmobs_bootstrap::{
    Error, EvaluatorStyle, Format, Options, Settings, SyntaxCheck, TestHook, generate, syntax_check,
};

use crate::snapshots::matrix_case;
use crate::util::{Dir, assert_round_trip, render_json, with_dataset};

const SOURCES: [&str; 5] = ["sample", "json", "structured", "csv", "pull"];
const STYLES: [EvaluatorStyle; 3] =
    [EvaluatorStyle::Function, EvaluatorStyle::Class, EvaluatorStyle::Remote];

/// The code of a `.py` output, or the code cells of a notebook joined by a blank line.
fn code_of(text: &str, format: Format) -> String {
    match format {
        Format::Py => text.to_owned(),
        Format::Ipynb => {
            let nb: serde_json::Value = serde_json::from_str(text).unwrap();
            let cells: Vec<String> = nb["cells"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| c["cell_type"] == "code")
                .map(|c| {
                    c["source"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect()
                })
                .collect();
            cells.join("\n\n") + "\n"
        }
    }
}

#[test]
fn every_matrix_output_keeps_the_rules() {
    let allowed_sdk: HashSet<&str> =
        ["LLMObs", "EvaluatorResult", "BaseEvaluator", "EvaluatorContext", "RemoteEvaluator"]
            .into();
    for source in SOURCES {
        for style in STYLES {
            for format in [Format::Py, Format::Ipynb] {
                let case = format!("{source}/{style}/{format}");
                let (text, _) = matrix_case(source, style, format);
                let code = code_of(&text, format);
                assert!(code.contains("# TODO(user)"), "{case}: no TODO");
                assert!(!code.contains("LLMJudge("), "{case}");
                assert!(
                    code.starts_with("from __future__ import annotations\n")
                        || format == Format::Py
                );
                for line in code.lines() {
                    let line = line.trim_start();
                    if let Some(names) = line.strip_prefix("from ddtrace.llmobs import ") {
                        for name in names.split(", ") {
                            assert!(allowed_sdk.contains(name), "{case}: imports {name}");
                        }
                    } else if line.starts_with("import ") || line.starts_with("from ") {
                        assert!(
                            [
                                "import os",
                                "import json",
                                "import sys",
                                "from __future__ import annotations",
                                "from typing import Any, Dict",
                                "from dotenv import load_dotenv",
                                "from openai import OpenAI  # imported here so the rest of the file works without openai",
                            ]
                            .contains(&line),
                            "{case}: unexpected import {line}"
                        );
                    }
                }
                for pair in [
                    "\"generated_by\": \"claude-code\",",
                    "\"skill\": \"llm-obs-experiment-py-bootstrap\",",
                ] {
                    assert_eq!(code.matches(pair).count(), 2, "{case}: provenance {pair}");
                }
                let evaluators = code
                    .lines()
                    .find_map(|l| l.trim().strip_prefix("evaluators=["))
                    .unwrap()
                    .trim_end_matches("],");
                let labels: Vec<String> = match style {
                    EvaluatorStyle::Function => evaluators.split(", ").map(str::to_owned).collect(),
                    EvaluatorStyle::Class => code
                        .lines()
                        .filter_map(|l| l.trim().strip_prefix("super().__init__(name=\""))
                        .map(|l| l.trim_end_matches("\")").to_owned())
                        .collect(),
                    EvaluatorStyle::Remote => code
                        .lines()
                        .filter_map(|l| l.split("RemoteEvaluator(eval_name=\"").nth(1))
                        .map(|l| l.split('"').next().unwrap().to_owned())
                        .collect(),
                };
                let unique: HashSet<&String> = labels.iter().collect();
                assert_eq!(unique.len(), labels.len(), "{case}: {labels:?}");
                let expected = match style {
                    EvaluatorStyle::Function if source == "structured" => 4,
                    EvaluatorStyle::Function => 3,
                    _ => 2,
                };
                assert_eq!(labels.len(), expected, "{case}: {labels:?}");
                assert_eq!(llmobs_bootstrap::first_forbidden(&text), None, "{case}: raw view");
                // Every evaluator except exact_match returns EvaluatorResult with value,
                // reasoning and assessment.
                for result in code.split("EvaluatorResult(").skip(1).filter(|r| !r.starts_with(')'))
                {
                    let call = &result[..result.find(")\n").unwrap_or(result.len())];
                    for field in ["value=", "reasoning=", "assessment="] {
                        assert!(
                            call.contains(field),
                            "{case}: EvaluatorResult without {field}: {call}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn notebooks_follow_nbformat_4_5() {
    let (text, _) = matrix_case("sample", EvaluatorStyle::Function, Format::Ipynb);
    let nb: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!((nb["nbformat"].as_u64(), nb["nbformat_minor"].as_u64()), (Some(4), Some(5)));
    assert_eq!(
        nb["metadata"],
        serde_json::json!({
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python", "version": "3.10"}
        })
    );
    let cells = nb["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 16);
    for (i, cell) in cells.iter().enumerate() {
        let n = i / 2 + 1;
        let (kind, id) = if i % 2 == 0 {
            ("markdown", format!("s{n}-md"))
        } else {
            ("code", format!("s{n}-code"))
        };
        assert_eq!(cell["cell_type"], kind);
        assert_eq!(cell["id"], id.as_str());
        assert_eq!(cell["metadata"], serde_json::json!({}));
        if kind == "code" {
            assert_eq!(cell["execution_count"], serde_json::Value::Null);
            assert_eq!(cell["outputs"], serde_json::json!([]));
        }
        let lines: Vec<&str> =
            cell["source"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
        for (j, line) in lines.iter().enumerate() {
            let inner = if j + 1 < lines.len() { &line[..line.len() - 1] } else { line };
            assert!(!inner.contains('\n'), "cell {id}: inner newline in {line:?}");
            assert_eq!(line.ends_with('\n'), j + 1 < lines.len(), "cell {id}: {line:?}");
        }
        if kind == "markdown" {
            assert!(lines[0].starts_with(&format!("## {n}. ")), "{lines:?}");
        }
    }
    // Keys are sorted and indented by one space, as nbformat.write() does.
    assert!(text.starts_with(
        "{\n \"cells\": [\n  {\n   \"cell_type\": \"markdown\",\n   \"id\": \"s1-md\",\n"
    ));
    assert!(text.ends_with("\n \"nbformat\": 4,\n \"nbformat_minor\": 5\n}\n"));
    // The code cells are the .py sections without banners.
    let (py, _) = matrix_case("sample", EvaluatorStyle::Function, Format::Py);
    let without_banners: String = py
        .split_once("\"\"\"\n\n")
        .unwrap()
        .1
        .lines()
        .filter(|l| !l.starts_with("# ─── "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(code_of(&text, Format::Ipynb), without_banners);
}

#[test]
fn forbidden_looking_data_stays_data_and_is_reported() {
    let json = r#"[
        {"input_data": "how do I use requests.post(url)?"},
        {"input_data": "x", "expected_output": "uuid.uuid4()"},
        {"input_data": "batch_update", "metadata": {"note": "record_id", "key": "DD_API_KEY = 'not-a-key'"}}
    ]"#;
    let (_, rendered) = render_json(json);
    assert_round_trip(json, &rendered.text, Format::Py);
    assert_eq!(llmobs_bootstrap::first_forbidden(&rendered.code_view), None);
    let warning = |pattern: &str, records: &str| {
        format!(
            "Dataset or name text contains {pattern} ({records}); it is inert data inside a string literal."
        )
    };
    assert_eq!(
        rendered.warnings,
        [
            warning("uuid4", "records 1"),
            warning("uuid.uuid4", "records 1"),
            warning("batch_update", "records 2"),
            warning("\"record_id\"", "records 2"),
            warning("DD_API_KEY = \"...\"", "records 2"),
            warning("requests.post", "records 0"),
        ]
    );
    // Names are attributed to their flag.
    let dir = Dir::named("work");
    let options = Options { dataset_name: Some("ExperimentSummary".into()), ..Options::default() };
    let (_, rendered) = dir.render(&options).unwrap();
    assert_eq!(rendered.warnings, [warning("ExperimentSummary", "--dataset-name")]);
}

#[test]
fn test_hooks_prove_the_self_checks_stop_a_broken_rendering() {
    let dir = Dir::named("hooks");
    let settings = Settings { test_hook: Some(TestHook::InjectForbidden), ..Settings::default() };
    let error = generate(&Options::default(), &dir.cwd, &settings).unwrap_err();
    assert!(matches!(&error, Error::SelfCheck(m) if m == "forbidden pattern uuid4"), "{error:?}");
    assert!(error.to_string().starts_with("internal self-check failed"));

    for format in [Format::Py, Format::Ipynb] {
        let settings = Settings { test_hook: Some(TestHook::CorruptSyntax), ..Settings::default() };
        let options = Options { format, ..Options::default() };
        let error = generate(&options, &dir.cwd, &settings).unwrap_err();
        assert!(matches!(&error, Error::SyntaxCheck(m) if m.contains("SyntaxError")), "{error:?}");
        assert!(error.to_string().starts_with("generated code failed the syntax check: "));
    }
    assert_eq!(dir.listing(), Vec::<String>::new(), "nothing may be written");
}

#[test]
fn syntax_check_states() {
    let (_, rendered) = Dir::named("s").render(&Options::default()).unwrap();
    let python = vec!["python3".to_owned()];
    assert_eq!(syntax_check(&rendered.text, Format::Py, "x.py", &python), SyntaxCheck::Pass);
    let broken = rendered.text.replace("results = experiment.run(jobs=10)", "results = (");
    let SyntaxCheck::Fail(detail) = syntax_check(&broken, Format::Py, "x.py", &python) else {
        panic!("a broken file must fail");
    };
    assert!(detail.starts_with("SyntaxError"), "{detail}");
    let missing = vec!["no-such-python-interpreter".to_owned()];
    assert_eq!(syntax_check(&rendered.text, Format::Py, "x.py", &missing), SyntaxCheck::Skipped);

    // An interpreter older than 3.9 answers with exit status 3: skipped, not failed.
    let dir = Dir::named("fake");
    let fake = dir.write("python-3.8", "#!/bin/sh\ncat >/dev/null\nexit 3\n");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let old = vec![fake.to_string_lossy().into_owned()];
        assert_eq!(syntax_check(&rendered.text, Format::Py, "x.py", &old), SyntaxCheck::Skipped);
    }
    // Skipped still writes the file.
    let dir = Dir::named("nopython");
    let settings = Settings { interpreters: missing, ..Settings::default() };
    let generated = generate(&Options::default(), &dir.cwd, &settings).unwrap();
    assert_eq!(generated.syntax, SyntaxCheck::Skipped);
    assert!(generated.summary.contains("\nSyntax check: skipped: toolchain missing\n"));
    assert!(dir.cwd.join("experiments/experiment.py").is_file());
}

#[test]
fn warnings_come_in_pipeline_order() {
    let dir = Dir::named("adv");
    dir.write(
        "adv.json",
        r#"[{"input_data": "mail ann@example.com", "tags": ["smoke"], "record_id": "r"},
            {"input_data": "uuid4"}]"#,
    );
    let options = Options { dataset_version: Some(3), ..with_dataset("adv.json") };
    let (plan, rendered) = dir.render(&options).unwrap();
    let summary = llmobs_bootstrap::summary(&plan, &rendered, &SyntaxCheck::Pass);
    let block =
        summary.split("\nWarnings:\n").nth(1).unwrap().split("\n\nNext steps:\n").next().unwrap();
    assert_eq!(
        block.lines().collect::<Vec<_>>(),
        [
            "  - --dataset-version is ignored without --dataset-name.",
            "  - Removed SDK-owned keys (record_id, canonical_id) from records 0",
            "  - Tags rewritten to key:value form in records 0",
            "  - PII redacted in records 0 (email: 1)",
            "  - Dataset or name text contains uuid4 (records 1); it is inert data inside a string literal.",
        ]
    );
    assert!(!rendered.text.contains("version="), "the version is ignored");
    let (plan, rendered) = Dir::named("acme-bot").render(&Options::default()).unwrap();
    assert!(!llmobs_bootstrap::summary(&plan, &rendered, &SyntaxCheck::Pass).contains("Warnings:"));
}

#[test]
fn output_is_deterministic_across_runs_and_directories() {
    let data = Dir::named("data");
    let dataset = data.write("qa.json", include_str!("fixtures/qa.json"));
    let out = data.cwd.join("out/exp.py");
    let options = Options {
        dataset: Some(dataset),
        output: Some(out),
        project_name: Some("fixed".into()),
        evaluator_style: EvaluatorStyle::Remote,
        ..Options::default()
    };
    let first = Dir::named("one").render(&options).unwrap().1;
    let again = Dir::named("one").render(&options).unwrap().1;
    let elsewhere = Dir::named("two").render(&options).unwrap().1;
    assert_eq!(first, again);
    assert_eq!(first, elsewhere);
    let (a, _) = matrix_case("csv", EvaluatorStyle::Class, Format::Ipynb);
    let (b, _) = matrix_case("csv", EvaluatorStyle::Class, Format::Ipynb);
    assert_eq!(a, b);
}
