//! A server per test and the `llmobs` command pointed at it.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use llmobs_server::test_support::{API_KEY, APP_KEY, TestServer};
use serde_json::Value;

/// A test server, a scratch directory and a config file of its own.
pub struct Env {
    pub server: TestServer,
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        Env { server: TestServer::start_blocking(), dir: tempfile::tempdir().unwrap() }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn origin(&self) -> String {
        self.server.origin()
    }

    /// `llmobs` with the server's keys in the environment (as ddtrace reads them), run in
    /// the scratch directory, with no terminal width and no stray settings.
    pub fn cmd(&self) -> Command {
        let mut cmd = self.bare();
        cmd.env("DD_API_KEY", API_KEY)
            .env("DD_APP_KEY", APP_KEY)
            .env("DD_LLMOBS_OVERRIDE_ORIGIN", self.origin());
        cmd
    }

    /// `llmobs` with no settings but its own config file.
    pub fn bare(&self) -> Command {
        let mut cmd = Command::cargo_bin("llmobs").unwrap();
        for var in [
            "DD_API_KEY",
            "DD_APP_KEY",
            "DD_APPLICATION_KEY",
            "DD_SITE",
            "DD_LLMOBS_OVERRIDE_ORIGIN",
            "DD_LLMOBS_PROJECT_NAME",
            "LLMOBS_PROFILE",
            "COLUMNS",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("LLMOBS_CONFIG", self.path("config.toml"))
            .current_dir(self.dir.path())
            .timeout(std::time::Duration::from_secs(120));
        cmd
    }

    /// Runs `args`; must succeed; returns standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        let output = self.cmd().args(args).output().unwrap();
        assert!(output.status.success(), "llmobs {args:?} failed:\n{}", text(&output.stderr));
        text(&output.stdout)
    }

    /// Runs `args` with `--json`; must succeed; returns the parsed output.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.ok(&all);
        serde_json::from_str(&out).unwrap_or_else(|err| panic!("not JSON ({err}): {out}"))
    }

    /// Runs `args`; must exit with `code`; returns the output.
    pub fn fails(&self, args: &[&str], code: i32) -> Output {
        let output = self.cmd().args(args).output().unwrap();
        assert_eq!(
            output.status.code(),
            Some(code),
            "llmobs {args:?}: stdout {} stderr {}",
            text(&output.stdout),
            text(&output.stderr)
        );
        output
    }

    /// GET on the API with the keys, as JSON.
    pub fn api(&self, path: &str) -> Value {
        let url = format!("{}{path}", self.origin());
        // Fails only when a provider is installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        runtime().block_on(async {
            let response = reqwest::Client::new()
                .get(&url)
                .header("DD-API-KEY", API_KEY)
                .header("DD-APPLICATION-KEY", APP_KEY)
                .send()
                .await
                .unwrap();
            assert!(response.status().is_success(), "GET {path}: {}", response.status());
            response.json().await.unwrap()
        })
    }

    /// An SDK client of the server, in `project`.
    pub fn client_in(&self, project: &str) -> llmobs::Client {
        llmobs::Client::builder()
            .api_key(API_KEY)
            .app_key(APP_KEY)
            .origin(self.origin())
            .cache_ttl(std::time::Duration::ZERO)
            .project_name(project)
            .build()
            .unwrap()
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn stderr(output: &Output) -> String {
    text(&output.stderr)
}

/// Table text with ids and times masked, keeping every width: UUIDs as `x`s, the
/// digits of timestamps as `0`s.
pub fn masked(table: &str) -> String {
    let uuid =
        regex::Regex::new(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").unwrap();
    let time = regex::Regex::new(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z").unwrap();
    let table = uuid
        .replace_all(table, |c: &regex::Captures| c[0].replace(|ch: char| ch != '-', "x"))
        .into_owned();
    time.replace_all(&table, |c: &regex::Captures| {
        c[0].replace(|ch: char| ch.is_ascii_digit(), "0")
    })
    .into_owned()
}

#[allow(dead_code)]
pub fn exists(path: &Path) -> bool {
    path.exists()
}
