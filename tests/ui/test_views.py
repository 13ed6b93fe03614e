"""The experiment page's filters, a record's trace, the compare page and the traces search
in a real Chromium, on data the real ddtrace client made: two experiments on one dataset
whose tasks open a workflow, an LLM and a tool span per record.

Clicks: ``/`` -> the experiment -> filter by an evaluation -> a record's trace; the
experiments list -> tick two -> compare -> the regressed filter; the traces search -> a
trace page. Each asserts what is shown, no failed request and no console error."""

from __future__ import annotations

import pytest

from harness import run_llmobs, unique

RECORDS = [
    {"input_data": {"country": "France"}, "expected_output": "Paris"},
    {"input_data": {"country": "Spain"}, "expected_output": "Madrid"},
    {"input_data": {"country": "Italy"}, "expected_output": "Rome"},
    {"input_data": {"country": "<b>Peru</b>"}, "expected_output": "Lima"},
]
# The baseline gets France, Spain and Peru right; the candidate France, Italy and Peru:
# Spain regresses, Italy improves.
BASELINE = {"France": "Paris", "Spain": "Madrid", "Italy": "Milan", "<b>Peru</b>": "Lima"}
CANDIDATE = {"France": "Paris", "Spain": "Barcelona", "Italy": "Rome", "<b>Peru</b>": "Lima"}

SCENARIO = r'''
from ddtrace.llmobs import EvaluatorResult
enable()
A = ARGS
ds = call("dataset", lambda: LLMObs.create_dataset(dataset_name=A["dataset"], records=A["records"]))
def task_for(answers):
    def capital(input_data, config):
        country = input_data["country"]
        with LLMObs.workflow(name="plan"):
            with LLMObs.llm(model_name="stub-model", model_provider="stub", name="ask_model") as llm:
                LLMObs.annotate(span=llm, input_data=[{"role": "user", "content": "Capital of " + country + "?"}],
                                output_data=[{"role": "assistant", "content": "let me look it up"}])
            with LLMObs.tool(name="lookup_capital") as tool:
                answer = answers.get(country, "?")
                LLMObs.annotate(span=tool, input_data=country, output_data=answer)
        return answer
    return capital
def exact(input_data, output_data, expected_output):
    same = output_data == expected_output
    return EvaluatorResult(value=same, reasoning=("matches " if same else "differs from ") + expected_output)
def length(input_data, output_data, expected_output):
    return len(output_data) / 10
for key in ("baseline", "candidate"):
    answers = A["answers"][key]
    exp = call("construct " + key, lambda: LLMObs.experiment(name=A[key], task=task_for(answers), dataset=ds,
                                                             evaluators=[exact, length]))
    call("run " + key, lambda: exp.run(jobs=1))
    R[key] = exp._id
call("flush", LLMObs.flush)
'''


@pytest.fixture(scope="module")
def runs(server):
    names = {"project": unique("ui-proj"), "dataset": unique("ui-ds"),
             "baseline": unique("ui-base"), "candidate": unique("ui-cand")}
    answers = {"baseline": BASELINE, "candidate": CANDIDATE}
    run = run_llmobs(server, SCENARIO, args={**names, "records": RECORDS, "answers": answers})
    for step in ("run baseline", "run candidate", "flush"):
        run.ok(step)
    return {**names, "baseline_id": run.values["baseline"], "candidate_id": run.values["candidate"]}


def test_filter_an_experiment_by_evaluation_then_open_a_records_trace(page, server, runs):
    p = page.page
    p.goto(server.root + "/")
    p.locator("tr", has_text=runs["project"]).get_by_role("link", name=runs["project"]).click()
    p.get_by_role("link", name=runs["baseline"]).click()
    p.wait_for_url(f"**/llm/experiments/{runs['baseline_id']}")
    facet = p.locator('.facet[data-facet="exact"]')
    assert facet.locator("a", has_text="true").locator(".count").inner_text() == "3"
    assert facet.locator("a", has_text="false").locator(".count").inner_text() == "1"
    facet.locator("a", has_text="false").click()
    p.wait_for_url("**value=false*")
    assert "Records where exact is false" in p.inner_text(".active-filter")
    rows = p.locator("tr.record")
    assert rows.count() == 1
    assert "Italy" in rows.first.inner_text() and "Milan" in rows.first.inner_text()
    # The evaluation's reasoning opens on a click.
    reasoning = rows.first.locator("details.eval .reasoning")
    assert not reasoning.is_visible()
    rows.first.locator("details.eval summary").first.click()
    assert reasoning.inner_text() == "differs from Rome"
    page.shot("20-experiment-filtered")
    # The score range form: lengths 0.5 (Paris), 0.6 (Madrid), 0.5 (Milan), 0.4 (Lima).
    p.goto(server.root + f"/llm/experiments/{runs['baseline_id']}")
    p.select_option("select[name=eval]", "length")
    p.fill("input[name=min]", "0.5")
    p.get_by_role("button", name="Filter").click()
    p.wait_for_url("**min=0.5*")
    assert p.locator("tr.record").count() == 3
    # A record's trace: the record span with its workflow, LLM and tool spans as a tree.
    p.locator("tr.record", has_text="Madrid").get_by_role("link", name="trace").click()
    p.wait_for_url("**/llm/traces/**")
    spans = p.locator("tr.span")
    assert spans.count() == 4
    depths = [spans.nth(i).get_attribute("data-depth") for i in range(4)]
    kinds = [spans.nth(i).locator(".kind").inner_text() for i in range(4)]
    assert depths == ["0", "1", "2", "2"] and kinds == ["experiment", "workflow", "llm", "tool"], (depths, kinds)
    assert "marked" in spans.nth(0).get_attribute("class")
    tool = spans.nth(3)
    tool.locator("summary").first.click()
    assert tool.locator(".io pre").nth(1).inner_text() == "Madrid"
    assert "Capital of Spain?" in spans.nth(2).locator(".io pre").first.text_content()
    page.shot("21-trace")
    page.assert_clean()


def test_compare_two_experiments_and_show_the_regressions(page, server, runs):
    p = page.page
    p.goto(server.root + f"/llm/experiments/{runs['baseline_id']}")
    p.get_by_role("link", name="compare with…").click()
    p.wait_for_url("**/llm/experiments?compare_with=*")
    # Its dataset's experiments, it ticked: tick the other one too.
    assert p.get_by_role("checkbox", name=f"compare {runs['baseline']}").is_checked()
    assert p.get_by_role("checkbox").count() == 2
    p.get_by_role("checkbox", name=f"compare {runs['candidate']}").check()
    page.shot("22-pick")
    p.get_by_role("button", name="Compare selected").click()
    p.wait_for_url("**/llm/experiments/compare?**")
    heads = p.locator("table.compare th[data-experiment]")
    # The oldest is the baseline.
    assert [heads.nth(i).get_attribute("data-experiment") for i in range(2)] == [
        runs["baseline_id"], runs["candidate_id"]]
    exact = p.locator('table.compare tr[data-label="exact"]')
    assert [exact.locator(".value").nth(i).inner_text() for i in range(2)] == ["75.0%", "75.0%"]
    assert exact.locator(".delta").inner_text() == "±0.0 pp"
    # Lengths: Paris Madrid Milan Lima (mean 0.5) against Paris Barcelona Rome Lima (0.55).
    length = p.locator('table.compare tr[data-label="length"]')
    assert [length.locator(".value").nth(i).inner_text() for i in range(2)] == ["0.5", "0.55"]
    assert length.locator(".delta").inner_text() == "+0.05"
    assert p.locator("svg.chart").count() == 2
    assert p.locator("svg.chart g[data-bar]").count() == 4
    page.shot("23-compare")
    assert p.locator("tr.joined-record").count() == 4
    p.select_option("select[name=eval]", "exact")
    p.select_option("select[name=change]", "regressed")
    p.get_by_role("button", name="Filter").click()
    p.wait_for_url("**change=regressed*")
    rows = p.locator("tr.joined-record")
    assert rows.count() == 1
    assert "Spain" in rows.first.inner_text() and "Barcelona" in rows.first.inner_text()
    # Spain's exact went from true to false; its length went up (Madrid to Barcelona).
    assert rows.first.locator(".eval.regressed").inner_text().startswith("exact: false")
    assert rows.first.locator(".eval.improved").inner_text().startswith("length: 0.9")
    page.shot("24-compare-regressed")
    p.select_option("select[name=change]", "improved")
    p.get_by_role("button", name="Filter").click()
    p.wait_for_url("**change=improved*")
    assert p.locator("tr.joined-record").count() == 1
    assert "Italy" in p.locator("tr.joined-record").first.inner_text()
    page.assert_clean()


def test_search_traces_then_open_one(page, server, runs):
    p = page.page
    p.goto(server.root + "/llm/traces")
    p.fill("input[name=kind]", "tool")
    p.fill("input[name=query]", "Barcelona")
    p.get_by_role("button", name="Filter").click()
    p.wait_for_url("**kind=tool*")
    rows = p.locator("table tr").filter(has=p.locator("td"))
    assert rows.count() == 1
    page.shot("25-traces-search")
    rows.first.get_by_role("link", name="lookup_capital").click()
    p.wait_for_url("**/llm/traces/**")
    assert p.locator("tr.span").count() == 4
    assert p.locator("tr.span.marked .span-name").inner_text() == "lookup_capital"
    assert p.locator("tr.span.marked details").first.get_attribute("open") is not None
    page.assert_clean()
