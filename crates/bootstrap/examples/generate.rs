//! Renders an experiment for a small JSON dataset and prints the file and its summary,
//! without writing anything.
//!
//! ```text
//! cargo run -p llmobs-bootstrap --example generate -- [py|ipynb] [function|class|remote]
//! ```

use std::error::Error;

use llmobs_bootstrap::{Options, Plan, SyntaxCheck, render, summary};

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let format = args.next().unwrap_or_else(|| "py".into()).parse()?;
    let evaluator_style = args.next().unwrap_or_else(|| "function".into()).parse()?;

    let dir = std::env::temp_dir().join(format!("llmobs-bootstrap-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(
        dir.join("tickets.json"),
        r#"[
  {"input_data": {"ticket": "Refund for order 1182, mail me at ana@example.com"},
   "expected_output": {"intent": "refund", "order": 1182}, "tags": ["billing"]},
  {"input_data": {"ticket": "How do I reset my password?"},
   "expected_output": {"intent": "account"}, "metadata": {"channel": "chat"}}
]"#,
    )?;
    let options = Options {
        format,
        evaluator_style,
        dataset: Some("tickets.json".into()),
        project_name: Some("support-triage".into()),
        ..Options::default()
    };
    let plan = Plan::build(&options, &dir);
    std::fs::remove_dir_all(&dir)?;
    let plan = plan?;
    let rendered = render(&plan)?;
    println!("{}", rendered.text);
    print!("{}", summary(&plan, &rendered, &SyntaxCheck::Skipped));
    Ok(())
}
