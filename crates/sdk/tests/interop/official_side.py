"""The official datadog-api-client side of the SDK's official-client interop test.

Usage: python official_side.py ORIGIN API_KEY APP_KEY PROJECT DATASET. Creates the project,
a dataset with three records (the third then updated) through AgentObservabilityApi, and
prints {"project_id", "dataset_id", "records": [...]} as the client read them back.
"""

import json
import sys

from datadog_api_client import ApiClient, Configuration
from datadog_api_client.v2.api.agent_observability_api import AgentObservabilityApi

origin, api_key, app_key, project, dataset = sys.argv[1:6]
config = Configuration(host=origin)
config.api_key = {"apiKeyAuth": api_key, "appKeyAuth": app_key}
for name in list(config.unstable_operations.values):
    if "llm_obs" in name:
        config.unstable_operations[name.split(".", 1)[1]] = True
api = AgentObservabilityApi(ApiClient(config))

body = lambda kind, attrs, **extra: {"data": {"type": kind, "attributes": attrs, **extra}}  # noqa: E731
p = api.create_llm_obs_project(body("projects", {"name": project})).data
d = api.create_llm_obs_dataset(p.id, body("datasets", {"name": dataset, "description": "made by the official client"})).data
made = api.create_llm_obs_dataset_records(p.id, d.id, body("records", {"records": [
    {"input": {"country": "France"}, "expected_output": "Paris", "metadata": {"continent": "Europe"}},
    {"input": {"country": "Japan"}, "expected_output": "Tokyo"},
    {"input": "Capital of Peru?", "expected_output": "Lima?"},
]})).data[0].records
api.update_llm_obs_dataset_records(p.id, d.id, body("records", {"records": [{"id": made[2].id, "expected_output": "Lima"}]}))
listed = api.list_llm_obs_dataset_records(p.id, d.id).data
out = [{"id": r.id, "input": r.input if isinstance(r.input, str) else r.input.to_dict(),
        "expected_output": r.expected_output,
        "metadata": r.metadata.to_dict() if hasattr(r.metadata, "to_dict") else r.metadata} for r in listed]
print(json.dumps({"project_id": p.id, "dataset_id": d.id, "records": out}))
