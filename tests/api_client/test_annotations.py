"""Annotation queues through the official client: all 13 operations (queues, label schemas,
interactions, annotations, annotated interactions by queue and by content id), their
validation answers, isolation between orgs, and the export of a queue's annotations to a
dataset (our route), read back with ddtrace's ``pull_dataset``."""

from __future__ import annotations

import pytest
from datadog_api_client.exceptions import ApiException, NotFoundException
from datadog_api_client.v2.model.llm_obs_annotated_interaction_response import LLMObsAnnotatedInteractionResponse
from datadog_api_client.v2.model.llm_obs_annotated_interactions_by_trace_response import (
    LLMObsAnnotatedInteractionsByTraceResponse,
)
from datadog_api_client.v2.model.llm_obs_annotated_interactions_response import LLMObsAnnotatedInteractionsResponse
from datadog_api_client.v2.model.llm_obs_annotation_label_value import LLMObsAnnotationLabelValue
from datadog_api_client.v2.model.llm_obs_annotation_queue_data_attributes_request import (
    LLMObsAnnotationQueueDataAttributesRequest,
)
from datadog_api_client.v2.model.llm_obs_annotation_queue_data_request import LLMObsAnnotationQueueDataRequest
from datadog_api_client.v2.model.llm_obs_annotation_queue_interactions_data_attributes_request import (
    LLMObsAnnotationQueueInteractionsDataAttributesRequest,
)
from datadog_api_client.v2.model.llm_obs_annotation_queue_interactions_data_request import (
    LLMObsAnnotationQueueInteractionsDataRequest,
)
from datadog_api_client.v2.model.llm_obs_annotation_queue_interactions_request import (
    LLMObsAnnotationQueueInteractionsRequest,
)
from datadog_api_client.v2.model.llm_obs_annotation_queue_interactions_response import (
    LLMObsAnnotationQueueInteractionsResponse,
)
from datadog_api_client.v2.model.llm_obs_annotation_queue_interactions_type import (
    LLMObsAnnotationQueueInteractionsType,
)
from datadog_api_client.v2.model.llm_obs_annotation_queue_label_schema_response import (
    LLMObsAnnotationQueueLabelSchemaResponse,
)
from datadog_api_client.v2.model.llm_obs_annotation_queue_label_schema_update_attributes import (
    LLMObsAnnotationQueueLabelSchemaUpdateAttributes,
)
from datadog_api_client.v2.model.llm_obs_annotation_queue_label_schema_update_data import (
    LLMObsAnnotationQueueLabelSchemaUpdateData,
)
from datadog_api_client.v2.model.llm_obs_annotation_queue_label_schema_update_request import (
    LLMObsAnnotationQueueLabelSchemaUpdateRequest,
)
from datadog_api_client.v2.model.llm_obs_annotation_queue_request import LLMObsAnnotationQueueRequest
from datadog_api_client.v2.model.llm_obs_annotation_queue_response import LLMObsAnnotationQueueResponse
from datadog_api_client.v2.model.llm_obs_annotation_queue_type import LLMObsAnnotationQueueType
from datadog_api_client.v2.model.llm_obs_annotation_queue_update_data_attributes_request import (
    LLMObsAnnotationQueueUpdateDataAttributesRequest,
)
from datadog_api_client.v2.model.llm_obs_annotation_queue_update_data_request import (
    LLMObsAnnotationQueueUpdateDataRequest,
)
from datadog_api_client.v2.model.llm_obs_annotation_queue_update_request import LLMObsAnnotationQueueUpdateRequest
from datadog_api_client.v2.model.llm_obs_annotation_queues_response import LLMObsAnnotationQueuesResponse
from datadog_api_client.v2.model.llm_obs_annotation_schema import LLMObsAnnotationSchema
from datadog_api_client.v2.model.llm_obs_annotations_data_attributes_request import (
    LLMObsAnnotationsDataAttributesRequest,
)
from datadog_api_client.v2.model.llm_obs_annotations_data_request import LLMObsAnnotationsDataRequest
from datadog_api_client.v2.model.llm_obs_annotations_request import LLMObsAnnotationsRequest
from datadog_api_client.v2.model.llm_obs_annotations_response import LLMObsAnnotationsResponse
from datadog_api_client.v2.model.llm_obs_annotations_type import LLMObsAnnotationsType
from datadog_api_client.v2.model.llm_obs_content_block import LLMObsContentBlock
from datadog_api_client.v2.model.llm_obs_content_block_type import LLMObsContentBlockType
from datadog_api_client.v2.model.llm_obs_delete_annotation_queue_interactions_data_attributes_request import (
    LLMObsDeleteAnnotationQueueInteractionsDataAttributesRequest,
)
from datadog_api_client.v2.model.llm_obs_delete_annotation_queue_interactions_data_request import (
    LLMObsDeleteAnnotationQueueInteractionsDataRequest,
)
from datadog_api_client.v2.model.llm_obs_delete_annotation_queue_interactions_request import (
    LLMObsDeleteAnnotationQueueInteractionsRequest,
)
from datadog_api_client.v2.model.llm_obs_delete_annotations_data_attributes_request import (
    LLMObsDeleteAnnotationsDataAttributesRequest,
)
from datadog_api_client.v2.model.llm_obs_delete_annotations_data_request import LLMObsDeleteAnnotationsDataRequest
from datadog_api_client.v2.model.llm_obs_delete_annotations_request import LLMObsDeleteAnnotationsRequest
from datadog_api_client.v2.model.llm_obs_delete_annotations_response import LLMObsDeleteAnnotationsResponse
from datadog_api_client.v2.model.llm_obs_display_block_interaction_item import LLMObsDisplayBlockInteractionItem
from datadog_api_client.v2.model.llm_obs_display_block_interaction_type import LLMObsDisplayBlockInteractionType
from datadog_api_client.v2.model.llm_obs_label_schema import LLMObsLabelSchema
from datadog_api_client.v2.model.llm_obs_label_schema_type import LLMObsLabelSchemaType
from datadog_api_client.v2.model.llm_obs_trace_interaction_item import LLMObsTraceInteractionItem
from datadog_api_client.v2.model.llm_obs_trace_interaction_type import LLMObsTraceInteractionType
from datadog_api_client.v2.model.llm_obs_upsert_annotation_item import LLMObsUpsertAnnotationItem

from harness import run_llmobs, unique
from query_support import now_ns, post_spans, span_event

QUEUES = LLMObsAnnotationQueueType.QUEUES


def labels() -> list[LLMObsLabelSchema]:
    """The schema the tests use: a score, a categorical, a boolean and a text label."""
    return [
        LLMObsLabelSchema(name="quality", type=LLMObsLabelSchemaType.SCORE, min=1.0, max=5.0, is_integer=True,
                          is_required=True, description="How good the answer is"),
        LLMObsLabelSchema(name="topic", type=LLMObsLabelSchemaType.CATEGORICAL, values=["billing", "bug", "other"]),
        LLMObsLabelSchema(name="resolved", type=LLMObsLabelSchemaType.BOOLEAN),
        LLMObsLabelSchema(name="better_answer", type=LLMObsLabelSchemaType.TEXT, has_reasoning=True),
    ]


def create_queue(api, project_id, name=None, schema=None, **extra):
    attrs = LLMObsAnnotationQueueDataAttributesRequest(name=name or unique("queue"), project_id=project_id, **extra)
    if schema is not None:
        attrs.annotation_schema = LLMObsAnnotationSchema(label_schemas=schema)
    return api.create_llm_obs_annotation_queue(
        LLMObsAnnotationQueueRequest(data=LLMObsAnnotationQueueDataRequest(type=QUEUES, attributes=attrs))
    )


def add_body(*items) -> LLMObsAnnotationQueueInteractionsRequest:
    return LLMObsAnnotationQueueInteractionsRequest(
        data=LLMObsAnnotationQueueInteractionsDataRequest(
            type=LLMObsAnnotationQueueInteractionsType.INTERACTIONS,
            attributes=LLMObsAnnotationQueueInteractionsDataAttributesRequest(interactions=list(items)),
        )
    )


def trace_item(trace_id: str) -> LLMObsTraceInteractionItem:
    return LLMObsTraceInteractionItem(type=LLMObsTraceInteractionType.TRACE, content_id=trace_id)


def upsert_body(interaction_id: str, values: dict[str, object], reasoning: dict[str, str] | None = None):
    """An upsert of one annotation; ``values`` by label schema id."""
    label_values = []
    for label_id, value in values.items():
        lv = LLMObsAnnotationLabelValue(label_schema_id=label_id, value=value)
        if reasoning and label_id in reasoning:
            lv.reasoning = reasoning[label_id]
        label_values.append(lv)
    return LLMObsAnnotationsRequest(
        data=LLMObsAnnotationsDataRequest(
            type=LLMObsAnnotationsType.ANNOTATIONS,
            attributes=LLMObsAnnotationsDataAttributesRequest(
                annotations=[LLMObsUpsertAnnotationItem(interaction_id=interaction_id, label_values=label_values)]
            ),
        )
    )


def schema_body(schema) -> LLMObsAnnotationQueueLabelSchemaUpdateRequest:
    return LLMObsAnnotationQueueLabelSchemaUpdateRequest(
        data=LLMObsAnnotationQueueLabelSchemaUpdateData(
            type=QUEUES,
            attributes=LLMObsAnnotationQueueLabelSchemaUpdateAttributes(
                annotation_schema=LLMObsAnnotationSchema(label_schemas=schema)
            ),
        )
    )


def ids_by_name(queue_attributes) -> dict[str, str]:
    return {label.name: label.id for label in queue_attributes.annotation_schema.label_schemas}


def post_trace(server, question: str, answer: str, session_id: str | None = None) -> str:
    """Stores a two-span trace (a workflow root and an LLM call) through the span intake."""
    trace_id = unique("trace")
    start = now_ns()
    post_spans(server, [
        span_event(trace_id, trace_id + "-root", name="answer", kind="workflow", ml_app="support", start_ns=start,
                   input_value=question, output_value=answer, session_id=session_id),
        span_event(trace_id, trace_id + "-llm", name="chat", kind="llm", ml_app="support", start_ns=start + 10,
                   parent_id=trace_id + "-root", input_value=f"prompt: {question}", output_value=answer,
                   session_id=session_id),
    ])
    return trace_id


def test_queues_are_created_listed_updated_and_deleted(api, project):
    made = create_queue(api, project.id, name=unique("support-review"), schema=labels(),
                        description="review support answers", reviewer_emails=["a@example.com"])
    assert isinstance(made, LLMObsAnnotationQueueResponse)
    queue = made.data
    assert str(queue.type) == "queues"
    attrs = queue.attributes
    assert attrs.project_id == project.id and attrs.description == "review support answers"
    assert attrs.reviewer_emails == ["a@example.com"] and attrs.restrict_to_reviewers is False
    assert attrs.created_by == attrs.owned_by == attrs.modified_by and attrs.created_at == attrs.modified_at
    names = [label.name for label in attrs.annotation_schema.label_schemas]
    assert names == ["quality", "topic", "resolved", "better_answer"]
    assert all(label.id for label in attrs.annotation_schema.label_schemas), "the server gives every label an id"

    other = create_queue(api, project.id).data
    listed = api.list_llm_obs_annotation_queues(project_id=project.id)
    assert isinstance(listed, LLMObsAnnotationQueuesResponse)
    assert [q.id for q in listed.data] == [queue.id, other.id]
    assert [q.id for q in api.list_llm_obs_annotation_queues(queue_ids=[other.id]).data] == [other.id]
    assert other.id in [q.id for q in api.list_llm_obs_annotation_queues().data]

    schema = api.get_llm_obs_annotation_queue_label_schema(queue.id)
    assert isinstance(schema, LLMObsAnnotationQueueLabelSchemaResponse) and schema.data.id == queue.id
    assert ids_by_name(schema.data.attributes) == ids_by_name(attrs)

    renamed = api.update_llm_obs_annotation_queue(queue.id, LLMObsAnnotationQueueUpdateRequest(
        data=LLMObsAnnotationQueueUpdateDataRequest(
            type=QUEUES, attributes=LLMObsAnnotationQueueUpdateDataAttributesRequest(
                name="renamed", restrict_to_reviewers=True))))
    assert renamed.data.attributes.name == "renamed" and renamed.data.attributes.restrict_to_reviewers is True
    assert renamed.data.attributes.description == "review support answers", "fields not sent stay"

    kept = ids_by_name(attrs)["quality"]
    replaced = api.update_llm_obs_annotation_queue_label_schema(queue.id, schema_body([
        LLMObsLabelSchema(id=kept, name="quality", type=LLMObsLabelSchemaType.SCORE, min=0.0, max=10.0),
        LLMObsLabelSchema(name="tone", type=LLMObsLabelSchemaType.CATEGORICAL, values=["kind", "rude"]),
    ]))
    assert [(label.name, label.id == kept) for label in replaced.data.attributes.annotation_schema.label_schemas] == [
        ("quality", True), ("tone", False)]
    assert [label.name for label in api.get_llm_obs_annotation_queue_label_schema(queue.id)
            .data.attributes.annotation_schema.label_schemas] == ["quality", "tone"]

    api.delete_llm_obs_annotation_queue(other.id)
    assert [q.id for q in api.list_llm_obs_annotation_queues(project_id=project.id).data] == [queue.id]
    with pytest.raises(NotFoundException):
        api.get_llm_obs_annotation_queue_label_schema(other.id)


def test_interactions_are_annotated_and_read_back(api, server, project):
    question_trace = post_trace(server, "How do I get a refund?", "Open Billing and click Refund.")
    queue = create_queue(api, project.id, schema=labels()).data
    label = ids_by_name(queue.attributes)
    block = LLMObsDisplayBlockInteractionItem(
        type=LLMObsDisplayBlockInteractionType.DISPLAY_BLOCK,
        display_block=[LLMObsContentBlock(type=LLMObsContentBlockType.MARKDOWN, content="**Is this polite?**")],
    )
    added = api.create_llm_obs_annotation_queue_interactions(queue.id, add_body(trace_item(question_trace), block))
    assert isinstance(added, LLMObsAnnotationQueueInteractionsResponse) and added.data.id == queue.id
    first, second = added.data.attributes.interactions
    assert (str(first.type), first.content_id, first.already_existed) == ("trace", question_trace, False)
    assert str(second.type) == "display_block" and second.content_id and not second.already_existed
    again = api.create_llm_obs_annotation_queue_interactions(queue.id, add_body(block, trace_item(question_trace)))
    assert [(i.id, i.already_existed) for i in again.data.attributes.interactions] == [
        (second.id, True), (first.id, True)], "the same blocks get the same content id"

    saved = api.upsert_llm_obs_annotations(queue.id, upsert_body(first.id, {label["quality"]: 4, label["topic"]: "billing"}))
    assert isinstance(saved, LLMObsAnnotationsResponse)
    (annotation,) = saved.data.attributes.annotations
    assert annotation.interaction_id == first.id
    assert [(v.name_when_saved, str(v.type), v.value) for v in annotation.label_values] == [
        ("quality", "score", 4), ("topic", "categorical", "billing")]
    # A second upsert by the same user changes one label and keeps the other.
    merged = api.upsert_llm_obs_annotations(queue.id, upsert_body(
        first.id, {label["quality"]: 5, label["better_answer"]: "Go to Billing > Refund."},
        reasoning={label["better_answer"]: "names the menu"})).data.attributes.annotations[0]
    assert merged.id == annotation.id
    assert {v.name_when_saved: v.value for v in merged.label_values} == {
        "quality": 5, "topic": "billing", "better_answer": "Go to Billing > Refund."}
    api.upsert_llm_obs_annotations(queue.id, upsert_body(second.id, {label["resolved"]: False}))

    listed = api.get_llm_obs_annotated_interactions(queue.id)
    assert isinstance(listed, LLMObsAnnotatedInteractionsResponse) and listed.data.id == queue.id
    items = listed.data.attributes.annotated_interactions
    assert [(i.id, str(i.type)) for i in items] == [(first.id, "trace"), (second.id, "display_block")]
    values = items[0].annotations[0].label_values
    assert values["quality"]["value"] == 5 and values["topic"]["value"] == "billing"
    assert values["better_answer"]["reasoning"] == "names the menu"
    assert items[1].annotations[0].label_values["resolved"]["value"] is False
    assert items[1].display_block[0].content == "**Is this polite?**"

    one = api.get_llm_obs_annotated_interaction(queue.id, first.id, limit=1)
    assert isinstance(one, LLMObsAnnotatedInteractionResponse)
    page = one.data.attributes
    assert str(page.interaction_type) == "trace" and page.annotated_interaction.id == first.id
    assert [e.id for e in page.events] == [question_trace + "-root"] and page.next_cursor
    rest = api.get_llm_obs_annotated_interaction(queue.id, first.id, limit=10, cursor=page.next_cursor).data.attributes
    assert [e.id for e in rest.events] == [question_trace + "-llm"] and "next_cursor" not in rest
    assert rest.events[0].attributes["output"]["value"] == "Open Billing and click Refund."
    events = list(api.get_llm_obs_annotated_interaction_with_pagination(queue.id, first.id, limit=1))
    assert [e.id for e in events] == [question_trace + "-root", question_trace + "-llm"]

    # The cross-queue lookup finds the trace in every queue that holds it.
    elsewhere = create_queue(api, project.id, name=unique("second-look"), schema=labels()).data
    api.create_llm_obs_annotation_queue_interactions(elsewhere.id, add_body(trace_item(question_trace)))
    found = api.get_llm_obs_annotated_interactions_by_trace_i_ds([question_trace, "no-such-trace"])
    assert isinstance(found, LLMObsAnnotatedInteractionsByTraceResponse)
    assert str(found.data.type) == "annotated_interactions_by_trace" and found.data.attributes.total_count == 2
    by_queue = {i.queue_id: i for i in found.data.attributes.annotated_interactions}
    assert set(by_queue) == {queue.id, elsewhere.id}
    assert by_queue[queue.id].queue_name == queue.attributes.name and len(by_queue[queue.id].annotations) == 1
    assert by_queue[elsewhere.id].annotations == []
    paged = api.get_llm_obs_annotated_interactions_by_trace_i_ds([question_trace], offset=1, limit=1).data.attributes
    assert paged.total_count == 2 and len(paged.annotated_interactions) == 1

    deleted = api.delete_llm_obs_annotations(queue.id, LLMObsDeleteAnnotationsRequest(
        data=LLMObsDeleteAnnotationsDataRequest(
            type=LLMObsAnnotationsType.ANNOTATIONS,
            attributes=LLMObsDeleteAnnotationsDataAttributesRequest(annotation_ids=[annotation.id, "not-an-annotation"]))))
    assert isinstance(deleted, LLMObsDeleteAnnotationsResponse)
    assert deleted.data.attributes.annotation_ids == [annotation.id]
    assert [e.annotation_id for e in deleted.data.attributes.errors] == ["not-an-annotation"]
    assert api.get_llm_obs_annotated_interactions(queue.id).data.attributes.annotated_interactions[0].annotations == []

    api.delete_llm_obs_annotation_queue_interactions(queue.id, LLMObsDeleteAnnotationQueueInteractionsRequest(
        data=LLMObsDeleteAnnotationQueueInteractionsDataRequest(
            type=LLMObsAnnotationQueueInteractionsType.INTERACTIONS,
            attributes=LLMObsDeleteAnnotationQueueInteractionsDataAttributesRequest(interaction_ids=[second.id]))))
    left = api.get_llm_obs_annotated_interactions(queue.id).data.attributes.annotated_interactions
    assert [i.id for i in left] == [first.id]


def detail(exc: ApiException) -> str:
    return exc.body if isinstance(exc.body, str) else str(exc.body)


def test_bad_input_gets_a_clear_answer_and_writes_nothing(api, project):
    queue = create_queue(api, project.id, schema=labels()).data
    label = ids_by_name(queue.attributes)
    added = api.create_llm_obs_annotation_queue_interactions(queue.id, add_body(trace_item(unique("t"))))
    interaction = added.data.attributes.interactions[0].id

    cases = [
        ({"no-such-label": 3}, "is not a label of this queue"),
        ({label["quality"]: "great"}, "is a score: send a number"),
        ({label["quality"]: 9}, "from 1 to 5"),
        ({label["quality"]: 2.5}, "whole numbers"),
        ({label["topic"]: "weather"}, "takes one of"),
        ({label["resolved"]: "yes"}, "send true or false"),
        ({label["better_answer"]: ""}, "non-empty string"),
    ]
    for values, expected in cases:
        with pytest.raises(ApiException) as err:
            api.upsert_llm_obs_annotations(queue.id, upsert_body(interaction, values))
        assert err.value.status == 400 and expected in detail(err.value), (values, detail(err.value))
    reasoning = {label["quality"]: "why"}
    with pytest.raises(ApiException) as err:
        api.upsert_llm_obs_annotations(queue.id, upsert_body(interaction, {label["quality"]: 3}, reasoning))
    assert err.value.status == 400 and "takes no reasoning" in detail(err.value)
    assert api.get_llm_obs_annotated_interactions(queue.id).data.attributes.annotated_interactions[0].annotations == []

    with pytest.raises(NotFoundException) as err:
        api.upsert_llm_obs_annotations(queue.id, upsert_body("no-such-interaction", {label["quality"]: 3}))
    assert "is not in annotation queue" in detail(err.value)
    with pytest.raises(NotFoundException) as err:
        api.upsert_llm_obs_annotations("no-such-queue", upsert_body(interaction, {label["quality"]: 3}))
    assert "annotation queue 'no-such-queue' not found" in detail(err.value)
    with pytest.raises(NotFoundException):
        api.get_llm_obs_annotated_interaction(queue.id, "no-such-interaction")
    with pytest.raises(NotFoundException):
        create_queue(api, "no-such-project")

    for schema, expected in [
        ([LLMObsLabelSchema(name="bad name", type=LLMObsLabelSchemaType.TEXT)], "not a valid label name"),
        ([LLMObsLabelSchema(name="a", type=LLMObsLabelSchemaType.TEXT),
          LLMObsLabelSchema(name="a", type=LLMObsLabelSchemaType.BOOLEAN)], "used twice"),
        ([LLMObsLabelSchema(name="c", type=LLMObsLabelSchemaType.CATEGORICAL)], "at least one value"),
        ([LLMObsLabelSchema(name="s", type=LLMObsLabelSchemaType.SCORE, min=5.0, max=1.0)], "over max"),
    ]:
        with pytest.raises(ApiException) as err:
            api.update_llm_obs_annotation_queue_label_schema(queue.id, schema_body(schema))
        assert err.value.status == 400 and expected in detail(err.value), detail(err.value)
    kept = api.get_llm_obs_annotation_queue_label_schema(queue.id).data.attributes.annotation_schema
    assert [label.name for label in kept.label_schemas] == ["quality", "topic", "resolved", "better_answer"]

    with pytest.raises(ApiException) as err:
        api.list_llm_obs_annotation_queues(project_id=project.id, queue_ids=[queue.id])
    assert err.value.status == 400 and "cannot be used together" in detail(err.value)
    with pytest.raises(ApiException) as err:
        api.create_llm_obs_annotation_queue_interactions(queue.id, add_body(trace_item("")))
    assert err.value.status == 400 and "content_id" in detail(err.value)
    with pytest.raises(NotFoundException):
        api.delete_llm_obs_annotation_queue_interactions(queue.id, LLMObsDeleteAnnotationQueueInteractionsRequest(
            data=LLMObsDeleteAnnotationQueueInteractionsRequest.openapi_types["data"][0](
                type=LLMObsAnnotationQueueInteractionsType.INTERACTIONS,
                attributes=LLMObsDeleteAnnotationQueueInteractionsDataAttributesRequest(
                    interaction_ids=[interaction, "no-such-interaction"]))))
    assert len(api.get_llm_obs_annotated_interactions(queue.id).data.attributes.annotated_interactions) == 1


def test_another_org_sees_none_of_it(api, other_org_api, server, project):
    trace_id = post_trace(server, "Where is my parcel?", "It ships tomorrow.")
    queue = create_queue(api, project.id, schema=labels()).data
    label = ids_by_name(queue.attributes)
    interaction = api.create_llm_obs_annotation_queue_interactions(
        queue.id, add_body(trace_item(trace_id))).data.attributes.interactions[0].id
    api.upsert_llm_obs_annotations(queue.id, upsert_body(interaction, {label["quality"]: 3}))

    assert queue.id not in [q.id for q in other_org_api.list_llm_obs_annotation_queues().data]
    assert other_org_api.list_llm_obs_annotation_queues(queue_ids=[queue.id]).data == []
    for call in [
        lambda: other_org_api.get_llm_obs_annotation_queue_label_schema(queue.id),
        lambda: other_org_api.get_llm_obs_annotated_interactions(queue.id),
        lambda: other_org_api.get_llm_obs_annotated_interaction(queue.id, interaction),
        lambda: other_org_api.upsert_llm_obs_annotations(queue.id, upsert_body(interaction, {label["quality"]: 1})),
        lambda: other_org_api.create_llm_obs_annotation_queue_interactions(queue.id, add_body(trace_item("x"))),
        lambda: other_org_api.update_llm_obs_annotation_queue_label_schema(queue.id, schema_body(labels())),
        lambda: other_org_api.delete_llm_obs_annotation_queue(queue.id),
        lambda: create_queue(other_org_api, project.id),
    ]:
        with pytest.raises(NotFoundException):
            call()
    assert other_org_api.get_llm_obs_annotated_interactions_by_trace_i_ds([trace_id]).data.attributes.total_count == 0
    # The other org's own queue on the same trace id shows nothing of the first org's spans.
    from datadog_api_client.v2.model.llm_obs_project_data_attributes_request import LLMObsProjectDataAttributesRequest
    from datadog_api_client.v2.model.llm_obs_project_data_request import LLMObsProjectDataRequest
    from datadog_api_client.v2.model.llm_obs_project_request import LLMObsProjectRequest
    from datadog_api_client.v2.model.llm_obs_project_type import LLMObsProjectType

    theirs = other_org_api.create_llm_obs_project(LLMObsProjectRequest(data=LLMObsProjectDataRequest(
        type=LLMObsProjectType.PROJECTS, attributes=LLMObsProjectDataAttributesRequest(name=unique("theirs"))))).data
    their_queue = create_queue(other_org_api, theirs.id).data
    their_item = other_org_api.create_llm_obs_annotation_queue_interactions(
        their_queue.id, add_body(trace_item(trace_id))).data.attributes.interactions[0].id
    assert other_org_api.get_llm_obs_annotated_interaction(their_queue.id, their_item).data.attributes.events == []
    # And the first org still has its annotation.
    mine = api.get_llm_obs_annotated_interactions(queue.id).data.attributes.annotated_interactions
    assert mine[0].annotations[0].label_values["quality"]["value"] == 3


PULL = r'''
enable()
ds = call("pull", lambda: LLMObs.pull_dataset(dataset_name=ARGS["dataset"], project_name=ARGS["project"]))
R["ds"] = ds_info(ds)
'''


def export(server, queue_id: str, **attributes):
    return server.request("POST", f"/api/v2/llm-obs/v1/annotation-queues/{queue_id}/export",
                          json_body={"data": {"type": "annotation_exports", "attributes": attributes}})


def test_an_export_becomes_a_dataset_ddtrace_pulls(api, server, project):
    refund = post_trace(server, "How do I get a refund?", "Open Billing and click Refund.")
    login = post_trace(server, "I cannot log in", "Reset your password.")
    queue = create_queue(api, project.id, schema=labels()).data
    label = ids_by_name(queue.attributes)
    items = api.create_llm_obs_annotation_queue_interactions(
        queue.id, add_body(trace_item(refund), trace_item(login), trace_item(unique("unreviewed")))
    ).data.attributes.interactions
    api.upsert_llm_obs_annotations(queue.id, upsert_body(items[0].id, {
        label["quality"]: 4, label["topic"]: "billing", label["better_answer"]: "Billing > Refund."}))
    api.upsert_llm_obs_annotations(queue.id, upsert_body(items[1].id, {label["quality"]: 2, label["topic"]: "bug"}))

    name = unique("reviewed")
    resp = export(server, queue.id, dataset_name=name)
    assert resp.status == 200, resp
    outcome = resp.json()["data"]["attributes"]
    assert (outcome["records"], outcome["unchanged"], outcome["skipped"]) == (2, 0, 0)
    assert outcome["version"] == 1 and outcome["project_id"] == project.id
    # Exported again, nothing changed: no record is added twice.
    again = export(server, queue.id, dataset_name=name).json()["data"]["attributes"]
    assert (again["records"], again["unchanged"], again["dataset_id"]) == (0, 2, outcome["dataset_id"])

    run = run_llmobs(server, PULL, args={"project": project.attributes.name, "dataset": name})
    ds = run.ok("pull") and run.values["ds"]
    assert ds["id"] == outcome["dataset_id"] and ds["len"] == 2
    rows = sorted(ds["records"], key=lambda r: r["input_data"])
    assert [(r["input_data"], r["expected_output"]) for r in rows] == [
        ("How do I get a refund?", {"quality": 4, "topic": "billing", "better_answer": "Billing > Refund."}),
        ("I cannot log in", {"quality": 2, "topic": "bug"}),
    ]
    meta = rows[0]["metadata"]
    assert meta["output"] == "Open Billing and click Refund." and meta["content_id"] == refund
    assert meta["interaction_id"] == items[0].id and meta["interaction_type"] == "trace"

    # Labels as metadata: the model's output becomes the expected output; one label alone.
    as_meta = unique("as-metadata")
    assert export(server, queue.id, dataset_name=as_meta, labels_as="metadata").status == 200
    one_label = unique("topic-only")
    outcome = export(server, queue.id, dataset_name=one_label, label="better_answer").json()["data"]["attributes"]
    assert (outcome["records"], outcome["skipped"]) == (1, 1)
    run = run_llmobs(server, PULL, args={"project": project.attributes.name, "dataset": as_meta})
    rows = sorted(run.ok("pull") and run.values["ds"]["records"], key=lambda r: r["input_data"])
    assert [(r["expected_output"], r["metadata"]["labels"]["quality"]) for r in rows] == [
        ("Open Billing and click Refund.", 4), ("Reset your password.", 2)]

    bad = export(server, queue.id, dataset_name=unique("x"), label="nope")
    assert bad.status == 400 and "not a label of this queue" in bad.text
    assert export(server, "no-such-queue", dataset_name=unique("x")).status == 404
    assert export(server, queue.id, labels_as="metadata").status == 400
