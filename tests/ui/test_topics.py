"""The topics page in a real Chromium: spans with three known groups of inputs stored through
the span intake, a topic discovery config and run made through the API, then the page shows
the hierarchy with counts and example inputs, and its links open the spans search and the
trace of an example."""

from __future__ import annotations

import random
import time

import pytest
from harness import unique

GROUPS = {
    "billing": ["refund", "invoice", "charged", "payment", "receipt", "billing", "card", "subscription"],
    "weather": ["weather", "forecast", "rain", "temperature", "sunny", "snow", "storm", "umbrella"],
    "login": ["password", "login", "locked", "reset", "username", "verify", "security", "account"],
}
FILLER = ["hello", "please", "quick", "question", "thanks", "today", "again", "need"]
PER_GROUP = 20
V1 = "/api/v2/llm-obs/v1"


@pytest.fixture(scope="module")
def discovered(server):
    app = unique("topics-ui")
    rng = random.Random(5)
    start = time.time_ns() - 600_000_000_000
    spans, inputs = [], {}
    for i in range(PER_GROUP * len(GROUPS)):
        group = list(GROUPS)[i % len(GROUPS)]
        words = rng.sample(GROUPS[group], 5) + rng.sample(FILLER, 2)
        rng.shuffle(words)
        text = " ".join(words)
        span_id, trace_id = f"{app}-s{i}", f"{app}-t{i}"
        inputs[span_id] = (group, text)
        spans.append({"trace_id": trace_id, "span_id": span_id, "parent_id": "undefined", "name": "chat",
                      "start_ns": start + i * 1000, "duration": 2_000_000, "status": "ok",
                      "meta": {"span": {"kind": "llm"}, "input": {"value": text}, "output": {"value": "ok"}},
                      "metrics": {}, "tags": [f"ml_app:{app}"], "_dd": {"span_id": span_id, "trace_id": trace_id}})
    r = server.request("POST", "/api/v2/llmobs", json_body=[{"_dd.stage": "raw", "event_type": "span", "spans": spans}],
                       api_key=server.api_key, app_key=None)
    assert r.status == 202, r
    r = server.x("PUT", f"{V1}/topic-discovery-configs", json_body={"data": {"type": "topic_discovery_configs",
        "attributes": {"name": "support questions", "evp_query": f"@ml_app:{app}", "sampling_ratio": 1.0,
                       "num_records": 1000, "hierarchy_depth": 2}}})
    assert r.status == 200, r
    config_id = r.json()["data"]["id"]
    r = server.x("POST", f"{V1}/topic-discovery-runs", json_body={"data": {"type": "topic_discovery",
                                                                          "attributes": {"config_id": config_id}}})
    assert r.status == 202, r
    deadline = time.time() + 60
    while True:
        status = server.x("GET", f"{V1}/topic-discovery-runs/status?config_id={config_id}").json()
        if status["data"]["attributes"]["status"] in ("completed", "failed") or time.time() > deadline:
            break
        time.sleep(0.1)
    assert status["data"]["attributes"]["status"] == "completed", status
    return {"config_id": config_id, "inputs": inputs}


def test_the_topics_page_shows_the_hierarchy_and_links_to_the_spans(page, server, discovered):
    p = page.page
    p.goto(server.root + "/llm/experiments")
    p.locator("header nav").get_by_role("link", name="Topics", exact=True).click()
    p.wait_for_url(server.root + "/llm/topics")
    assert p.locator("header nav a.on").inner_text() == "Topics"
    assert p.locator("table.configs tr.selected").inner_text().startswith("support questions")
    total = len(discovered["inputs"])
    assert f"{total} inputs in" in p.locator("p.run").inner_text()

    top = p.locator("ul.topics > li.topic[data-level='1']")
    assert top.count() >= 3
    counts = [int(top.nth(i).get_attribute("data-count")) for i in range(top.count())]
    assert sum(counts) == total
    # Each top topic has level-0 children whose counts add up to its own, and examples.
    for i in range(top.count()):
        topic = top.nth(i)
        children = topic.locator(":scope > ul.topics > li.topic[data-level='0']")
        assert children.count() >= 1
        assert sum(int(children.nth(j).get_attribute("data-count")) for j in range(children.count())) == counts[i]
        examples = topic.locator(":scope > ul.examples li")
        assert examples.count() >= 1
        shown = [examples.nth(j).inner_text() for j in range(examples.count())]
        texts = {text for _, text in discovered["inputs"].values()}
        assert all(e in texts for e in shown), shown
        # A top topic's examples come from one known group: the page's grouping is the truth's.
        groups = {g for g, text in discovered["inputs"].values() if text in shown}
        assert len(groups) == 1, (shown, groups)
    page.shot("30-topics")

    # The first topic's spans link opens the spans search with its spans, all of its group.
    first_count = counts[0]
    first_examples = top.nth(0).locator(":scope > ul.examples li").all_inner_texts()
    group = next(g for g, text in discovered["inputs"].values() if text == first_examples[0])
    top.nth(0).locator(":scope > .head a.spans").click()
    p.wait_for_url("**/llm/traces?**")
    rows = p.locator("table tr:has(td.when) td pre").all_inner_texts()[::2]  # inputs (outputs follow)
    assert len(rows) == min(first_count, 30)
    assert {g for g, text in discovered["inputs"].values() if text in rows} == {group}
    page.shot("31-topic-spans")
    p.go_back()
    # An example opens the trace of its span.
    example = p.locator("ul.topics > li.topic[data-level='1']").nth(0).locator(":scope > ul.examples li a").first
    text = example.inner_text()
    example.click()
    p.wait_for_url("**/llm/traces/**")
    assert text in p.locator("tr.span.marked").inner_text()
    page.assert_clean()


def test_the_topics_page_without_configs_says_so(page, tmp_path):
    from harness import Server

    srv = Server(tmp_path).start()
    try:
        page.page.goto(srv.root + "/llm/topics")
        assert "No topic discovery config yet." in page.page.locator("main").inner_text()
        missing = page.page.goto(srv.root + "/llm/topics?config=nope")
        assert missing.status == 404
    finally:
        srv.stop()
