"""The review page of an annotation queue in a real Chromium: a queue made with the official
client over traces stored through the span intake, labelled with the keyboard only, and the
labels read back through the official client; then the page's export form, whose dataset
the official client reads."""

from __future__ import annotations

import time

import pytest
from harness import unique

from datadog_api_client import ApiClient, Configuration
from datadog_api_client.v2.api.agent_observability_api import AgentObservabilityApi
from datadog_api_client.v2.model.llm_obs_annotation_queue_data_attributes_request import (
    LLMObsAnnotationQueueDataAttributesRequest,
)
from datadog_api_client.v2.model.llm_obs_annotation_queue_data_request import (
    LLMObsAnnotationQueueDataRequest,
)
from datadog_api_client.v2.model.llm_obs_annotation_queue_request import LLMObsAnnotationQueueRequest
from datadog_api_client.v2.model.llm_obs_annotation_queue_type import LLMObsAnnotationQueueType
from datadog_api_client.v2.model.llm_obs_annotation_schema import LLMObsAnnotationSchema
from datadog_api_client.v2.model.llm_obs_label_schema import LLMObsLabelSchema
from datadog_api_client.v2.model.llm_obs_label_schema_type import LLMObsLabelSchemaType
from datadog_api_client.v2.model.llm_obs_project_data_attributes_request import (
    LLMObsProjectDataAttributesRequest,
)
from datadog_api_client.v2.model.llm_obs_project_data_request import LLMObsProjectDataRequest
from datadog_api_client.v2.model.llm_obs_project_request import LLMObsProjectRequest
from datadog_api_client.v2.model.llm_obs_project_type import LLMObsProjectType
from datadog_api_client.v2.model.llm_obs_annotation_queue_interactions_data_attributes_request import (
    LLMObsAnnotationQueueInteractionsDataAttributesRequest,
)
from datadog_api_client.v2.model.llm_obs_annotation_queue_interactions_data_request import (
    LLMObsAnnotationQueueInteractionsDataRequest,
)
from datadog_api_client.v2.model.llm_obs_annotation_queue_interactions_request import (
    LLMObsAnnotationQueueInteractionsRequest,
)
from datadog_api_client.v2.model.llm_obs_annotation_queue_interactions_type import (
    LLMObsAnnotationQueueInteractionsType,
)
from datadog_api_client.v2.model.llm_obs_trace_interaction_item import LLMObsTraceInteractionItem
from datadog_api_client.v2.model.llm_obs_trace_interaction_type import LLMObsTraceInteractionType

# The client warns on every unstable operation; every operation here is one.
pytestmark = pytest.mark.filterwarnings("ignore:Using unstable operation:UserWarning")

QUESTIONS = [
    ("How do I get a refund?", "Open Billing and click Refund."),
    ("The app crashes on start", "Reinstall it."),
    ("Do you ship to Peru?", "Yes, in 5 days."),
]


def store_trace(server, trace_id: str, question: str, answer: str) -> None:
    """One root span, posted to the span intake as ddtrace posts it."""
    span = {
        "trace_id": trace_id, "span_id": trace_id + "-root", "parent_id": "undefined", "name": "support",
        "start_ns": time.time_ns(), "duration": 1_000_000, "status": "ok",
        "meta": {"span": {"kind": "workflow"}, "input": {"value": question}, "output": {"value": answer}},
        "metrics": {}, "tags": ["ml_app:support", "env:test"],
    }
    body = [{"_dd.stage": "raw", "event_type": "span", "spans": [span]}]
    resp = server.request("POST", "/api/v2/llmobs", json_body=body, app_key=None)
    assert resp.status == 202, resp


def add_traces(trace_ids) -> LLMObsAnnotationQueueInteractionsRequest:
    items = [LLMObsTraceInteractionItem(type=LLMObsTraceInteractionType.TRACE, content_id=t) for t in trace_ids]
    return LLMObsAnnotationQueueInteractionsRequest(data=LLMObsAnnotationQueueInteractionsDataRequest(
        type=LLMObsAnnotationQueueInteractionsType.INTERACTIONS,
        attributes=LLMObsAnnotationQueueInteractionsDataAttributesRequest(interactions=items)))


@pytest.fixture(scope="module")
def api(server) -> AgentObservabilityApi:
    config = Configuration(host=server.root)
    config.api_key = {"apiKeyAuth": server.api_key, "appKeyAuth": server.app_key}
    for name in list(config.unstable_operations.values):
        if "llm_obs" in name:
            config.unstable_operations[name.split(".", 1)[1]] = True
    config.enable_retry = False
    return AgentObservabilityApi(ApiClient(config))


@pytest.fixture(scope="module")
def queue(api, server):
    """A queue over three stored traces: topic (categorical, required), resolved (boolean),
    quality (score), note (text)."""
    traces = []
    for question, answer in QUESTIONS:
        trace_id = unique("trace")
        store_trace(server, trace_id, question, answer)
        traces.append(trace_id)
    project = api.create_llm_obs_project(LLMObsProjectRequest(data=LLMObsProjectDataRequest(
        type=LLMObsProjectType.PROJECTS, attributes=LLMObsProjectDataAttributesRequest(name=unique("review"))))).data
    schema = LLMObsAnnotationSchema(label_schemas=[
        LLMObsLabelSchema(name="topic", type=LLMObsLabelSchemaType.CATEGORICAL, values=["billing", "bug", "shipping"],
                          is_required=True, description="What the user asks about"),
        LLMObsLabelSchema(name="resolved", type=LLMObsLabelSchemaType.BOOLEAN),
        LLMObsLabelSchema(name="quality", type=LLMObsLabelSchemaType.SCORE, min=1.0, max=5.0, is_integer=True),
        LLMObsLabelSchema(name="note", type=LLMObsLabelSchemaType.TEXT),
    ])
    made = api.create_llm_obs_annotation_queue(LLMObsAnnotationQueueRequest(data=LLMObsAnnotationQueueDataRequest(
        type=LLMObsAnnotationQueueType.QUEUES, attributes=LLMObsAnnotationQueueDataAttributesRequest(
            name=unique("support-review"), project_id=project.id, annotation_schema=schema)))).data
    items = api.create_llm_obs_annotation_queue_interactions(
        made.id, add_traces(traces)).data.attributes.interactions
    return {"id": made.id, "name": made.attributes.name, "project": project, "items": [i.id for i in items]}


def sign_in(page, server):
    page.goto(f"{server.root}/sign-in")
    page.fill("input[name=api_key]", server.api_key)
    page.fill("input[name=app_key]", server.app_key)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.root}/")


def labels_of(api, queue_id):
    """Label values by interaction id, as the official client reads them."""
    items = api.get_llm_obs_annotated_interactions(queue_id).data.attributes.annotated_interactions
    return {i.id: {name: v["value"] for a in i.annotations for name, v in a.label_values.items()} for i in items}


def test_label_a_queue_with_the_keyboard(page, server, api, queue):
    p = page.page
    sign_in(p, server)
    p.goto(f"{server.root}/llm/annotations")
    p.click(f"text={queue['name']}")
    p.wait_for_selector("#labels")
    assert p.inner_text("#position") == "1" and p.inner_text("#done") == "0"
    assert "How do I get a refund?" in p.inner_text("#input")
    assert "Open Billing and click Refund." in p.inner_text("#output")
    # Keys: topic billing=1 bug=2 shipping=3, resolved true=4 false=5.
    p.keyboard.press("1")
    p.keyboard.press("4")
    assert p.is_checked("input[data-key='1']") and p.is_checked("input[data-key='4']")
    p.focus("input[type=number]")
    p.keyboard.type("5")
    p.keyboard.press("Escape")
    page.shot("review-before-save")
    p.keyboard.press("Enter")
    p.wait_for_selector("#saved")
    assert p.inner_text("#position") == "2" and p.inner_text("#done") == "1"
    assert "The app crashes on start" in p.inner_text("#input")

    p.keyboard.press("2")
    p.keyboard.press("5")
    p.keyboard.press("Enter")
    p.wait_for_selector("#saved")
    assert p.inner_text("#position") == "3"
    # `n` skips ahead without saving; `p` goes back and shows what was saved.
    p.keyboard.press("p")
    p.wait_for_url("**item=2")
    assert p.is_checked("input[data-key='2']") and p.is_checked("input[data-key='5']")
    p.keyboard.press("n")
    p.wait_for_url("**item=3")
    assert "Do you ship to Peru?" in p.inner_text("#input")
    p.keyboard.press("3")
    p.focus("textarea[name^='label.']")
    p.keyboard.type("asks about delivery time")
    p.keyboard.press("Escape")
    p.keyboard.press("Enter")
    p.wait_for_selector("#saved")
    assert p.inner_text("#done") == "3"
    page.shot("review-done")

    stored = labels_of(api, queue["id"])
    first, second, third = queue["items"]
    assert stored[first] == {"topic": "billing", "resolved": True, "quality": 5}
    assert stored[second] == {"topic": "bug", "resolved": False}
    assert stored[third] == {"topic": "shipping", "note": "asks about delivery time"}
    page.assert_clean()


def test_the_page_exports_the_labels_to_a_dataset(page, server, api, queue):
    p = page.page
    sign_in(p, server)
    p.goto(f"{server.root}/llm/annotations/{queue['id']}?item=1")
    if not labels_of(api, queue["id"])[queue["items"][0]]:
        p.keyboard.press("1")
        p.keyboard.press("Enter")
        p.wait_for_selector("#saved")
    name = unique("reviewed")
    p.fill("input[name=dataset_name]", name)
    p.select_option("select[name=label]", "topic")
    p.click("form.export button[type=submit]")
    p.wait_for_url("**/llm/datasets/**")
    page.shot("review-exported")
    dataset_id = p.url.rsplit("/", 1)[1].split("?")[0]
    records = api.list_llm_obs_dataset_records(queue["project"].id, dataset_id).data
    by_input = {r.input: r.expected_output for r in records}
    assert by_input["How do I get a refund?"] == "billing"
    page.assert_clean()


def test_without_sign_in_the_page_shows_but_saving_asks_to_sign_in(page, server, queue):
    p = page.page
    p.goto(f"{server.root}/llm/annotations/{queue['id']}?item=1")
    assert "Sign in with an API key and an application key" in p.inner_text("main")
    with p.expect_response(lambda r: "/items/" in r.url) as answer:
        p.keyboard.press("Enter")
    assert answer.value.status == 401
