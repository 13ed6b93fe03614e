"""The ddtrace 4.16.0 side of the interop test (crates/sdk/tests/interop.rs).

Reads the dataset our SDK created, runs its own experiment on it, lists the project's
experiments and pulls the one our SDK ran. Prints one JSON line.
"""

import json
import sys

from ddtrace.llmobs import LLMObs

args = json.loads(sys.argv[1])


def capital_task(input_data, config):
    return {"France": "Paris", "Italy": "Rome"}.get(input_data["country"], "Lyon")


def exact(input_data, output_data, expected_output):
    return output_data == expected_output


LLMObs.enable(ml_app="interop", agentless_enabled=True, project_name=args["project"])
dataset = LLMObs.pull_dataset(dataset_name=args["dataset"], project_name=args["project"])
experiment = LLMObs.experiment("py-exp", capital_task, dataset, [exact], project_name=args["project"])
experiment.run(jobs=2)
LLMObs.flush()

listed = LLMObs.list_experiments(project_name=args["project"])
pulled = LLMObs.pull_experiment(args["rust_id"])
result = pulled.result
rows = result["rows"] if isinstance(result, dict) else result.rows
out_rows = []
for row in rows:
    row = dict(row)
    evaluations = row.get("evaluations") or {}
    out_rows.append({
        "output": row.get("output"),
        "evaluations": {k: (v or {}).get("value") for k, v in evaluations.items()},
    })
print(json.dumps({
    "py_id": experiment._id,
    "dataset_records": len(dataset),
    "listed": [{"id": e["id"], "experiment": e["experiment"], "status": e["status"]} for e in listed],
    "rust_rows": out_rows,
}))
