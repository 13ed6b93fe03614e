//! Acceptance cases 11 to 14: project-name resolution from the working directory.

use llmobs_bootstrap::{Options, ProjectSource};

use crate::util::Dir;

fn resolve(dir: &Dir) -> (String, ProjectSource, Vec<String>) {
    let plan = dir.plan(&Options::default()).unwrap();
    (plan.project_name, plan.project_source, plan.warnings)
}

#[test]
fn sources_are_tried_in_order() {
    let dir = Dir::named("Dir Name");
    dir.write("pyproject.toml", "[project]\nname = \"pep\"\n\n[tool.poetry]\nname = \"poet\"\n");
    dir.write("setup.cfg", "[metadata]\nname = cfg-app\n");
    dir.write("setup.py", "from setuptools import setup\nsetup(name=\"sp-app\")\n");
    dir.write("package.json", "{\"name\": \"js-app\", \"version\": \"1.0.0\"}");
    assert_eq!(resolve(&dir).0, "experiment-pep");
    dir.write("pyproject.toml", "[tool.poetry]\nname = \"poet\"\n");
    assert_eq!(resolve(&dir).0, "experiment-poet");
    let steps = [
        ("pyproject.toml", "experiment-cfg-app", ProjectSource::SetupCfg),
        ("setup.cfg", "experiment-sp-app", ProjectSource::SetupPy),
        ("setup.py", "experiment-js-app", ProjectSource::PackageJson),
        ("package.json", "experiment-dir-name", ProjectSource::Directory),
    ];
    for (remove, name, source) in steps {
        std::fs::remove_file(dir.cwd.join(remove)).unwrap();
        let (got, got_source, warnings) = resolve(&dir);
        assert_eq!((got.as_str(), got_source), (name, source));
        assert!(warnings.is_empty(), "{warnings:?}");
    }
}

#[test]
fn slugs_and_prefixes_apply_to_every_source() {
    for (cwd, expected) in [
        ("experiment-foo", "experiment-foo"),
        ("experimental-thing", "experiment-experimental-thing"),
        ("experiment", "experiment-experiment"),
        ("My Project (v2)", "experiment-my-project-v2"),
    ] {
        assert_eq!(resolve(&Dir::named(cwd)).0, expected, "{cwd}");
    }
    let dir = Dir::named("x");
    dir.write("pyproject.toml", "[project]\nname = \"My_LLM.App\"\n");
    assert_eq!(resolve(&dir).0, "experiment-my-llm-app");
    let dir = Dir::named("x");
    dir.write("package.json", "{\"name\": \"@acme/chat-bot\"}");
    assert_eq!(resolve(&dir).0, "experiment-acme-chat-bot");
    // A name that slugs to nothing moves on to the next source.
    let dir = Dir::named("next");
    dir.write("pyproject.toml", "[project]\nname = \"日本語\"\n");
    assert_eq!(resolve(&dir).0, "experiment-next");
}

#[test]
fn setup_py_is_read_without_running_it() {
    let dir = Dir::named("fallthrough");
    dir.write(
        "setup.py",
        "# name=\"fake\"\nimport setuptools\next = Extension(name=\"ext\")\n\
         setuptools.setup(\n    name = 'real',\n)\n",
    );
    assert_eq!(resolve(&dir).0, "experiment-real");
    dir.write("setup.py", "NAME = 'x'\nsetup(name=NAME)\n");
    dir.write("package.json", "{\"name\": \"js\"}");
    assert_eq!(resolve(&dir).0, "experiment-js");
}

#[test]
fn fallback_and_unparseable_files_warn() {
    let dir = Dir::named("___");
    let (name, source, warnings) = resolve(&dir);
    assert_eq!((name.as_str(), source), ("experiment-sdk-default", ProjectSource::Fallback));
    assert_eq!(
        warnings,
        ["No project name found; using experiment-sdk-default. Pass --project-name to choose one."]
    );
    let rendered = llmobs_bootstrap::render(&dir.plan(&Options::default()).unwrap()).unwrap();
    assert!(rendered.text.contains("\nPROJECT_NAME = \"experiment-sdk-default\"\n"));

    let dir = Dir::named("broken");
    dir.write("pyproject.toml", "[project\nname = \"x\"\n");
    dir.write("setup.cfg", "[metadata]\nname = cfg-app\n");
    let (name, _, warnings) = resolve(&dir);
    assert_eq!(name, "experiment-cfg-app");
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0].starts_with("Could not parse pyproject.toml (invalid TOML at line 1")
            && warnings[0].ends_with("); skipped it."),
        "{warnings:?}"
    );
}

#[test]
fn an_explicit_name_is_used_verbatim() {
    let dir = Dir::named("ignored");
    dir.write("pyproject.toml", "[project]\nname = \"pep\"\n");
    let options = Options { project_name: Some("My Team / QA".into()), ..Options::default() };
    let plan = dir.plan(&options).unwrap();
    assert_eq!(
        (plan.project_name.as_str(), plan.project_source),
        ("My Team / QA", ProjectSource::Flag)
    );
}
