//! The summary printed on success (spec §14, D26), pointing at a local server when
//! `DD_LLMOBS_OVERRIDE_ORIGIN` was set while generating (`docs/decisions.md`).

use std::fmt::Write as _;

use crate::plan::{Format, Plan};
use crate::render::Rendered;
use crate::syntax::SyntaxCheck;

/// Quotes a path for a POSIX shell when it holds anything outside `[A-Za-z0-9_./-]`.
pub fn shell_quote(path: &str) -> String {
    let plain =
        !path.is_empty() && path.chars().all(|c| c.is_ascii_alphanumeric() || "_./-".contains(c));
    if plain { path.to_owned() } else { format!("'{}'", path.replace('\'', r"'\''")) }
}

/// The summary text, ending in a newline. `warnings` are the plan's warnings followed by
/// the renderer's.
pub fn summary(plan: &Plan, rendered: &Rendered, syntax: &SyntaxCheck) -> String {
    let path = &plan.output.display;
    let (unit, size) = match rendered.format {
        Format::Py => ("line", format!("Lines: {}", rendered.lines)),
        Format::Ipynb => ("cell", format!("Cells: {}", rendered.cells)),
    };
    let refs = rendered.references;
    let mut out = String::new();
    let _ = writeln!(out, "Generated SDK experiment: {}", rendered.format);
    let _ = writeln!(out, "Path: {path}");
    let _ = writeln!(out, "{size}");
    out.push_str("\nSDK calls used:\n");
    let _ = writeln!(out, "  ✓ LLMObs.enable(...) ({unit} ~{})", refs.enable);
    let _ = writeln!(out, "  ✓ LLMObs.{}(...) ({unit} ~{})", rendered.dataset_call, refs.dataset);
    let _ = writeln!(out, "  ✓ task_fn(input_data, config) ({unit} ~{})", refs.task);
    let _ = writeln!(out, "  ✓ {} evaluators (style: {})", rendered.evaluator_count, plan.style);
    let _ =
        writeln!(out, "  ✓ LLMObs.experiment(...).run(jobs={}) ({unit} ~{})", plan.jobs, refs.run);
    out.push_str(
        "  ✓ Provenance (in config + tags): generated_by=claude-code, \
         skill=llm-obs-experiment-py-bootstrap\n",
    );
    let _ = writeln!(out, "\nSyntax check: {}", syntax.describe());
    out.push_str("\nInstall:\n  pip install \"ddtrace>=4.7\" python-dotenv openai\n");
    out.push_str(
        "\nEnvironment variables (required at runtime):\n  export DD_API_KEY=...\n  \
         export DD_APPLICATION_KEY=...   # or DD_APP_KEY\n",
    );
    match &plan.origin {
        None => out.push_str("  export DD_SITE=datadoghq.com\n"),
        Some(origin) => {
            // A URL's `:` needs no quoting in a shell word.
            let word = if origin.chars().all(|c| c.is_ascii_alphanumeric() || "_./:-".contains(c)) {
                origin.clone()
            } else {
                shell_quote(origin)
            };
            let _ = writeln!(out, "  export DD_LLMOBS_OVERRIDE_ORIGIN={word}");
            out.push_str(
                "  export DD_LLMOBS_AGENTLESS_ENABLED=1\n  \
                 export DD_TRACE_ENABLED=false   # no Datadog Agent to send APM traces to\n",
            );
        }
    }
    out.push_str("  export OPENAI_API_KEY=...       # only if you keep the placeholder task\n");
    let run = match rendered.format {
        Format::Py => format!("python {}", shell_quote(path)),
        Format::Ipynb => format!("jupyter notebook {}", shell_quote(path)),
    };
    let _ = writeln!(out, "\nRun:\n  {run}");
    let warnings: Vec<&String> = plan.warnings.iter().chain(&rendered.warnings).collect();
    if !warnings.is_empty() {
        out.push_str("\nWarnings:\n");
        for warning in warnings {
            let _ = writeln!(out, "  - {warning}");
        }
    }
    out.push_str(
        "\nNext steps:\n  1. Replace the placeholder task_fn with your actual LLM call.\n  \
         2. Adjust the evaluators (or wire up RemoteEvaluator names you created in the Datadog UI).\n",
    );
    out.push_str(match rendered.format {
        Format::Py => "  3. Run it. The script prints experiment.url at the end.\n",
        Format::Ipynb => "  3. Run all cells. The notebook prints experiment.url at the end.\n",
    });
    match &plan.origin {
        None => {
            out.push_str("  4. Watch the experiment: https://app.datadoghq.com/llm/experiments\n")
        }
        Some(origin) => {
            let _ = writeln!(
                out,
                "  4. Watch the experiment: {origin}/llm/experiments/<id> \
                 (<id> ends the printed experiment.url)"
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_quoted_only_when_needed() {
        assert_eq!(shell_quote("experiments/experiment.py"), "experiments/experiment.py");
        assert_eq!(shell_quote("my dir/it's.py"), r"'my dir/it'\''s.py'");
        assert_eq!(shell_quote("ü.py"), "'ü.py'");
    }
}
