"""The ddtrace 4.16.0 side of the interop test (crates/sdk/tests/interop.rs).

First call: reads the dataset our SDK created, runs its own experiment on it, lists the
project's experiments, pulls the one our SDK ran and re-scores it with another evaluator.
With "pull_only": pulls those experiments (reruns made by our SDK) and nothing else.
Prints one JSON line.
"""

import json
import sys

from ddtrace.llmobs import LLMObs

args = json.loads(sys.argv[1])


def capital_task(input_data, config):
    return {"France": "Paris", "Italy": "Rome"}.get(input_data["country"], "Lyon")


def exact(input_data, output_data, expected_output):
    return output_data == expected_output


def length(input_data, output_data, expected_output):
    return len(output_data or "")


def rows_of(experiment):
    result = experiment.result
    rows = result["rows"] if isinstance(result, dict) else result.rows
    out_rows = []
    for row in rows:
        row = dict(row)
        evaluations = row.get("evaluations") or {}
        out_rows.append({
            "record_id": row.get("record_id"),
            "output": row.get("output"),
            "evaluations": {k: (v or {}).get("value") for k, v in evaluations.items()},
        })
    return out_rows


LLMObs.enable(ml_app="interop", agentless_enabled=True, project_name=args["project"])
if args.get("pull_only"):
    print(json.dumps({"pulled": {i: rows_of(LLMObs.pull_experiment(i)) for i in args["pull_only"]}}))
    sys.exit(0)
dataset = LLMObs.pull_dataset(dataset_name=args["dataset"], project_name=args["project"])
experiment = LLMObs.experiment("py-exp", capital_task, dataset, [exact], project_name=args["project"])
experiment.run(jobs=2)
LLMObs.flush()

listed = LLMObs.list_experiments(project_name=args["project"])
pulled = LLMObs.pull_experiment(args["rust_id"])
rerun = pulled.rerun_evaluators([length])
LLMObs.flush()
print(json.dumps({
    "py_id": experiment._id,
    "py_rerun_id": rerun._id if hasattr(rerun, "_id") else rerun._experiment._id,
    "dataset_records": len(dataset),
    "listed": [{"id": e["id"], "experiment": e["experiment"], "status": e["status"]} for e in listed],
    "rust_rows": rows_of(pulled),
}))
