//! The progress bar of `datasets import`, drawn on a terminal (a tmux pane) and never
//! into a pipe.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::util::{Env, stderr};

fn big_csv(env: &Env, rows: usize) -> std::path::PathBuf {
    let mut text = String::from("input,expected_output\n");
    for i in 0..rows {
        text.push_str(&format!("question number {i} with some padding text,answer {i}\n"));
    }
    env.write("big.csv", &text)
}

#[test]
fn the_progress_bar_shows_on_a_terminal_only() {
    let env = Env::new();
    let csv = big_csv(&env, 20_000);
    // Piped: no bar in standard error.
    let out =
        env.cmd().args(["datasets", "import", "piped", csv.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("importing piped ["), "{}", stderr(&out));
    // On a terminal: the pane's output is logged as drawn.
    if Command::new("tmux").arg("-V").output().is_err() {
        panic!("tmux is needed for this test (scripts/test.sh installs it)");
    }
    let socket = env.path("tmux.sock");
    let log = env.path("pane.log");
    let done = env.path("done");
    let bin = assert_cmd::cargo::cargo_bin("llmobs");
    let script = format!(
        "DD_API_KEY={} DD_APP_KEY={} DD_LLMOBS_OVERRIDE_ORIGIN={} LLMOBS_CONFIG={} {} datasets import tty {}; echo $? > {}",
        llmobs_server::test_support::API_KEY,
        llmobs_server::test_support::APP_KEY,
        env.origin(),
        env.path("config.toml").display(),
        bin.display(),
        csv.display(),
        done.display(),
    );
    let tmux = |args: &[&str]| {
        let status = Command::new("tmux").arg("-S").arg(&socket).args(args).status().unwrap();
        assert!(status.success(), "tmux {args:?}");
    };
    tmux(&["new-session", "-d", "-x", "150", "-y", "20", "-s", "bar", "sleep 60"]);
    tmux(&["pipe-pane", "-t", "bar", "-o", &format!("cat > {}", log.display())]);
    tmux(&["respawn-pane", "-k", "-t", "bar", &format!("sh -c '{script}; sleep 60'")]);
    let started = Instant::now();
    while !done.exists() && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(300));
    let _ = Command::new("tmux").arg("-S").arg(&socket).arg("kill-server").status();
    assert_eq!(std::fs::read_to_string(&done).unwrap().trim(), "0", "the import succeeded");
    let drawn = String::from_utf8_lossy(&std::fs::read(&log).unwrap()).into_owned();
    assert!(drawn.contains("importing tty ["), "no bar drawn: {drawn:?}");
    assert!(drawn.contains("imported") && drawn.contains("as version 1"), "{drawn:?}");
}
