//! Shared helpers: temporary working directories and generation shortcuts.

use std::path::{Path, PathBuf};

use llmobs_bootstrap::{Error, Options, Plan, Rendered, render};

/// A fresh temporary directory holding one working directory with a chosen name.
pub struct Dir {
    _root: tempfile::TempDir,
    /// The working directory.
    pub cwd: PathBuf,
}

impl Dir {
    pub fn named(name: &str) -> Dir {
        let root = tempfile::tempdir().expect("temporary directory");
        let cwd = root.path().join(name);
        std::fs::create_dir_all(&cwd).expect("working directory");
        Dir { _root: root, cwd }
    }

    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.cwd.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, contents).unwrap();
        path
    }

    pub fn plan(&self, options: &Options) -> Result<Plan, Error> {
        Plan::build(options, &self.cwd)
    }

    pub fn render(&self, options: &Options) -> Result<(Plan, Rendered), Error> {
        let plan = self.plan(options)?;
        let rendered = render(&plan)?;
        Ok((plan, rendered))
    }

    /// Files and directories under the working directory, relative, sorted.
    pub fn listing(&self) -> Vec<String> {
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

/// A long-lived `python3` running `python/oracle.py`: one JSON request per line.
pub struct Oracle {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl Oracle {
    fn start() -> Oracle {
        use std::process::{Command, Stdio};
        let mut child = Command::new("python3")
            .args(["-I", "-B", "-c", include_str!("python/oracle.py")])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("these tests need python3 on PATH");
        let stdin = child.stdin.take().unwrap();
        let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        Oracle { child, stdin, stdout }
    }

    /// Sends one request and returns the answer.
    pub fn ask(request: &serde_json::Value) -> serde_json::Value {
        use std::io::{BufRead, Write};
        static ORACLE: std::sync::Mutex<Option<Oracle>> = std::sync::Mutex::new(None);
        let mut guard = ORACLE.lock().unwrap_or_else(|e| e.into_inner());
        let oracle = guard.get_or_insert_with(Oracle::start);
        writeln!(oracle.stdin, "{request}").unwrap();
        oracle.stdin.flush().unwrap();
        let mut line = String::new();
        oracle.stdout.read_line(&mut line).unwrap();
        if line.is_empty() {
            let status = oracle.child.wait();
            panic!("the Python oracle stopped: {status:?}");
        }
        serde_json::from_str(&line).unwrap()
    }
}

/// Asserts through the Python oracle that `file` compiles and embeds exactly the records
/// the spec's rules make of `dataset`.
pub fn assert_round_trip(dataset: &str, file: &str, format: llmobs_bootstrap::Format) {
    let answer = Oracle::ask(&serde_json::json!({
        "op": "check", "dataset": dataset, "file": file, "format": format.as_str(),
    }));
    assert_eq!(answer["ok"], serde_json::json!(true), "{answer}");
}

/// Options for a JSON or CSV dataset file named `name`, with a fixed project name.
pub fn with_dataset(name: &str) -> Options {
    Options {
        dataset: Some(name.into()),
        project_name: Some("experiment-test".into()),
        ..Options::default()
    }
}

/// Renders a JSON dataset given as text; panics on refusal.
pub fn render_json(json: &str) -> (Plan, Rendered) {
    let dir = Dir::named("work");
    dir.write("data.json", json);
    dir.render(&with_dataset("data.json")).unwrap()
}

/// The error a JSON dataset given as text is refused with.
pub fn refuse_json(json: &str) -> Error {
    let dir = Dir::named("work");
    dir.write("data.json", json);
    dir.plan(&with_dataset("data.json")).unwrap_err()
}
