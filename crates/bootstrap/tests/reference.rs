//! The default invocation against the normative listing of spec §10.10 and the golden
//! summary of §14.

use llmobs_bootstrap::{Options, SyntaxCheck, summary};

use crate::util::Dir;

const REFERENCE: &str = include_str!("fixtures/reference.py");

#[test]
fn default_invocation_matches_the_reference_listing() {
    let dir = Dir::named("acme-bot");
    let (plan, rendered) = dir.render(&Options::default()).unwrap();
    if rendered.text != REFERENCE {
        for (i, (a, b)) in rendered.text.lines().zip(REFERENCE.lines()).enumerate() {
            assert_eq!(a, b, "first difference on line {}", i + 1);
        }
    }
    assert_eq!(rendered.text, REFERENCE);
    assert_eq!(plan.project_name, "experiment-acme-bot");
    assert_eq!(rendered.lines, 193);
    let refs = rendered.references;
    assert_eq!((refs.enable, refs.dataset, refs.task, refs.run), (42, 52, 78, 167));
}

#[test]
fn default_summary_matches_the_golden_summary() {
    let dir = Dir::named("acme-bot");
    let (plan, rendered) = dir.render(&Options::default()).unwrap();
    assert_eq!(summary(&plan, &rendered, &SyntaxCheck::Pass), include_str!("fixtures/summary.txt"));
}
