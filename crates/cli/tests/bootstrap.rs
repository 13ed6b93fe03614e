//! `llmobs bootstrap` as a user runs it: exit codes, streams, files written (spec §2,
//! §14, §15 and acceptance cases 1 to 10 and 39).

use std::path::{Path, PathBuf};

use assert_cmd::Command;

const REFERENCE: &str = include_str!("../../bootstrap/tests/fixtures/reference.py");
const GOLDEN_SUMMARY: &str = include_str!("../../bootstrap/tests/fixtures/summary.txt");

/// A fresh working directory with a chosen name.
struct Dir {
    _root: tempfile::TempDir,
    cwd: PathBuf,
}

impl Dir {
    fn named(name: &str) -> Dir {
        let root = tempfile::tempdir().unwrap();
        let cwd = root.path().join(name);
        std::fs::create_dir_all(&cwd).unwrap();
        Dir { _root: root, cwd }
    }

    fn write(&self, name: &str, contents: &str) {
        std::fs::write(self.cwd.join(name), contents).unwrap();
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.cwd.join(name)).unwrap()
    }

    fn bootstrap(&self, args: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("llmobs").unwrap();
        cmd.current_dir(&self.cwd).arg("bootstrap").args(args);
        cmd.env_remove("LLMOBS_BOOTSTRAP_TEST_HOOK").env_remove("DD_LLMOBS_OVERRIDE_ORIGIN");
        // A hung run is killed and fails its test instead of holding the suite.
        cmd.timeout(std::time::Duration::from_secs(120));
        cmd
    }

    fn listing(&self) -> Vec<String> {
        let mut out = Vec::new();
        walk(&self.cwd, &self.cwd, &mut out);
        out.sort();
        out
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        out.push(path.strip_prefix(root).unwrap().to_string_lossy().into_owned());
        if path.is_dir() {
            walk(root, &path, out);
        }
    }
}

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(mut cmd: Command) -> Outcome {
    let output = cmd.output().unwrap();
    Outcome {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

#[test]
fn default_run_writes_the_reference_file_and_the_golden_summary() {
    let dir = Dir::named("acme-bot");
    let out = run(dir.bootstrap(&[]));
    assert_eq!((out.code, out.stderr.as_str()), (0, ""));
    assert_eq!(out.stdout, GOLDEN_SUMMARY);
    assert_eq!(dir.read("experiments/experiment.py"), REFERENCE);
    assert_eq!(dir.listing(), ["experiments", "experiments/experiment.py"]);
}

#[test]
fn an_override_origin_points_the_summary_at_that_server() {
    let dir = Dir::named("acme-bot");
    let mut cmd = dir.bootstrap(&[]);
    cmd.env("DD_LLMOBS_OVERRIDE_ORIGIN", "http://127.0.0.1:7580/");
    let out = run(cmd);
    assert_eq!((out.code, out.stderr.as_str()), (0, ""));
    // The file is the same; only the environment lines and the "watch" line differ.
    assert_eq!(dir.read("experiments/experiment.py"), REFERENCE);
    let expected = GOLDEN_SUMMARY
        .replace(
            "  export DD_SITE=datadoghq.com\n",
            "  export DD_LLMOBS_OVERRIDE_ORIGIN=http://127.0.0.1:7580\n  \
             export DD_LLMOBS_AGENTLESS_ENABLED=1\n  \
             export DD_TRACE_ENABLED=false   # no Datadog Agent to send APM traces to\n",
        )
        .replace(
            "https://app.datadoghq.com/llm/experiments\n",
            "http://127.0.0.1:7580/llm/experiments/<id> (<id> ends the printed experiment.url)\n",
        );
    assert_ne!(expected, GOLDEN_SUMMARY);
    assert_eq!(out.stdout, expected);
    // Set but empty is not set.
    let again = Dir::named("acme-bot");
    let mut cmd = again.bootstrap(&[]);
    cmd.env("DD_LLMOBS_OVERRIDE_ORIGIN", "");
    assert_eq!(run(cmd).stdout, GOLDEN_SUMMARY);
}

#[test]
fn equivalent_spellings_give_identical_bytes() {
    let spellings: [&[&str]; 4] = [
        &[],
        &["--format", "py", "--evaluator-style", "function", "--jobs", "10"],
        &["--format=py", "--jobs=10"],
        &["--language", "python"],
    ];
    let mut first: Option<(String, String)> = None;
    for args in spellings {
        for force in [false, true] {
            let dir = Dir::named("acme-bot");
            let mut all: Vec<&str> = args.to_vec();
            if force {
                dir.bootstrap(&[]).assert().success();
                all.push("--force");
            }
            let out = run(dir.bootstrap(&all));
            assert_eq!(out.code, 0, "{all:?}: {}", out.stderr);
            let seen = (dir.read("experiments/experiment.py"), out.stdout);
            match &first {
                None => first = Some(seen),
                Some(expected) => assert_eq!(&seen, expected, "{all:?}"),
            }
        }
    }
}

#[test]
fn notebook_summary_uses_cells() {
    let dir = Dir::named("acme-bot");
    let out = run(dir.bootstrap(&["--format", "ipynb"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    for line in [
        "Generated SDK experiment: ipynb\n",
        "Path: experiments/experiment.ipynb\nCells: 16\n",
        "  ✓ LLMObs.enable(...) (cell ~2)\n",
        "  ✓ LLMObs.create_dataset(...) (cell ~3)\n",
        "  ✓ task_fn(input_data, config) (cell ~4)\n",
        "  ✓ LLMObs.experiment(...).run(jobs=10) (cell ~7)\n",
        "Run:\n  jupyter notebook experiments/experiment.ipynb\n",
        "  3. Run all cells. The notebook prints experiment.url at the end.\n",
    ] {
        assert!(out.stdout.contains(line), "missing {line:?} in\n{}", out.stdout);
    }
    assert_eq!(dir.listing(), ["experiments", "experiments/experiment.ipynb"]);
}

#[test]
fn jobs_and_ignored_dataset_version() {
    let dir = Dir::named("acme-bot");
    let out = run(dir.bootstrap(&["--jobs", "64", "--output", "jobs"]));
    assert!(out.stdout.contains(".run(jobs=64) (line ~167)"), "{}", out.stdout);
    assert!(dir.read("jobs.py").contains("\nresults = experiment.run(jobs=64)\n"));

    let out = run(dir.bootstrap(&["--dataset-version", "2"]));
    assert_eq!(out.code, 0);
    assert_eq!(dir.read("experiments/experiment.py"), REFERENCE);
    assert!(out.stdout.contains(
        "\nWarnings:\n  - --dataset-version is ignored without --dataset-name.\n\nNext steps:\n"
    ));
}

/// Each bad invocation: exit code, words the message must contain, and nothing written.
#[test]
fn bad_input_is_refused_without_writing() {
    let dir = Dir::named("acme-bot");
    dir.write("d.json", "[{\"input_data\": 1}]");
    dir.write("object.json", "{\"records\": [{\"input_data\": 1}]}");
    dir.write("empty.json", "[]");
    dir.write("noinput.json", "[{\"expected_output\": \"a\"}]");
    #[cfg(unix)]
    std::os::unix::fs::symlink("nowhere.json", dir.cwd.join("dangling.json")).unwrap();
    let before = dir.listing();
    let cases: Vec<(Vec<&str>, i32, Vec<&str>)> = vec![
        (
            vec!["--dataset", "d.json", "--dataset-name", "qa"],
            2,
            vec!["--dataset", "--dataset-name", "mutually exclusive"],
        ),
        (vec!["--dataset-name", "qa", "--dataset", "d.json"], 2, vec!["mutually exclusive"]),
        (vec!["--format", "PY"], 2, vec!["py", "ipynb", "only Python"]),
        (vec!["--format="], 2, vec!["py", "ipynb"]),
        (vec!["--format", "ts"], 2, vec!["py", "ipynb"]),
        (vec!["--evaluator-style", "lambda"], 2, vec!["function", "class", "remote"]),
        (
            vec!["--language", "typescript"],
            2,
            vec!["only generates Python code for ddtrace.llmobs"],
        ),
        (vec!["--language=ts"], 2, vec!["only generates Python code for ddtrace.llmobs"]),
        (vec!["--language", "go"], 2, vec!["only generates Python code for ddtrace.llmobs"]),
        (vec!["--jobs", "0"], 2, vec!["--jobs", "positive integer", "1000"]),
        (vec!["--jobs", "-3"], 2, vec!["--jobs", "positive integer"]),
        (vec!["--jobs", "abc"], 2, vec!["--jobs", "positive integer"]),
        (vec!["--jobs", "2.5"], 2, vec!["--jobs", "positive integer"]),
        (vec!["--jobs", ""], 2, vec!["--jobs", "positive integer"]),
        (
            vec!["--dataset-name", "qa", "--dataset-version", "0"],
            2,
            vec!["--dataset-version", "treats version 0 as latest"],
        ),
        (vec!["--dataset-version", "-1"], 2, vec!["--dataset-version"]),
        (vec!["--project-name", " "], 2, vec!["--project-name"]),
        (vec!["--dataset-name", ""], 2, vec!["--dataset-name"]),
        (vec!["--output", "bad\u{7}name"], 2, vec!["--output", "control characters"]),
        (
            vec!["--format", "ipynb", "--output", "x.py"],
            2,
            vec!["--format", ".py", "ipynb", "hint: pass --format py"],
        ),
        (vec!["--jobs", "5", "--jobs", "6"], 2, vec!["--jobs"]),
        (vec!["positional"], 2, vec!["positional"]),
        (vec!["--bogus"], 2, vec!["--bogus"]),
        (vec!["--dataset-id", "abc123"], 2, vec!["--dataset-name", "not an id"]),
        (vec!["--dataset", "object.json"], 1, vec!["object.json", "top-level JSON array"]),
        (vec!["--dataset", "empty.json"], 1, vec!["empty.json", "no records"]),
        (vec!["--dataset", "noinput.json"], 1, vec!["record 0", "input_data"]),
        (vec!["--dataset", "missing.json"], 1, vec!["missing.json", ".json, .csv, .tsv"]),
        (vec!["--dataset", "notes.txt"], 1, vec!["notes.txt", ".json, .csv, .tsv"]),
        #[cfg(unix)]
        (vec!["--dataset", "dangling.json"], 1, vec!["dangling.json", "cannot read"]),
    ];
    for (args, code, needles) in cases {
        let out = run(dir.bootstrap(&args));
        assert_eq!(out.code, code, "{args:?}: {}", out.stderr);
        assert_eq!(out.stdout, "", "{args:?}");
        assert!(out.stderr.starts_with("error: "), "{args:?}: {}", out.stderr);
        for needle in needles {
            assert!(out.stderr.contains(needle), "{args:?}: {:?} lacks {needle:?}", out.stderr);
        }
        assert_eq!(dir.listing(), before, "{args:?} wrote something");
    }
}

#[test]
fn an_existing_output_needs_force() {
    let dir = Dir::named("acme-bot");
    dir.bootstrap(&[]).assert().success();
    std::fs::write(dir.cwd.join("experiments/experiment.py"), "mine\n").unwrap();
    let out = run(dir.bootstrap(&[]));
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("exists; pass --force to replace it"), "{}", out.stderr);
    assert_eq!(dir.read("experiments/experiment.py"), "mine\n");
    dir.bootstrap(&["--force"]).assert().success();
    assert_eq!(dir.read("experiments/experiment.py"), REFERENCE);
    let out = run(dir.bootstrap(&["--output", "experiments/", "--force"]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("experiments/"), "{}", out.stderr);
}

#[test]
fn self_check_failures_write_nothing() {
    let dir = Dir::named("acme-bot");
    let mut cmd = dir.bootstrap(&[]);
    cmd.env("LLMOBS_BOOTSTRAP_TEST_HOOK", "corrupt-syntax");
    let out = run(cmd);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("Syntax check: fail: SyntaxError"), "{}", out.stderr);
    assert!(out.stderr.contains("error: generated code failed the syntax check: SyntaxError"));
    assert_eq!(out.stdout, "");

    let mut cmd = dir.bootstrap(&[]);
    cmd.env("LLMOBS_BOOTSTRAP_TEST_HOOK", "inject-forbidden");
    let out = run(cmd);
    assert_eq!(out.code, 1);
    assert_eq!(out.stderr, "error: internal self-check failed: forbidden pattern uuid4\n");
    assert!(dir.listing().is_empty());
}

#[test]
fn without_python_the_check_is_skipped_and_the_file_written() {
    let dir = Dir::named("acme-bot");
    let empty = tempfile::tempdir().unwrap();
    let mut cmd = dir.bootstrap(&[]);
    cmd.env("PATH", empty.path());
    let out = run(cmd);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("\nSyntax check: skipped: toolchain missing\n"));
    assert_eq!(dir.read("experiments/experiment.py"), REFERENCE);
}

#[test]
fn credentials_in_the_environment_never_reach_the_output() {
    let dir = Dir::named("acme-bot");
    let mut cmd = dir.bootstrap(&[]);
    cmd.env("DD_API_KEY", "0123456789abcdef0123456789abcdef")
        .env("OPENAI_API_KEY", "sk-test-secret-value-123456");
    let out = run(cmd);
    assert_eq!(out.code, 0);
    let file = dir.read("experiments/experiment.py");
    for secret in ["0123456789abcdef0123456789abcdef", "sk-test-secret-value-123456"] {
        assert!(!file.contains(secret) && !out.stdout.contains(secret));
    }
}

#[test]
fn help_lists_every_flag_and_writes_nothing() {
    let dir = Dir::named("acme-bot");
    let out = run(dir.bootstrap(&["--help"]));
    assert_eq!(out.code, 0);
    for flag in [
        "--format",
        "--dataset ",
        "--dataset-name",
        "--dataset-version",
        "--project-name",
        "--evaluator-style",
        "--jobs",
        "--output",
        "--force",
        "--language",
    ] {
        assert!(out.stdout.contains(flag), "{flag} missing from help");
    }
    for default in ["[default: py]", "[default: function]", "[default: 10]", "[default: python]"] {
        assert!(out.stdout.contains(default), "{default} missing from help");
    }
    assert!(dir.listing().is_empty());
}
