//! The syntax check (spec §13, D13): an in-memory `compile()` in a Python interpreter fed
//! on stdin, so no file and no `__pycache__` is ever created.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::plan::Format;

/// The checker program run with `python -I -c`. Exit 3 means "Python older than 3.9".
pub const CHECKER: &str = r##"import json, sys
if sys.version_info < (3, 9):
    sys.exit(3)
kind, path = sys.argv[1], sys.argv[2]
src = sys.stdin.buffer.read().decode("utf-8")
if kind == "py":
    compile(src, path, "exec", dont_inherit=True)
else:
    nb = json.loads(src)
    assert nb.get("cells"), "notebook has no cells"
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    for i, cell in enumerate(code, 1):
        compile(cell, path + "#code-cell-" + str(i), "exec", dont_inherit=True)
    compile("\n\n".join(code) + "\n", path, "exec", dont_inherit=True)
    print("cells=" + str(len(nb["cells"])))
"##;

/// How long the interpreter may take.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// The interpreters tried, in order, when none are configured.
pub const DEFAULT_INTERPRETERS: [&str; 2] = ["python3", "python"];

/// The outcome of the syntax check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyntaxCheck {
    /// Python compiled the file.
    Pass,
    /// No usable Python 3.9+ was found; the file is written anyway.
    Skipped,
    /// Python refused the file; the detail is the last line of its stderr.
    Fail(String),
}

impl SyntaxCheck {
    /// The summary wording: `pass`, `skipped: toolchain missing` or `fail: <detail>`.
    pub fn describe(&self) -> String {
        match self {
            SyntaxCheck::Pass => "pass".to_owned(),
            SyntaxCheck::Skipped => "skipped: toolchain missing".to_owned(),
            SyntaxCheck::Fail(detail) => format!("fail: {detail}"),
        }
    }
}

/// Compiles `text` with the first interpreter of `interpreters` that starts.
/// `display_path` only appears in Python's messages.
pub fn syntax_check(
    text: &str,
    format: Format,
    display_path: &str,
    interpreters: &[String],
) -> SyntaxCheck {
    for interpreter in interpreters {
        let child = Command::new(interpreter)
            .args(["-I", "-c", CHECKER, format.as_str(), display_path])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let Ok(mut child) = child else { continue };
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let input = text.as_bytes().to_vec();
        let writer = thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let reader = thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stderr.read_to_end(&mut buf);
            buf
        });
        let mut stdout = child.stdout.take().expect("stdout is piped");
        let drain = thread::spawn(move || {
            let _ = std::io::copy(&mut stdout, &mut std::io::sink());
        });
        let started = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if started.elapsed() < TIMEOUT => thread::sleep(Duration::from_millis(5)),
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
            }
        };
        let _ = writer.join();
        let _ = drain.join();
        let stderr = String::from_utf8_lossy(&reader.join().unwrap_or_default()).into_owned();
        let Some(status) = status else {
            return SyntaxCheck::Fail(format!("the interpreter did not finish within {TIMEOUT:?}"));
        };
        return match status.code() {
            Some(0) => SyntaxCheck::Pass,
            Some(3) => SyntaxCheck::Skipped,
            Some(2) if stderr.contains("Unknown option") => SyntaxCheck::Skipped,
            _ => SyntaxCheck::Fail(
                stderr
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("the interpreter failed without a message")
                    .trim()
                    .to_owned(),
            ),
        };
    }
    SyntaxCheck::Skipped
}
