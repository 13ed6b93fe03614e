//! `llmobs projects`.

use crate::util::{Env, masked, stderr};

#[test]
fn projects_are_created_listed_as_the_api_lists_them_and_deleted() {
    let env = Env::new();
    let created = env.json(&["projects", "create", "search", "--description", "the search team"]);
    assert_eq!(created["attributes"]["name"], "search");
    env.ok(&["projects", "create", "chat"]);
    let listed = env.json(&["projects", "list"]);
    let api = env.api("/api/v2/llm-obs/v1/projects");
    assert_eq!(listed, api["data"], "--json prints exactly the API's data");
    let table = env.ok(&["projects", "list"]);
    assert_eq!(
        masked(&table),
        "ID                                    NAME    DESCRIPTION      CREATED\n\
         xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx  search  the search team  0000-00-00T00:00:00.000000Z\n\
         xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx  chat                     0000-00-00T00:00:00.000000Z\n"
    );
    // A narrow terminal cuts the widest column.
    let narrow = env.cmd().env("COLUMNS", "60").args(["projects", "list"]).output().unwrap();
    let narrow = String::from_utf8(narrow.stdout).unwrap();
    assert!(narrow.lines().all(|l| l.chars().count() <= 60), "{narrow}");
    assert!(narrow.contains('…'));
    let lines = env.ok(&["--jsonl", "projects", "list"]);
    assert_eq!(lines.lines().count(), 2);
    env.ok(&["projects", "delete", "chat", "--yes"]);
    let names: Vec<String> = env
        .json(&["projects", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["attributes"]["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["search"]);
}

#[test]
fn bad_project_input_changes_nothing() {
    let env = Env::new();
    env.ok(&["projects", "create", "keep"]);
    let before = env.api("/api/v2/llm-obs/v1/projects");
    let out = env.fails(&["projects", "delete", "keep", "missing", "--yes"], 1);
    assert!(stderr(&out).contains("no project named or with id 'missing'"), "{}", stderr(&out));
    // Deleting needs confirmation; without a terminal, --yes.
    let out = env.fails(&["projects", "delete", "keep"], 2);
    assert!(stderr(&out).contains("add --yes"), "{}", stderr(&out));
    let out = env.fails(&["projects", "create", " "], 2);
    assert!(stderr(&out).contains("non-empty name"), "{}", stderr(&out));
    env.fails(&["projects", "frobnicate"], 2);
    assert_eq!(env.api("/api/v2/llm-obs/v1/projects"), before);
}
