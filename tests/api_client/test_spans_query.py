"""Spans query plane through the official ``datadog-api-client==2.62.0``:
``list_llm_obs_spans`` (GET /api/v2/llm-obs/v1/spans/events) and ``search_llm_obs_spans``
(POST /api/v2/llm-obs/v1/spans/events/search).

Spans are stored through the intake by raw HTTP, shaped as ddtrace sends them; each
assertion compares what the client returns with exactly what was stored.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from datadog_api_client.exceptions import ApiException
from datadog_api_client.v2.model.llm_obs_search_spans_request import LLMObsSearchSpansRequest
from datadog_api_client.v2.model.llm_obs_search_spans_request_attributes import (
    LLMObsSearchSpansRequestAttributes,
)
from datadog_api_client.v2.model.llm_obs_search_spans_request_data import LLMObsSearchSpansRequestData
from datadog_api_client.v2.model.llm_obs_search_spans_request_type import LLMObsSearchSpansRequestType
from datadog_api_client.v2.model.llm_obs_span_filter import LLMObsSpanFilter
from datadog_api_client.v2.model.llm_obs_span_page_query import LLMObsSpanPageQuery
from datadog_api_client.v2.model.llm_obs_span_search_options import LLMObsSpanSearchOptions
from query_support import client_for, now_ns, post_spans, query_api, query_server, span_event  # noqa: F401

NOW = now_ns()
MIN = 60 * 1_000_000_000

# Three apps, four traces: workflow -> llm -> tool, stored one minute apart or more.
QUESTIONS = {
    "shop": ["Where is my order 1234?", "Can I return the blue shoes?"],
    "bank": ["What is my account balance?"],
    "travel": ["Book a flight to Paris tomorrow"],
}
ANSWERS = {
    "Where is my order 1234?": "Your order ships on Monday.",
    "Can I return the blue shoes?": "Yes, returns are free within thirty days.",
    "What is my account balance?": "Your balance is 42 dollars.",
    "Book a flight to Paris tomorrow": "I found three flights to Paris.",
}


def _dataset() -> list[dict]:
    spans = []
    n = 0
    for app, questions in QUESTIONS.items():
        for question in questions:
            n += 1
            trace = f"trace-{app}-{n}"
            start = NOW - (10 - n) * MIN
            answer = ANSWERS[question]
            spans.append(span_event(trace, f"{n}01", name=f"{app}-workflow", kind="workflow", ml_app=app,
                                    start_ns=start, duration=9_000_000, input_value=question,
                                    output_value=answer, session_id=f"session-{app}"))
            spans.append(span_event(trace, f"{n}02", name="chat", kind="llm", ml_app=app, parent_id=f"{n}01",
                                    start_ns=start + 1_000, duration=7_000_000,
                                    messages=[{"role": "user", "content": question}],
                                    output_value=answer, status="error" if app == "bank" else "ok"))
            spans.append(span_event(trace, f"{n}03", name="lookup_tool", kind="tool", ml_app=app,
                                    parent_id=f"{n}02", start_ns=start + 2_000, duration=1_000_000 * n,
                                    input_value=f"lookup {n}", output_value="found", tags=[f"step:{n}"]))
    return spans


SPANS = _dataset()
BY_ID = {s["span_id"]: s for s in SPANS}
OLD = span_event("trace-old", "9001", name="old-workflow", kind="workflow", ml_app="shop",
                 start_ns=NOW - 120 * MIN, input_value="an old question", output_value="an old answer")


@pytest.fixture(scope="module")
def stored(query_server):
    post_spans(query_server, SPANS + [OLD])
    return query_server


def error_detail(exc: ApiException) -> str:
    """The first error's detail of a refused call (the client hands the body parsed)."""
    body = exc.body if isinstance(exc.body, dict) else json.loads(exc.body)
    return body["errors"][0]["detail"]


def ids(response) -> list[str]:
    return [d.id for d in response.data]


def search(api, **kw):
    """One search call; keyword arguments split into filter, page, sort and options."""
    page = {k: kw.pop(k) for k in ("limit", "cursor") if k in kw}
    sort = kw.pop("sort", None)
    options = kw.pop("options", None)
    attributes = LLMObsSearchSpansRequestAttributes(filter=LLMObsSpanFilter(**kw))
    if page:
        attributes.page = LLMObsSpanPageQuery(**page)
    if sort:
        attributes.sort = sort
    if options:
        attributes.options = LLMObsSpanSearchOptions(**options)
    body = LLMObsSearchSpansRequest(
        data=LLMObsSearchSpansRequestData(attributes=attributes, type=LLMObsSearchSpansRequestType.SPANS))
    return api.search_llm_obs_spans(body=body)


def expect(selector) -> list[str]:
    """Ids of the stored recent spans matching ``selector``, newest first."""
    chosen = [s for s in SPANS if selector(s)]
    return [s["span_id"] for s in sorted(chosen, key=lambda s: -s["start_ns"])]


def meta_kind(s):
    return s["meta"]["span"]["kind"]


def test_list_returns_every_field_as_stored(stored, query_api):
    got = query_api.list_llm_obs_spans(filter_from="now-15m", page_limit=100)
    assert ids(got) == expect(lambda s: True)
    assert got.meta.status == "done" and "after" not in got.meta.page.to_dict()
    for data in got.data:
        sent = BY_ID[data.id]
        a = data.attributes
        assert str(data.type) == "span"
        assert (a.span_id, a.trace_id, a.parent_id, a.name) == (
            sent["span_id"], sent["trace_id"], sent["parent_id"], sent["name"])
        assert (a.start_ns, a.duration, a.status, a.span_kind) == (
            sent["start_ns"], sent["duration"], sent["status"], meta_kind(sent))
        assert a.ml_app == next(t for t in sent["tags"] if t.startswith("ml_app:"))[len("ml_app:"):]
        assert a.tags == sent["tags"]
        assert a.metadata == sent["meta"]["metadata"]
        if "input" in sent["meta"]:
            want_in = sent["meta"]["input"]
            if "messages" in want_in:
                assert [m.to_dict() for m in a.input.messages] == want_in["messages"]
            else:
                assert a.input.value == want_in["value"]
        assert a.output.value == sent["meta"]["output"]["value"]
        if meta_kind(sent) == "llm":
            assert (a.model_name, a.model_provider) == ("gpt-4o-mini", "openai")
            assert a.metrics == {"input_tokens": 12.0, "output_tokens": 34.0}


@pytest.mark.parametrize("param, value, selector", [
    ("filter_trace_id", "trace-shop-2", lambda s: s["trace_id"] == "trace-shop-2"),
    ("filter_span_id", "303", lambda s: s["span_id"] == "303"),
    ("filter_span_kind", "llm", lambda s: meta_kind(s) == "llm"),
    ("filter_span_name", "lookup_tool", lambda s: s["name"] == "lookup_tool"),
    ("filter_ml_app", "bank", lambda s: "ml_app:bank" in s["tags"]),
])
def test_list_filters_by_each_field(stored, query_api, param, value, selector):
    got = query_api.list_llm_obs_spans(**{param: value}, page_limit=100)
    assert ids(got) == expect(selector)
    assert ids(got), "the filter matches something"


def test_structured_filters_combine(stored, query_api):
    got = query_api.list_llm_obs_spans(filter_ml_app="shop", filter_span_kind="tool")
    assert ids(got) == expect(lambda s: "ml_app:shop" in s["tags"] and meta_kind(s) == "tool")
    got = search(query_api, ml_app="shop", span_kind="tool", tags={"step": "2"})
    assert ids(got) == ["203"]


@pytest.mark.parametrize("query, selector", [
    ("@ml_app:shop", lambda s: "ml_app:shop" in s["tags"]),
    ("@meta.span.kind:llm", lambda s: meta_kind(s) == "llm"),
    ("@ml_app:shop -@meta.span.kind:tool", lambda s: "ml_app:shop" in s["tags"] and meta_kind(s) != "tool"),
    ("@ml_app:bank OR @ml_app:travel", lambda s: "ml_app:bank" in s["tags"] or "ml_app:travel" in s["tags"]),
    ("(@ml_app:bank OR @ml_app:travel) AND @span_kind:llm",
     lambda s: ("ml_app:bank" in s["tags"] or "ml_app:travel" in s["tags"]) and meta_kind(s) == "llm"),
    ("@status:error", lambda s: s["status"] == "error"),
    ("@name:shop-*", lambda s: s["name"].startswith("shop-")),
    ("@name:*_tool", lambda s: s["name"].endswith("_tool")),
    ("@trace_id:trace-shop-2", lambda s: s["trace_id"] == "trace-shop-2"),
    ("step:3", lambda s: "step:3" in s["tags"]),
    ("env:test -step:*", lambda s: not any(t.startswith("step:") for t in s["tags"])),
    ("@session_id:session-travel", lambda s: s.get("session_id") == "session-travel"),
    ("@duration:>=7000000", lambda s: s["duration"] >= 7_000_000),
    ("Paris", lambda s: "Paris" in json.dumps(s["meta"].get("input", "")) + json.dumps(s["meta"].get("output", ""))),
    ('"blue shoes"', lambda s: "blue shoes" in json.dumps(s["meta"].get("input", ""))),
    ('"shoes blue"', lambda s: False),
    ("balanc*", lambda s: "balance" in json.dumps(s["meta"])),
    ("thirty -@span_kind:llm", lambda s: "thirty" in json.dumps(s["meta"]) and meta_kind(s) != "llm"),
    ("order OR flight*", lambda s: "order" in json.dumps(s["meta"]).lower() or "flight" in json.dumps(s["meta"]).lower()),
])
def test_search_query_syntax(stored, query_api, query, selector):
    got = search(query_api, query=query, limit=100)
    assert ids(got) == expect(selector), query
    # The same query over GET.
    assert ids(query_api.list_llm_obs_spans(filter_query=query, page_limit=100)) == ids(got)


def test_query_overrides_structured_filters(stored, query_api):
    # Datadog: when filter.query is given, the field filters are ignored.
    got = search(query_api, query="@ml_app:travel", ml_app="shop", limit=100)
    assert ids(got) == expect(lambda s: "ml_app:travel" in s["tags"])


def test_time_range_absolute_and_relative(stored, query_api):
    iso = lambda ns: dt.datetime.fromtimestamp(ns / 1e9, dt.timezone.utc).isoformat().replace("+00:00", "Z")  # noqa: E731
    # Default window (now-15m .. now) leaves out the span of two hours ago.
    assert "9001" not in ids(query_api.list_llm_obs_spans(page_limit=100))
    got = query_api.list_llm_obs_spans(filter_from="now-3h", filter_ml_app="shop", page_limit=100)
    assert ids(got) == expect(lambda s: "ml_app:shop" in s["tags"]) + ["9001"]
    lo, hi = NOW - 8 * MIN - 1_000_000, NOW - 6 * MIN + 1_000_000
    got = search(query_api, _from=iso(lo), to=iso(hi), limit=100)
    assert ids(got) == expect(lambda s: lo <= s["start_ns"] <= hi)
    assert ids(got)
    # time_offset shifts both ends: a window two hours back finds only the old span.
    got = search(query_api, _from="now-5m", to="now+5m", options={"time_offset": -7200}, limit=100)
    assert ids(got) == ["9001"]


@pytest.mark.parametrize("sort, key", [("-timestamp", lambda s: (-s["start_ns"],)),
                                       ("timestamp", lambda s: (s["start_ns"],))])
def test_paging_covers_all_without_duplicates(stored, query_api, sort, key):
    want = [s["span_id"] for s in sorted(SPANS, key=key)]
    seen, cursor, pages = [], None, 0
    while True:
        kw = {"cursor": cursor} if cursor else {}
        page = search(query_api, _from="now-15m", limit=5, sort=sort, **kw)
        seen += ids(page)
        pages += 1
        cursor = page.meta.page.to_dict().get("after")
        if not cursor:
            break
    assert seen == want and pages == 3
    # GET pages the same way, and links.next points at the next page.
    seen, cursor = [], None
    while True:
        kw = {"page_cursor": cursor} if cursor else {}
        page = query_api.list_llm_obs_spans(page_limit=4, sort=sort, **kw)
        seen += ids(page)
        cursor = page.meta.page.to_dict().get("after")
        if not cursor:
            assert "links" not in page.to_dict()
            break
        assert "page%5Bcursor%5D=" in page.links.next
    assert seen == want


def test_duration_sort(stored, query_api):
    got = search(query_api, query="@span_kind:tool", sort="-duration", limit=100)
    assert ids(got) == [s["span_id"] for s in sorted(
        (s for s in SPANS if meta_kind(s) == "tool"), key=lambda s: (-s["duration"], -s["start_ns"]))]


@pytest.mark.parametrize("call, field", [
    (lambda api: api.list_llm_obs_spans(filter_query="(@ml_app:shop"), "filter[query]"),
    (lambda api: api.list_llm_obs_spans(filter_query='"open phrase'), "filter[query]"),
    (lambda api: api.list_llm_obs_spans(filter_query="@no_such_field:x"), "filter[query]"),
    (lambda api: api.list_llm_obs_spans(filter_from="yesterday"), "filter[from]"),
    (lambda api: api.list_llm_obs_spans(filter_to="2024-13-01T00:00:00Z"), "filter[to]"),
    (lambda api: api.list_llm_obs_spans(filter_from="now", filter_to="now-1h"), "filter[from]"),
    (lambda api: api.list_llm_obs_spans(page_cursor="not-a-cursor"), "page[cursor]"),
    (lambda api: api.list_llm_obs_spans(page_limit=0), "page[limit]"),
    (lambda api: api.list_llm_obs_spans(page_limit=5001), "page[limit]"),
    (lambda api: api.list_llm_obs_spans(sort="name"), "sort"),
    (lambda api: search(api, query="a AND"), "data.attributes.filter.query"),
    (lambda api: search(api, _from="tomorrow-ish"), "data.attributes.filter.from"),
    (lambda api: search(api, limit=-1), "data.attributes.page.limit"),
    (lambda api: search(api, cursor="abc"), "page[cursor]"),
])
def test_bad_input_is_a_400_naming_the_field(stored, query_api, call, field):
    with pytest.raises(ApiException) as info:
        call(query_api)
    assert info.value.status == 400
    assert error_detail(info.value).startswith(field), info.value.body


def test_a_cursor_of_another_sort_is_refused(stored, query_api):
    page = query_api.list_llm_obs_spans(page_limit=2, sort="timestamp")
    cursor = page.meta.page.after
    with pytest.raises(ApiException) as info:
        query_api.list_llm_obs_spans(page_limit=2, sort="-duration", page_cursor=cursor)
    assert info.value.status == 400 and error_detail(info.value).startswith("page[cursor]")


def test_other_orgs_spans_are_never_visible(stored, query_api):
    api_key, app_key = stored.create_org("query-other")
    other = client_for(stored, api_key, app_key)
    theirs = [span_event("trace-theirs", "7001", name="theirs", kind="llm", ml_app="shop",
                         start_ns=NOW - MIN, input_value="secret Paris plans", output_value="x")]
    post_spans(stored, theirs, api_key=api_key)
    assert ids(other.list_llm_obs_spans(page_limit=100)) == ["7001"]
    assert ids(search(other, query="Paris", limit=100)) == ["7001"]
    mine = query_api.list_llm_obs_spans(page_limit=100)
    assert "7001" not in ids(mine) and len(ids(mine)) == len(SPANS)
    assert ids(search(query_api, trace_id="trace-theirs")) == []
    assert ids(search(query_api, query="secret")) == []
