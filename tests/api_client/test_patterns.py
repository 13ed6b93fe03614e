"""Topic discovery ("patterns") through the official client: configs (upsert, list, latest,
delete), runs (trigger, status, list), topics, topics with clustered points, and clustered
points, on spans stored through the intake with known groups. The clustering must recover
the groups (adjusted Rand index >= 0.8, computed here); with an account, topics are named by
its model and inputs embedded by its embeddings endpoint (the stub provider)."""

from __future__ import annotations

import collections
import itertools
import math
import random
import time

import pytest
from datadog_api_client.exceptions import ApiException, NotFoundException
from datadog_api_client.v2.model.llm_obs_patterns_config_type import LLMObsPatternsConfigType
from datadog_api_client.v2.model.llm_obs_patterns_config_upsert_request import LLMObsPatternsConfigUpsertRequest
from datadog_api_client.v2.model.llm_obs_patterns_config_upsert_request_attributes import (
    LLMObsPatternsConfigUpsertRequestAttributes,
)
from datadog_api_client.v2.model.llm_obs_patterns_config_upsert_request_data import (
    LLMObsPatternsConfigUpsertRequestData,
)
from datadog_api_client.v2.model.llm_obs_patterns_request_type import LLMObsPatternsRequestType
from datadog_api_client.v2.model.llm_obs_patterns_trigger_request import LLMObsPatternsTriggerRequest
from datadog_api_client.v2.model.llm_obs_patterns_trigger_request_attributes import (
    LLMObsPatternsTriggerRequestAttributes,
)
from datadog_api_client.v2.model.llm_obs_patterns_trigger_request_data import LLMObsPatternsTriggerRequestData

from conftest import client_for
from harness import unique
from query_support import now_ns, post_spans, span_event

GROUPS = {
    "billing": ["refund", "invoice", "charged", "payment", "receipt", "billing", "card", "subscription"],
    "weather": ["weather", "forecast", "rain", "temperature", "sunny", "snow", "storm", "umbrella"],
    "login": ["password", "login", "locked", "reset", "username", "verify", "security", "account"],
}
FILLER = ["hello", "please", "quick", "question", "thanks", "today", "again", "need", "help", "know"]
PER_GROUP = 40


def adjusted_rand_index(a: list, b: list) -> float:
    """The adjusted Rand index of two labellings (1 = the same grouping, ~0 = chance)."""
    def pairs(n: int) -> float:
        return n * (n - 1) / 2
    cells = collections.Counter(zip(a, b))
    index = sum(pairs(c) for c in cells.values())
    sum_a = sum(pairs(c) for c in collections.Counter(a).values())
    sum_b = sum(pairs(c) for c in collections.Counter(b).values())
    expected = sum_a * sum_b / pairs(len(a))
    top = (sum_a + sum_b) / 2
    return 1.0 if top == expected else (index - expected) / (top - expected)


def test_the_adjusted_rand_index_is_right():
    assert adjusted_rand_index([0, 0, 1, 1], [1, 1, 0, 0]) == 1.0
    assert math.isclose(adjusted_rand_index([0, 0, 1, 1], [0, 0, 1, 2]), 4 / 7)


@pytest.fixture(scope="module")
def api(provider_server):
    return client_for(provider_server)


@pytest.fixture(scope="module")
def corpus(provider_server):
    """Spans of one ML app with known groups (span_id -> (group, input)), plus spans of another
    app the configs' query leaves out."""
    app = unique("topics-app")
    rng = random.Random(11)
    truth: dict[str, tuple[str, str]] = {}
    spans = []
    start = now_ns() - 3_600_000_000_000
    for i, (group, words) in enumerate(itertools.chain.from_iterable(
            [list(GROUPS.items())] * PER_GROUP)):
        text = rng.sample(words, 5) + rng.sample(FILLER, 3)
        rng.shuffle(text)
        trace_id, span_id = f"{app}-t{i}", f"{app}-s{i}"
        truth[span_id] = (group, " ".join(text))
        spans.append(span_event(trace_id, span_id, name="chat", kind="llm", ml_app=app, start_ns=start + i,
                                input_value=" ".join(text), output_value="ok", session_id=f"sess-{i % 4}"))
    for i in range(5):
        spans.append(span_event(f"other-t{i}", f"other-s{i}", name="chat", kind="llm", ml_app=unique("other"),
                                start_ns=start + i, input_value="refund refund refund"))
    post_spans(provider_server, spans)
    return app, truth


def upsert_body(name: str, query: str, **attrs) -> LLMObsPatternsConfigUpsertRequest:
    attributes = LLMObsPatternsConfigUpsertRequestAttributes(
        name=name, evp_query=query, sampling_ratio=attrs.pop("sampling_ratio", 1.0),
        num_records=attrs.pop("num_records", 1000), hierarchy_depth=attrs.pop("hierarchy_depth", 2), **attrs)
    return LLMObsPatternsConfigUpsertRequest(
        data=LLMObsPatternsConfigUpsertRequestData(type=LLMObsPatternsConfigType.TOPIC_DISCOVERY_CONFIGS,
                                                   attributes=attributes))


def trigger(api, config_id: str):
    return api.trigger_llm_obs_patterns(LLMObsPatternsTriggerRequest(data=LLMObsPatternsTriggerRequestData(
        type=LLMObsPatternsRequestType.TOPIC_DISCOVERY,
        attributes=LLMObsPatternsTriggerRequestAttributes(config_id=config_id))))


def wait_done(api, config_id: str, timeout: float = 60.0):
    deadline = time.time() + timeout
    while True:
        status = api.get_llm_obs_patterns_run_status(config_id=config_id).data
        if status.attributes.status in ("completed", "failed") or time.time() > deadline:
            return status
        time.sleep(0.1)


def test_configs_are_upserted_listed_and_deleted(api, provider_server):
    first = api.upsert_llm_obs_patterns_config(upsert_body(unique("cfg"), "@ml_app:nothing")).data
    assert first.type.value == "topic_discovery_configs"
    assert (first.attributes.evp_query, first.attributes.hierarchy_depth, first.attributes.scope) == (
        "@ml_app:nothing", 2, "org")
    assert first.attributes.account_id is None and first.attributes.model_name is None
    second = api.upsert_llm_obs_patterns_config(upsert_body(unique("cfg"), "", sampling_ratio=0.5)).data
    renamed = api.upsert_llm_obs_patterns_config(
        upsert_body("renamed", "kind:llm", config_id=first.id, num_records=10, template="Short names.")).data
    assert renamed.id == first.id and renamed.attributes.name == "renamed"
    assert renamed.attributes.template == "Short names." and renamed.attributes.num_records == 10
    assert renamed.attributes.created_at == first.attributes.created_at
    assert renamed.attributes.updated_at >= first.attributes.updated_at
    assert api.get_llm_obs_patterns_config().data.id == first.id  # the most recently changed
    listed = api.list_llm_obs_patterns_configs().data
    assert listed.type.value == "list_topic_discovery_configs_response"
    ids = [c.id for c in listed.attributes.configs]
    assert ids.index(first.id) < ids.index(second.id)

    for bad, detail in [(dict(sampling_ratio=0.0), "sampling_ratio"), (dict(hierarchy_depth=9), "hierarchy_depth"),
                        (dict(account_id="nope"), "account_id 'nope'"),
                        (dict(model_name="m"), "model_name needs account_id")]:
        with pytest.raises(ApiException) as err:
            api.upsert_llm_obs_patterns_config(upsert_body("bad", "", **bad))
        assert err.value.status == 400 and detail in str(err.value.body), err.value.body
    with pytest.raises(ApiException) as err:
        api.upsert_llm_obs_patterns_config(upsert_body("bad", "(unclosed"))
    assert err.value.status == 400 and "evp_query" in str(err.value.body)
    with pytest.raises(NotFoundException):
        api.upsert_llm_obs_patterns_config(upsert_body("x", "", config_id="00000000-0000-0000-0000-000000000000"))

    api.delete_llm_obs_patterns_config(config_id=second.id)
    assert second.id not in [c.id for c in api.list_llm_obs_patterns_configs().data.attributes.configs]
    with pytest.raises(NotFoundException):
        api.delete_llm_obs_patterns_config(config_id=second.id)
    with pytest.raises(NotFoundException):
        api.get_llm_obs_patterns_run_status(config_id=first.id)  # no run yet
    # Another org sees none of it.
    api_key, app_key = provider_server.create_org(unique("other-org"))
    other = client_for(provider_server, api_key, app_key)
    assert other.list_llm_obs_patterns_configs().data.attributes.configs == []
    with pytest.raises(NotFoundException):
        other.get_llm_obs_patterns_config()
    with pytest.raises(NotFoundException):
        trigger(other, first.id)


def test_a_local_run_recovers_the_groups(api, corpus):
    app, truth = corpus
    config = api.upsert_llm_obs_patterns_config(upsert_body(unique("local"), f"@ml_app:{app}")).data
    started = trigger(api, config.id).data
    assert started.type.value == "topic_discovery_run" and started.attributes.config_id == config.id
    assert started.attributes.status == "pending"
    status = wait_done(api, config.id)
    assert status.id == started.attributes.run_id
    assert status.attributes.status == "completed", status
    assert [(p.name, p.status) for p in status.attributes.progress] == [
        (name, "completed") for name in ("sampling", "embedding", "clustering", "naming", "saving")]
    assert all(p.started_at is not None for p in status.attributes.progress)

    runs = api.list_llm_obs_patterns_runs(config_id=config.id).data
    assert [r.id for r in runs.attributes.runs] == [started.attributes.run_id]
    snapshot = runs.attributes.runs[0].config_snapshot
    assert (snapshot.evp_query, snapshot.hierarchy_depth, snapshot.num_records) == (f"@ml_app:{app}", 2, 1000)
    assert runs.attributes.runs[0].completed_at is not None

    topics = api.list_llm_obs_patterns_topics(config_id=config.id).data
    assert topics.type.value == "get_topics_response" and topics.attributes.previous_run_id == ""
    top = [t for t in topics.attributes.topics if t.hierarchy_level == 1]
    leaves = [t for t in topics.attributes.topics if t.hierarchy_level == 0]
    assert all(t.parent_topic_id == "" for t in top)
    assert {t.parent_topic_id for t in leaves} <= {t.id for t in top}
    assert sum(t.point_count for t in top) == len(truth) == sum(t.point_count for t in leaves)

    # Every sampled span is a point of its topic; the top level recovers the groups.
    found: dict[str, str] = {}
    for t in top:
        token, seen = None, []
        while True:
            page = api.list_llm_obs_patterns_clustered_points(topic_id=t.id, page_size=7,
                                                              **({"page_token": token} if token else {})).data
            seen += page.attributes.points
            token = page.attributes.next_page_token
            if not token:
                break
        assert len(seen) == t.point_count and len({p.id for p in seen}) == len(seen)
        for point in seen:
            assert point.input.strip() == truth[point.span_id][1]
            assert point.event_id == point.span_id.replace("-s", "-t")
            found[point.span_id] = t.id
    assert set(found) == set(truth)  # the other app's spans are left out
    span_ids = sorted(truth)
    ari = adjusted_rand_index([truth[s][0] for s in span_ids], [found[s] for s in span_ids])
    assert ari >= 0.8, f"adjusted Rand index {ari:.3f}; topics {[(t.name, t.point_count) for t in top]}"
    # Each top topic is named from its group's own words.
    for t in top:
        group = collections.Counter(truth[s][0] for s, tid in found.items() if tid == t.id).most_common(1)[0][0]
        assert t.name.split(", ")[0] in GROUPS[group], t.name
        assert t.description.startswith(f"{t.point_count} inputs; distinctive terms: ")

    with_points = api.list_llm_obs_patterns_topics_with_clustered_points(config_id=config.id,
                                                                        include_metrics=True).data
    assert with_points.type.value == "get_topics_with_cluster_points_response"
    by_id = {t.id: t for t in with_points.attributes.topics}
    for leaf in leaves:
        refs = by_id[leaf.id].cluster_points
        assert len(refs) == leaf.point_count
        assert all(r.span_id in truth and r.status == "ok" and r.duration == 1_000_000 for r in refs)
        assert all(r.input_tokens == 12 and r.output_tokens == 34 for r in refs)
    for t in top:
        assert "cluster_points" not in by_id[t.id].to_dict()
    plain = api.list_llm_obs_patterns_topics_with_clustered_points(config_id=config.id).data
    assert all(r.to_dict() == {"span_id": r.span_id} for t in plain.attributes.topics
               for r in (t.cluster_points if "cluster_points" in t.to_dict() else []))

    # A second run: the first becomes its previous run, and stays readable by id.
    again = trigger(api, config.id).data
    assert wait_done(api, config.id).attributes.status == "completed"
    latest = api.list_llm_obs_patterns_topics(config_id=config.id).data
    assert latest.attributes.run_id == again.attributes.run_id
    assert latest.attributes.previous_run_id == started.attributes.run_id
    assert {t.name for t in latest.attributes.topics} == {t.name for t in topics.attributes.topics}
    assert all(t.first_seen_at <= t.created_at for t in latest.attributes.topics)
    old = api.list_llm_obs_patterns_topics(config_id=config.id, run_id=started.attributes.run_id).data
    assert old.attributes.run_id == started.attributes.run_id
    assert [r.id for r in api.list_llm_obs_patterns_runs(config_id=config.id).data.attributes.runs] == [
        again.attributes.run_id, started.attributes.run_id]

    with pytest.raises(ApiException) as err:
        api.list_llm_obs_patterns_clustered_points(topic_id=top[0].id, page_token="zz")
    assert err.value.status == 400 and "page_token" in str(err.value.body)
    with pytest.raises(NotFoundException):
        api.list_llm_obs_patterns_clustered_points(topic_id="no-such-topic")


def test_a_run_with_an_account_embeds_and_names_with_it(api, corpus, stub):
    app, truth = corpus
    config = api.upsert_llm_obs_patterns_config(upsert_body(
        unique("byom"), f"@ml_app:{app}", hierarchy_depth=1, integration_provider="openai", account_id="stub",
        model_name="stub-chat", template="Keep it short.")).data
    assert (config.attributes.account_id, config.attributes.model_name) == ("stub", "stub-chat")
    before = len(stub.requests)
    trigger(api, config.id)
    status = wait_done(api, config.id)
    assert status.attributes.status == "completed", status
    sent = stub.requests[before:]
    embedded = [r for r in sent if r["path"] == "/v1/embeddings"]
    assert embedded and sum(len(r["body"]["input"]) for r in embedded) == len(truth)
    assert all(r["body"]["model"] == "stub-embed" for r in embedded)
    named = [r for r in sent if r["path"] == "/v1/chat/completions"]
    topics = api.list_llm_obs_patterns_topics(config_id=config.id).data.attributes.topics
    assert len(named) == len(topics) >= 3
    assert all("Keep it short." in r["body"]["messages"][0]["content"] for r in named)
    # The stub names a topic after its examples' most frequent long word.
    all_words = {w for words in GROUPS.values() for w in words}
    assert all(t.name.startswith("Topic ") and t.name.split()[1] in all_words for t in topics), [t.name for t in topics]


def test_a_run_whose_account_fails_reports_why(api, corpus, tmp_path):
    app, _ = corpus
    # The account exists but its model answers 500 for naming: names fall back to terms.
    config = api.upsert_llm_obs_patterns_config(upsert_body(
        unique("fallback"), f"@ml_app:{app}", hierarchy_depth=1, account_id="fixed", model_name="fail")).data
    trigger(api, config.id)
    assert wait_done(api, config.id).attributes.status == "completed"
    names = [t.name for t in api.list_llm_obs_patterns_topics(config_id=config.id).data.attributes.topics]
    assert all(", " in n for n in names), names
    # An empty sample still completes, with one empty topic.
    empty = api.upsert_llm_obs_patterns_config(upsert_body(unique("empty"), "@ml_app:no-such-app")).data
    trigger(api, empty.id)
    assert wait_done(api, empty.id).attributes.status == "completed"
