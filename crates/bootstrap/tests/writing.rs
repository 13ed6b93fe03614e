//! Acceptance cases 1, 4 and 5 through the library: what is written, where, and when an
//! existing file is replaced.

use llmobs_bootstrap::{Error, Format, Options, Settings, generate, write_output};

use crate::util::Dir;

fn settings(force: bool) -> Settings {
    Settings { force, ..Settings::default() }
}

#[test]
fn only_the_output_file_is_created() {
    let dir = Dir::named("acme-bot");
    let generated = generate(&Options::default(), &dir.cwd, &settings(false)).unwrap();
    assert_eq!(dir.listing(), ["experiments", "experiments/experiment.py"]);
    let written = std::fs::read_to_string(dir.cwd.join("experiments/experiment.py")).unwrap();
    assert_eq!(written, generated.rendered.text);
    assert_eq!(written, include_str!("fixtures/reference.py"));
    assert_eq!(generated.summary, include_str!("fixtures/summary.txt"));
}

#[test]
fn output_paths_get_the_format_extension() {
    let dir = Dir::named("acme-bot");
    let options = Options { output: Some("out/exp".into()), ..Options::default() };
    let generated = generate(&options, &dir.cwd, &settings(false)).unwrap();
    assert_eq!(dir.listing(), ["out", "out/exp.py"]);
    assert!(generated.summary.contains("\nPath: out/exp.py\n"));
    assert!(generated.summary.contains("\nRun:\n  python out/exp.py\n"));

    let options =
        Options { format: Format::Ipynb, output: Some("x.py".into()), ..Options::default() };
    let error = generate(&options, &dir.cwd, &settings(false)).unwrap_err();
    assert_eq!(error.exit_code(), 2);
    assert!(error.to_string().contains("--format"), "{error}");

    let options =
        Options { format: Format::Ipynb, output: Some("my nb".into()), ..Options::default() };
    let generated = generate(&options, &dir.cwd, &settings(false)).unwrap();
    assert!(generated.summary.contains("\nRun:\n  jupyter notebook 'my nb.ipynb'\n"));
    assert!(generated.summary.contains("\nPath: my nb.ipynb\nCells: 16\n"));
}

#[test]
fn an_existing_file_is_replaced_only_with_force() {
    let dir = Dir::named("acme-bot");
    generate(&Options::default(), &dir.cwd, &settings(false)).unwrap();
    let path = dir.cwd.join("experiments/experiment.py");
    std::fs::write(&path, "edited by the user\n").unwrap();
    let error = generate(&Options::default(), &dir.cwd, &settings(false)).unwrap_err();
    assert!(matches!(error, Error::OutputExists { .. }));
    assert_eq!(error.exit_code(), 1);
    assert_eq!(
        error.to_string(),
        "\"experiments/experiment.py\" exists; pass --force to replace it"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "edited by the user\n");

    let again = generate(&Options::default(), &dir.cwd, &settings(true)).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), again.rendered.text);
    assert_eq!(
        dir.listing(),
        ["experiments", "experiments/experiment.py"],
        "no temporary file left"
    );

    let options = Options { output: Some("experiments/".into()), ..Options::default() };
    let error = generate(&options, &dir.cwd, &settings(true)).unwrap_err();
    assert!(matches!(error, Error::OutputIsDirectory { .. }), "{error:?}");
    let options = Options { output: Some("experiments".into()), ..Options::default() };
    assert!(matches!(
        generate(&options, &dir.cwd, &settings(true)).unwrap_err(),
        Error::OutputIsDirectory { .. }
    ));
}

#[test]
fn write_errors_carry_the_path() {
    let dir = Dir::named("w");
    dir.write("blocker", "a file where a directory should be");
    let target = dir.cwd.join("blocker/sub/exp.py");
    let error = write_output(&target, "x\n", false).unwrap_err();
    assert!(matches!(&error, Error::Io { path, .. } if path.ends_with("blocker/sub")), "{error:?}");
    assert!(error.to_string().contains("blocker/sub"), "{error}");
}
