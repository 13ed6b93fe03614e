"""The web UI in a real Chromium: data made by the real ddtrace client, then clicked through
from ``/`` to the experiment, whose summary must show the numbers the evaluators imply."""

from __future__ import annotations

import pytest

from harness import run_llmobs, unique

# Four records; the task gets two right. `exact` is boolean, `length` a score.
RECORDS = [
    {"input_data": {"country": "France"}, "expected_output": "Paris"},
    {"input_data": {"country": "Spain"}, "expected_output": "Madrid"},
    {"input_data": {"country": "Italy"}, "expected_output": "Rome"},
    {"input_data": {"country": "<script>alert(1)</script>"}, "expected_output": "none"},
]
ANSWERS = {"France": "Paris", "Spain": "Madrid", "Italy": "Milan"}

SCENARIO = r'''
enable()
A = ARGS
ds = call("dataset", lambda: LLMObs.create_dataset(dataset_name=A["dataset"], records=A["records"]))
def capital(input_data, config):
    return A["answers"].get(input_data["country"], "?")
def exact(input_data, output_data, expected_output):
    return output_data == expected_output
def length(input_data, output_data, expected_output):
    return len(output_data) / 10
exp = call("construct", lambda: LLMObs.experiment(name=A["experiment"], task=capital, dataset=ds,
                                                   evaluators=[exact, length]))
call("run", lambda: exp.run(jobs=1))
R["id"] = exp._id
R["url"] = exp.url
'''


def expected_summary():
    outputs = [ANSWERS.get(r["input_data"]["country"], "?") for r in RECORDS]
    exact = [o == r["expected_output"] for o, r in zip(outputs, RECORDS)]
    scores = sorted(len(o) / 10 for o in outputs)
    mean = sum(scores) / len(scores)
    # Nearest rank: p50 of four values is the second, p90 the fourth.
    return {
        "exact": f"{100 * sum(exact) / len(exact):.1f}%",
        "exact_detail": f"{sum(exact)} of {len(exact)} true",
        "length": f"{mean:.3f}".rstrip("0").rstrip("."),
        "length_p50": f"{scores[1]:g}",
        "length_p90": f"{scores[3]:g}",
    }


@pytest.fixture(scope="module")
def experiment(server):
    names = {"project": unique("ui-proj"), "dataset": unique("ui-ds"), "experiment": unique("ui-exp")}
    run = run_llmobs(server, SCENARIO, args={**names, "records": RECORDS, "answers": ANSWERS})
    run.ok("run")
    return {**names, "id": run.values["id"], "url": run.values["url"]}


def test_click_from_projects_to_the_experiment_summary(page, server, experiment):
    p = page.page
    p.goto(server.root + "/")
    assert "org: default" in p.inner_text("header")
    page.shot("01-projects")
    row = p.locator("tr", has_text=experiment["project"])
    assert row.locator("td").nth(1).inner_text() == "1", "one dataset"
    assert row.locator("td").nth(2).inner_text() == "1", "one experiment"
    row.get_by_role("link", name=experiment["project"]).click()
    p.wait_for_url("**/llm/experiments?project=*")
    page.shot("02-experiments")
    p.get_by_role("link", name=experiment["experiment"]).click()
    p.wait_for_url(f"**/llm/experiments/{experiment['id']}")
    page.shot("03-experiment")

    want = expected_summary()
    card = lambda label: p.locator(f'.card[data-summary="{label}"]')  # noqa: E731
    assert card("exact").locator(".value").inner_text() == want["exact"]
    assert card("exact").locator(".detail").inner_text() == want["exact_detail"]
    assert card("length").locator(".value").inner_text() == want["length"]
    assert f"p50 {want['length_p50']} · p90 {want['length_p90']}" in card("length").locator(".detail").inner_text()
    assert card("records").locator(".value").inner_text() == str(len(RECORDS))
    assert card("records").locator(".detail").inner_text() == "0 with errors"
    assert card("duration").locator(".value").inner_text().endswith(" ms")

    # The records: one row each, the hostile input shown as text, not run.
    rows = p.locator("tr.record")
    assert rows.count() == len(RECORDS)
    assert p.get_by_text("<script>alert(1)</script>", exact=False).count() >= 1
    assert p.locator("script").count() == 0
    breadcrumbs = p.inner_text(".crumbs")
    assert experiment["project"] in breadcrumbs and experiment["experiment"] in breadcrumbs
    page.assert_clean()


def test_the_clients_experiment_url_lands_on_the_experiment_page(page, server, experiment):
    path = "/llm/" + experiment["url"].split("/llm/", 1)[1]
    assert path == f"/llm/experiments/{experiment['id']}"
    page.page.goto(server.root + path)
    assert page.page.inner_text("h1") == experiment["experiment"]
    page.assert_clean()


@pytest.mark.parametrize("section,path", [
    ("Experiments", "/llm/experiments"), ("Datasets", "/llm/datasets"),
    ("Prompts", "/llm/prompts"), ("Traces", "/llm/traces"), ("Projects", "/"),
])
def test_every_header_link_opens_its_list(page, server, experiment, section, path):
    p = page.page
    p.goto(server.root + "/llm/experiments")
    p.locator("header nav").get_by_role("link", name=section, exact=True).click()
    p.wait_for_url(server.root + path)
    assert p.locator("header nav a.on").inner_text() == section
    page.shot(f"10-{section.lower()}")
    page.assert_clean()


def test_a_list_filter_narrows_and_clears(page, server, experiment):
    p = page.page
    p.goto(server.root + "/llm/datasets")
    p.fill("input[name=name]", experiment["dataset"])
    p.get_by_role("button", name="Filter").click()
    p.wait_for_url("**name=*")
    assert p.locator("table tr").filter(has=p.locator("td")).count() == 1
    p.fill("input[name=name]", "no such dataset")
    p.get_by_role("button", name="Filter").click()
    p.wait_for_load_state()
    assert p.locator(".empty").inner_text() == "No datasets."
    page.assert_clean()
