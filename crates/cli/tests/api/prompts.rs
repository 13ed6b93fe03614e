//! `llmobs prompts`, and prompts kept as files.

use crate::util::{Env, stderr};

#[test]
fn prompts_are_managed_from_the_shell() {
    let env = Env::new();
    env.ok(&[
        "prompts",
        "create",
        "greeting",
        "--template",
        "Hello {name}",
        "--label",
        "production",
    ]);
    env.ok(&["prompts", "version", "greeting", "--template", "Hi {name}, welcome"]);
    let listed = env.json(&["prompts", "list"]);
    let api = env.api("/api/unstable/llm-obs/v1/prompts");
    assert_eq!(listed, api, "--json prints exactly the API's data");
    assert_eq!(
        env.ok(&["prompts", "render", "greeting", "--label", "production", "--var", "name=Ada"]),
        "Hello Ada\n"
    );
    assert_eq!(
        env.ok(&["prompts", "render", "greeting", "--var", "name=Ada"]),
        "Hi Ada, welcome\n"
    );
    let vars = env.write("vars.json", r#"{"name": "Grace"}"#);
    assert_eq!(
        env.json(&[
            "prompts",
            "render",
            "greeting",
            "--version",
            "1",
            "--vars-file",
            vars.to_str().unwrap()
        ]),
        serde_json::json!("Hello Grace")
    );
    let shown = env.json(&["prompts", "show", "greeting", "--version", "2"]);
    assert_eq!(shown, env.api("/api/unstable/llm-obs/v1/prompts/greeting/versions/2"));
    let diff = env.ok(&["prompts", "diff", "greeting", "1", "2"]);
    assert_eq!(
        diff,
        "--- greeting v1\n+++ greeting v2\n@@ -1 +1 @@\n-Hello {name}\n+Hi {name}, welcome\n"
    );
    let file = env.write("next.txt", "Hi {name}, welcome back");
    let diff = env.ok(&["prompts", "diff", "greeting", "--file", file.to_str().unwrap()]);
    assert!(diff.contains("-Hi {name}, welcome\n+Hi {name}, welcome back\n"), "{diff}");
    env.ok(&["prompts", "label", "greeting", "2", "production"]);
    assert_eq!(
        env.ok(&["prompts", "render", "greeting", "--label", "production", "--var", "name=Ada"]),
        "Hi Ada, welcome\n"
    );
    env.ok(&["prompts", "delete", "greeting", "--yes"]);
    assert_eq!(env.json(&["prompts", "list"]), serde_json::json!([]));
}

#[test]
fn bad_prompt_input_is_refused_and_changes_nothing() {
    let env = Env::new();
    env.ok(&["prompts", "create", "greeting", "--template", "Hello {name}"]);
    let before = env.api("/api/unstable/llm-obs/v1/prompts/greeting/versions");
    env.fails(&["prompts", "version", "greeting"], 2);
    env.fails(&["prompts", "version", "greeting", "--template", "x", "--file", "y"], 2);
    let out = env.fails(&["prompts", "version", "greeting", "--file", "missing.txt"], 2);
    assert!(stderr(&out).contains("cannot read template file missing.txt"), "{}", stderr(&out));
    let bad = env.write("chat.json", r#"{"not": "a list"}"#);
    let out = env.fails(&["prompts", "version", "greeting", "--file", bad.to_str().unwrap()], 2);
    assert!(stderr(&out).contains("is not a chat template"), "{}", stderr(&out));
    let out = env.fails(&["prompts", "render", "greeting", "--var", "name"], 2);
    assert!(stderr(&out).contains("--var takes NAME=VALUE"), "{}", stderr(&out));
    let out = env.fails(&["prompts", "render", "greeting", "--strict"], 2);
    assert!(stderr(&out).contains("name"), "{}", stderr(&out));
    let out = env.fails(&["prompts", "show", "greeting", "--version", "7"], 1);
    assert!(stderr(&out).contains("has no version 7"), "{}", stderr(&out));
    let out = env.fails(&["prompts", "show", "nope"], 1);
    assert!(stderr(&out).contains("no prompt 'nope'"), "{}", stderr(&out));
    env.fails(&["prompts", "create", "greeting", "--template", "again"], 1);
    env.fails(&["prompts", "delete", "greeting"], 2);
    assert_eq!(env.api("/api/unstable/llm-obs/v1/prompts/greeting/versions"), before);
}

#[test]
fn prompts_round_trip_through_files_one_new_version_for_one_edit() {
    let env = Env::new();
    env.ok(&["prompts", "create", "greeting", "--template", "Hello {name}"]);
    env.ok(&["prompts", "create", "farewell", "--template", "Bye {name}"]);
    let chat = env.write("chat.json", r#"[{"role": "system", "content": "Be {tone}"}, {"role": "user", "content": "{question}"}]"#);
    env.ok(&["prompts", "create", "assistant", "--file", chat.to_str().unwrap()]);
    env.ok(&["prompts", "pull", "prompts"]);
    let dir = env.path("prompts");
    let greeting = std::fs::read_to_string(dir.join("greeting.toml")).unwrap();
    assert_eq!(
        greeting,
        "prompt_id = \"greeting\"\nversion = 1\nlabels = []\nvariables = [\"name\"]\ntemplate = \"Hello {name}\"\n"
    );
    let assistant = std::fs::read_to_string(dir.join("assistant.toml")).unwrap();
    assert!(
        assistant.contains("role = \"system\"")
            && assistant.contains("variables = [\"tone\", \"question\"]"),
        "{assistant}"
    );
    let lock = std::fs::read_to_string(dir.join("prompts.lock")).unwrap();
    assert!(lock.contains("[prompts.greeting]\nversion = 1\n"), "{lock}");
    // Nothing changed: diff and push do nothing.
    let plan = env.json(&["prompts", "diff", "prompts"]);
    assert!(plan.as_array().unwrap().iter().all(|s| s["action"] == "unchanged"), "{plan}");
    // Edit one file.
    std::fs::write(dir.join("greeting.toml"), greeting.replace("Hello {name}", "Hello {name}!"))
        .unwrap();
    let plan = env.ok(&["prompts", "diff", "prompts"]);
    assert!(plan.contains("greeting   version    v1"), "{plan}");
    assert!(plan.contains("-Hello {name}\n+Hello {name}!\n"), "{plan}");
    let pushed = env.json(&["prompts", "push", "prompts", "--label", "production"]);
    let actions: Vec<(String, String)> = pushed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (s["prompt_id"].as_str().unwrap().to_owned(), s["action"].as_str().unwrap().to_owned())
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("assistant".into(), "unchanged".into()),
            ("farewell".into(), "unchanged".into()),
            ("greeting".into(), "version".into())
        ]
    );
    let versions = |id: &str| {
        env.api(&format!("/api/unstable/llm-obs/v1/prompts/{id}/versions"))
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!((versions("greeting"), versions("farewell"), versions("assistant")), (2, 1, 1));
    let v2 = env.api("/api/unstable/llm-obs/v1/prompts/greeting/versions/2");
    assert_eq!(v2["template"], "Hello {name}!");
    assert_eq!(v2["labels"], serde_json::json!(["production"]));
    // Pushing again does nothing; pulling again pins version 2 and leaves the text.
    let again = env.json(&["prompts", "push", "prompts"]);
    assert!(again.as_array().unwrap().iter().all(|s| s["action"] == "unchanged"), "{again}");
    assert_eq!(versions("greeting"), 2);
    env.ok(&["prompts", "pull", "prompts"]);
    let lock = std::fs::read_to_string(dir.join("prompts.lock")).unwrap();
    assert!(lock.contains("[prompts.greeting]\nversion = 2\n"), "{lock}");
    assert!(
        std::fs::read_to_string(dir.join("greeting.toml"))
            .unwrap()
            .contains("template = \"Hello {name}!\"")
    );
    // A local edit is not overwritten by a pull.
    std::fs::write(
        dir.join("farewell.toml"),
        std::fs::read_to_string(dir.join("farewell.toml")).unwrap().replace("Bye", "Ciao"),
    )
    .unwrap();
    let out = env.fails(&["prompts", "pull", "prompts"], 1);
    assert!(stderr(&out).contains("farewell.toml"), "{}", stderr(&out));
    assert!(std::fs::read_to_string(dir.join("farewell.toml")).unwrap().contains("Ciao"));
}

#[test]
fn the_sdk_falls_back_to_the_pulled_files_when_the_registry_is_down() {
    let env = Env::new();
    env.ok(&["prompts", "create", "greeting", "--template", "Hello {name}"]);
    env.ok(&["prompts", "pull", "prompts"]);
    let client = llmobs::Client::builder()
        .api_key("k")
        .origin("http://127.0.0.1:9")
        .cache_ttl(std::time::Duration::ZERO)
        .timeout(std::time::Duration::from_secs(2))
        .prompt_dir(env.path("prompts"))
        .build()
        .unwrap();
    let prompt = crate::util::runtime().block_on(client.get_prompt("greeting")).unwrap();
    assert_eq!(prompt.source(), llmobs::Source::Fallback);
    assert_eq!(prompt.version(), "1");
    assert_eq!(prompt.format([("name", "Ada")]).unwrap().to_string(), "Hello Ada");
}

#[test]
fn a_broken_prompt_directory_is_refused_by_name() {
    let env = Env::new();
    std::fs::create_dir(env.path("prompts")).unwrap();
    env.write("prompts/bad.toml", "prompt_id = \"x\"\n");
    let out = env.fails(&["prompts", "push", "prompts"], 2);
    assert!(stderr(&out).contains("bad.toml is not a prompt file"), "{}", stderr(&out));
    let out = env.fails(&["prompts", "push", "nowhere"], 2);
    assert!(stderr(&out).contains("nowhere is not a directory"), "{}", stderr(&out));
    assert_eq!(env.api("/api/unstable/llm-obs/v1/prompts"), serde_json::json!([]));
}
