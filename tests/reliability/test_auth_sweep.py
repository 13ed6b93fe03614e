"""Every route of ``/openapi.json`` with no key, a wrong key, another org's keys, and an API
key without its application key: the status each case must get, and 0 leaks.

What a case must answer:

- **public** routes (``/healthz``, ``/openapi.json``) answer 200 whatever the keys, and the
  UI's ``/sign-in`` and ``/sign-out`` ignore key headers (the form carries the keys);
- the UI's forms that write (``POST /llm/...``) answer 401 to every case: they need a
  signed-in session's cookie and CSRF token, never key headers;
- **no key**: 401 everywhere else, except the web UI (``/`` and ``/llm/...``), which a browser on the
  server's own machine (a loopback address, no ``DD-API-KEY``) may read (200, or 400/404
  for a bad query or an unknown id), and the span and
  metric intake, which also takes keyless agent-proxy requests (not sent here: without
  ``X-Datadog-EVP-Subdomain`` a keyless intake request is a 401);
- **wrong API key**: 403 everywhere but the public routes;
- **API key without application key**: reads answer as with both keys; writes answer 401
  (the searches, ``POST …/projects`` finding an existing name, and the intake are reads
  or need no application key);
- **another org's keys** on org A's ids: never 2xx for a route that names one of A's
  objects in its path or body (404, or 400 when the body is refused first); lists answer
  2xx with B's own objects only. ddtrace's ``GET …/unstable/…/prompts/{id}/versions`` is
  the one exception: ``prompts.md`` has it answer 200 ``[]`` for a prompt it cannot see.

A leak is any answer to a key other than org A's that contains one of A's secrets (text
stored only inside A's objects), or any change to A's objects: the test reads A's objects
before and after the sweep and compares them.
"""

from __future__ import annotations

import json
import re
import secrets

import pytest

from harness import PROMPTS, V1, V2

PUBLIC = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/openapi.json")}
# The web UI's sign-in and sign-out: how a browser gets (and ends) a session.
SESSION = {"/sign-in", "/sign-out"}
INTAKE = {"/api/v2/llmobs", "/api/intake/llm-obs/v2/eval-metric"}
# POST routes that read (or create-or-get) and so need only the API key.
POST_READS = {
    "/api/v2/llm-obs/v1/spans/events/search",
    "/api/v2/llm-obs/v1/experimentation/search",
    "/api/v2/llm-obs/v1/experimentation/simple-search",
    "/api/v2/llm-obs/v1/experimentation/analytics",
}
SECRET = "secret-" + secrets.token_hex(8)


def doc(kind: str, **attributes) -> dict:
    return {"data": {"type": kind, "attributes": attributes}}


@pytest.fixture(scope="module")
def org_a(server):
    """Org A's objects, each holding SECRET somewhere only a reader of A can see."""
    ids = {"prompt_id": "sweep-prompt", "version": "1", "eval_name": "sweep-eval"}
    r = server.api("POST", "", json_body={"prompt_id": ids["prompt_id"], "labels": ["production"],
                                          "template": [{"role": "user", "content": f"{SECRET} {{{{x}}}}"}]})
    assert r.status == 200, r
    ids["project_id"] = server.project(f"project {SECRET}")
    r = server.x("POST", f"{V1}/{ids['project_id']}/datasets", json_body=doc("datasets", name=f"ds {SECRET}",
                                                                             description=SECRET))
    assert r.status == 200, r
    ids["dataset_id"] = r.json()["data"]["id"]
    r = server.x("POST", f"{V2}/{ids['project_id']}/datasets/{ids['dataset_id']}/batch_update",
                 json_body=doc("datasets", insert_records=[{"id": "rec-1", "input": {"q": SECRET},
                                                             "tags": ["k:v"]}]))
    assert r.status == 200, r
    r = server.x("POST", f"{V1}/experiments", json_body=doc(
        "experiments", name=f"exp {SECRET}", dataset_id=ids["dataset_id"], project_id=ids["project_id"],
        description=SECRET, metadata={"tags": []}))
    assert r.status == 200, r
    ids["experiment_id"] = r.json()["data"]["id"]
    return ids


def snapshot(server, ids) -> str:
    """Everything org A can read about its objects, as one text."""
    reads = [
        f"{PROMPTS}/{ids['prompt_id']}",
        f"{PROMPTS}/{ids['prompt_id']}/versions",
        f"{V2}/projects",
        f"{V2}/{ids['project_id']}/datasets",
        f"{V2}/{ids['project_id']}/datasets/{ids['dataset_id']}/records",
        f"{V2}/experiments?filter[id]={ids['experiment_id']}",
        f"{V1}/experiments/{ids['experiment_id']}/events",
    ]
    out = []
    for path in reads:
        r = server.x("GET", path, app_key=None)
        assert r.status == 200, (path, r)
        out.append(r.text)
    return "\n".join(out)


def operations(server) -> list[tuple[str, str]]:
    r = server.request("GET", "/openapi.json", api_key=None, app_key=None)
    assert r.status == 200, r
    ops = [(method.upper(), path) for path, item in r.json()["paths"].items()
           for method in item if method in ("get", "post", "put", "patch", "delete")]
    assert len(ops) > 80, f"only {len(ops)} operations documented"
    return ops


def body_for(method: str, path: str, ids: dict) -> dict | None:
    """A body naming A's objects where the route takes ids in its body; an empty JSON:API
    document otherwise (a route that checks the body first answers 400 then)."""
    if method == "GET" or method == "DELETE":
        return None
    if path.endswith("/datasets/delete"):
        return doc("datasets", dataset_ids=[ids["dataset_id"]])
    if path.endswith("/experiments/delete"):
        return doc("experiments", experiment_ids=[ids["experiment_id"]])
    if path.endswith("/projects/delete"):
        return doc("projects", project_ids=[ids["project_id"]])
    if path.endswith("/records/delete"):
        return doc("datasets", record_ids=["rec-1"])
    if path.endswith("/batch_update"):
        return doc("datasets", delete_records=["rec-1"])
    if path.endswith("/experiments") and method == "POST":
        return doc("experiments", name="x", dataset_id=ids["dataset_id"], project_id=ids["project_id"])
    if path.rstrip("/").endswith("/prompts/{prompt_id}") and method == "PATCH":
        return {"description": "changed"}
    return doc("x")


def body_names_a(method: str, path: str) -> bool:
    """Whether ``body_for`` puts A's ids in the body of this route."""
    return path.endswith("/delete") or path.endswith("/batch_update") or (
        method == "POST" and path.endswith("/experiments"))


def fill(path: str, ids: dict) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: ids.get(m.group(1), f"unknown-{m.group(1)}"), path)


def names_a_of_objects(path: str) -> bool:
    return "{" in path


def is_ui(path: str) -> bool:
    return path == "/" or path.startswith("/llm")


def is_write(method: str, path: str) -> bool:
    return method != "GET" and path not in POST_READS and path not in INTAKE


def expected(case: str, method: str, path: str) -> set[int]:
    if (method, path) in PUBLIC:
        return {200}
    if path in SESSION:
        # The sign-in form (200), a sign-in with no or wrong keys in its form (401), and
        # sign-out (303 to the form): the same whatever headers come with them.
        return {200, 303, 401}
    ui = is_ui(path)
    if ui and method == "POST":
        return {401}  # a UI form writes only with a signed-in session's cookie and token
    if case == "no key":
        if ui:
            return {200, 400, 404}
        return {401}
    if case == "wrong key":
        return {403}
    if case == "api key only":
        if is_write(method, path) and not path.endswith("/projects"):
            return {401}
        return set(range(200, 500)) - {401, 403}  # as with both keys: judged by the other cases
    # another org
    if method == "GET" and path == PROMPTS + "/{prompt_id}/versions":
        return {200}  # ddtrace's E11 answers [] for a prompt it cannot see (prompts.md)
    if names_a_of_objects(path) or body_names_a(method, path):
        return {400, 404}
    if method == "GET" and path.endswith("/topic-discovery-configs/latest"):
        return {404}  # another org has no topic discovery config of its own
    return set(range(200, 300)) | {400}


def test_every_route_every_key_case_and_no_leaks(server, org_a):
    ids = org_a
    api_b, app_b = server.create_org("sweep-b-" + secrets.token_hex(3))
    keys = {
        "no key": (None, None),
        "wrong key": ("0" * 32, "0" * 40),
        "api key only": (server.api_key, None),
        "another org": (api_b, app_b),
    }
    before = snapshot(server, ids)
    assert SECRET in before
    wrong: list[str] = []
    leaks: list[str] = []
    counted = 0
    for method, path in operations(server):
        url = fill(path, ids)
        body = body_for(method, path, ids)
        for case, (api_key, app_key) in keys.items():
            r = server.request(method, url, json_body=body, api_key=api_key, app_key=app_key) \
                if body is not None else server.request(method, url, api_key=api_key, app_key=app_key)
            counted += 1
            if r.status not in expected(case, method, path):
                wrong.append(f"{case}: {method} {url} -> {r.status} {r.body[:160]!r}")
            if r.status >= 500:
                wrong.append(f"{case}: {method} {url} -> 5xx {r.body[:160]!r}")
            if case != "api key only" and not (case == "no key" and is_ui(path)) \
                    and SECRET.encode() in r.body:
                leaks.append(f"{case}: {method} {url} -> {r.status} shows org A's data")
    after = snapshot(server, ids)
    print(f"auth sweep: {counted} requests over {counted // len(keys)} operations, "
          f"{len(wrong)} unexpected statuses, {len(leaks)} leaks")
    assert not leaks and not wrong, "\n".join(leaks + wrong)
    assert after == before, "org A's objects changed during the sweep"
