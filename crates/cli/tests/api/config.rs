//! `llmobs config` and how settings are resolved.

use crate::util::{Env, stderr};

#[test]
fn profiles_hold_settings_and_the_list_masks_keys() {
    let env = Env::new();
    for (key, value) in [
        ("origin", env.origin()),
        ("api_key", "test-api-key-0001".into()),
        ("app_key", "test-app-key-0001".into()),
    ] {
        let out = env.bare().args(["config", "set", key, &value]).output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let list = env.bare().args(["config", "list"]).output().unwrap();
    let origin = env.origin();
    let w = origin.len();
    let row = |a: &str, b: &str, c: &str| format!("{a:<7}  {b:<w$}  {c}\n");
    let expected = [
        row("SETTING", "VALUE", "FROM"),
        row("api_key", "****0001", "profile 'default'"),
        row("app_key", "****0001", "profile 'default'"),
        row("site", "", "unset (DD_SITE)"),
        row("origin", &origin, "profile 'default'"),
        row("project", "", "unset (DD_LLMOBS_PROJECT_NAME)"),
    ]
    .concat();
    assert_eq!(String::from_utf8(list.stdout).unwrap(), expected);
    // The profile is enough to reach the server: no DD_ variables needed.
    let out = env.bare().args(["projects", "list"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let get = env.bare().args(["config", "get", "api_key"]).output().unwrap();
    assert_eq!(String::from_utf8(get.stdout).unwrap(), "test-api-key-0001\n");
}

#[test]
fn a_named_profile_wins_over_the_environment_and_the_environment_over_default() {
    let env = Env::new();
    env.bare().args(["config", "set", "project", "from-default"]).assert().success();
    env.bare().args(["config", "set", "--profile", "ci", "project", "from-ci"]).assert().success();
    let get = |cmd: &mut assert_cmd::Command| {
        String::from_utf8(cmd.args(["config", "get", "project"]).output().unwrap().stdout).unwrap()
    };
    assert_eq!(get(&mut env.bare()), "from-default\n");
    assert_eq!(get(env.bare().env("DD_LLMOBS_PROJECT_NAME", "from-env")), "from-env\n");
    assert_eq!(
        get(env.bare().env("DD_LLMOBS_PROJECT_NAME", "from-env").args(["--profile", "ci"])),
        "from-ci\n"
    );
    assert_eq!(get(env.bare().env("LLMOBS_PROFILE", "ci")), "from-ci\n");
}

#[test]
fn bad_settings_are_usage_errors_that_say_what_to_do() {
    let env = Env::new();
    let out = env.bare().args(["config", "set", "colour", "blue"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(
            "unknown setting 'colour': use one of api_key, app_key, site, origin, project"
        ),
        "{}",
        stderr(&out)
    );
    let out = env.bare().args(["config", "set", "origin", "localhost:1"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("http://"), "{}", stderr(&out));
    assert!(!env.path("config.toml").exists(), "nothing was written");
    let out = env.bare().args(["projects", "list"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no API key: set DD_API_KEY"), "{}", stderr(&out));
    let out = env.cmd().args(["--profile", "nope", "projects", "list"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("profile 'nope' is not in"), "{}", stderr(&out));
    // Unreachable server: exit 1 with a hint.
    let out = env
        .cmd()
        .env("DD_LLMOBS_OVERRIDE_ORIGIN", "http://127.0.0.1:9")
        .args(["projects", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("hint: is the server running?"), "{}", stderr(&out));
}

#[test]
fn completions_and_the_man_page_come_from_the_definitions() {
    let env = Env::new();
    for (shell, marker) in
        [("bash", "_llmobs()"), ("zsh", "#compdef llmobs"), ("fish", "complete -c llmobs")]
    {
        let out = env.bare().args(["completions", shell]).output().unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains(marker), "{shell}: {}", &text[..text.len().min(200)]);
        assert!(text.contains("datasets"), "{shell} completes subcommands");
    }
    let man = String::from_utf8(env.bare().arg("man").output().unwrap().stdout).unwrap();
    assert!(man.starts_with(".ie") || man.contains(".TH llmobs"), "{}", &man[..man.len().min(200)]);
    assert!(man.contains("experiments"));
    env.bare().args(["completions", "tcsh"]).assert().code(2);
}
