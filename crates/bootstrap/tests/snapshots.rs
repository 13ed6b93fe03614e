//! The full matrix: 3 evaluator styles × 2 formats × 5 dataset sources (sample, JSON,
//! structured JSON, CSV, pulled), each snapshotted as the printed summary followed by
//! the exact file. The CSV's absolute path is replaced by `/home/alice/project/data/qa.csv`
//! so the snapshots hold no machine path.
//!
//! Set `LLMOBS_BOOTSTRAP_DUMP=<dir>` to also write the 30 files there for a manual look
//! (for example with pyflakes or nbformat).

use llmobs_bootstrap::{EvaluatorStyle, Format, Options, SyntaxCheck, summary};

use crate::util::Dir;

const SOURCES: [&str; 5] = ["sample", "json", "structured", "csv", "pull"];
const STYLES: [EvaluatorStyle; 3] =
    [EvaluatorStyle::Function, EvaluatorStyle::Class, EvaluatorStyle::Remote];
const FORMATS: [Format; 2] = [Format::Py, Format::Ipynb];

/// Renders one combination; returns the file text and the snapshot text.
pub fn matrix_case(source: &str, style: EvaluatorStyle, format: Format) -> (String, String) {
    let dir = Dir::named("acme-bot");
    dir.write("qa.json", include_str!("fixtures/qa.json"));
    dir.write("tickets.json", include_str!("fixtures/tickets.json"));
    dir.write("data/qa.csv", include_str!("fixtures/qa.csv"));
    let mut options = Options { format, evaluator_style: style, ..Options::default() };
    match source {
        "sample" => {}
        "json" => options.dataset = Some("qa.json".into()),
        "structured" => options.dataset = Some("tickets.json".into()),
        "csv" => options.dataset = Some("data/qa.csv".into()),
        "pull" => options.dataset_name = Some("Q&A set ü".into()),
        other => panic!("unknown source {other}"),
    }
    let (plan, rendered) = dir.render(&options).unwrap();
    let summary = summary(&plan, &rendered, &SyntaxCheck::Pass);
    let cwd = std::fs::canonicalize(&dir.cwd).unwrap().to_string_lossy().into_owned();
    let anonymise = |text: &str| text.replace(&cwd, "/home/alice/project");
    let text = anonymise(&rendered.text);
    let snapshot =
        format!("{}\n──────── {} ────────\n{}", anonymise(&summary), plan.output.display, text);
    (text, snapshot)
}

fn style_name(style: EvaluatorStyle) -> &'static str {
    style.as_str()
}

#[test]
fn every_flag_combination_matches_its_snapshot() {
    let dump = std::env::var_os("LLMOBS_BOOTSTRAP_DUMP").map(std::path::PathBuf::from);
    for source in SOURCES {
        for style in STYLES {
            for format in FORMATS {
                let (text, snapshot) = matrix_case(source, style, format);
                let name = format!("{source}_{}_{format}", style_name(style));
                if let Some(dump) = &dump {
                    std::fs::create_dir_all(dump).unwrap();
                    std::fs::write(dump.join(format!("{name}.{format}")), &text).unwrap();
                }
                insta::assert_snapshot!(name, snapshot);
            }
        }
    }
}
