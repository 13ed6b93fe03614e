//! `llmobs serve` and `llmobs keys` as a user types them: bad input is refused with a
//! message that says what to do, and nothing is created.

use assert_cmd::Command;

/// `llmobs` with no initial keys in its environment, killed (and the test failed) if it
/// runs for a minute: a `serve` that stops refusing bad input would otherwise serve forever.
fn llmobs() -> Command {
    let mut cmd = Command::cargo_bin("llmobs").unwrap();
    for name in ["INITIAL", "BOOTSTRAP"].map(|word| format!("LLMOBS_{word}_")) {
        cmd.env_remove(format!("{name}API_KEY")).env_remove(format!("{name}APP_KEY"));
    }
    cmd.timeout(std::time::Duration::from_secs(60));
    cmd
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn keys_create_prints_a_new_pair_once_and_stores_only_digests() {
    let dir = tempfile::tempdir().unwrap();
    let output = llmobs()
        .args(["keys", "create", "--org", "acme", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    let api = lines[0].strip_prefix("export DD_API_KEY=").unwrap();
    let app = lines[1].strip_prefix("export DD_APP_KEY=").unwrap();
    assert_eq!((api.len(), app.len()), (32, 40));
    assert!(api.chars().chain(app.chars()).all(|c| c.is_ascii_hexdigit()));
    let again = llmobs()
        .args(["keys", "create", "--org", "acme", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_ne!(again.stdout, stdout.as_bytes(), "every call makes a new pair");
    let db = std::fs::read(dir.path().join("llmobs.db")).unwrap();
    let wal = std::fs::read(dir.path().join("llmobs.db-wal")).unwrap_or_default();
    for key in [api, app] {
        let clear = key.as_bytes();
        let found = db.windows(clear.len()).chain(wal.windows(clear.len())).any(|w| w == clear);
        assert!(!found, "a key is stored in clear");
    }
}

#[test]
fn bad_serve_options_are_refused_before_anything_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for (args, expected) in [
        (vec!["--base-path", "no-slash"], "invalid base path"),
        (vec!["--database-url", "mysql://u:secret@h/db"], "unsupported database URL"),
        (vec!["--judge-url", "ftp://x"], "--judge-url must start with http"),
        (vec!["--evaluators", "missing.json"], "cannot read --evaluators"),
        (vec!["--listen", "not-an-address"], "invalid socket address"),
        (vec!["--ui-loopback-open", "maybe"], "invalid value 'maybe' for '--ui-loopback-open"),
    ] {
        let output = llmobs()
            .arg("serve")
            .args(&args)
            .arg("--data-dir")
            .arg(&data)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(!output.status.success(), "{args:?} was accepted");
        let message = stderr(&output);
        assert!(message.contains(expected), "{args:?}: {message}");
        assert!(!message.contains("secret"), "a password leaked: {message}");
        assert!(!data.exists(), "{args:?} created the data directory");
    }
}

#[test]
fn half_set_initial_keys_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    // The deprecated name still counts, with a warning.
    for (name, deprecated) in
        [("LLMOBS_INITIAL_API_KEY", false), ("LLMOBS_BOOTSTRAP_API_KEY", true)]
    {
        let output = llmobs()
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .env(name, "only-the-api-key")
            .output()
            .unwrap();
        assert!(!output.status.success(), "{name}");
        let stderr = stderr(&output);
        assert!(
            stderr.contains("set both LLMOBS_INITIAL_API_KEY and LLMOBS_INITIAL_APP_KEY"),
            "{stderr}"
        );
        assert_eq!(
            stderr.contains("LLMOBS_BOOTSTRAP_API_KEY is deprecated"),
            deprecated,
            "{stderr}"
        );
    }
}

#[test]
fn an_unreachable_database_fails_fast_naming_its_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    // (An unknown host is left out: its answer depends on the machine's resolver.)
    for (url, cause) in [
        ("postgres://nobody@127.0.0.1:1/x", "connection refused"),
        ("postgres://nobody:secret@127.0.0.1:1/x", "connection refused"),
    ] {
        let output = llmobs()
            .args(["serve", "--listen", "127.0.0.1:0", "--database-url", url])
            .current_dir(dir.path())
            .timeout(std::time::Duration::from_secs(20))
            .output()
            .unwrap();
        let message = stderr(&output);
        // A run cut off by the timeout has no exit code.
        assert_eq!(output.status.code(), Some(1), "{url}: {message}");
        assert_eq!(message.matches(cause).count(), 1, "{url}: {message}");
        assert_eq!(message.lines().count(), 1, "{url}: {message}");
        assert!(!message.contains("timed out"), "{url}: {message}");
        assert!(!message.contains("secret"), "a password leaked: {message}");
    }
}
