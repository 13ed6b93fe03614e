"""The reference side of bench/runner.sh: ddtrace 4.16.0 runs the same experiment as
the SDK's bench_runner example (same dataset, same task, 3 local evaluators) and prints
one JSON line with the wall time of run().

    python runner_ddtrace.py RECORDS SLEEP_MS JOBS sync|async
"""

import asyncio
import json
import sys
import time

from ddtrace.llmobs import LLMObs

records, sleep_ms, jobs, mode = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
LLMObs.enable(ml_app="bench", agentless_enabled=True, project_name="bench-runner")
dataset = LLMObs.pull_dataset(dataset_name=f"runner-{records}-{sleep_ms}", project_name="bench-runner")
assert len(dataset) == records, f"pulled {len(dataset)} records, expected {records}"


def answer(input_data):
    return len(input_data["question"]) % 2 == 0


def task(input_data, config):
    if sleep_ms:
        time.sleep(sleep_ms / 1000)
    return answer(input_data)


async def async_task(input_data, config):
    if sleep_ms:
        await asyncio.sleep(sleep_ms / 1000)
    return answer(input_data)


def exact(input_data, output_data, expected_output):
    return output_data == expected_output


def length(input_data, output_data, expected_output):
    return float(len(json.dumps(output_data)))


def label(input_data, output_data, expected_output):
    return "yes" if output_data is True else "no"


evaluators = [exact, length, label]
if mode == "sync":
    experiment = LLMObs.experiment("bench-py", task, dataset, evaluators, project_name="bench-runner")
    started = time.perf_counter()
    experiment.run(jobs=jobs)
    wall = time.perf_counter() - started
else:
    experiment = LLMObs.async_experiment("bench-py-async", async_task, dataset, evaluators,
                                         project_name="bench-runner")
    started = time.perf_counter()
    asyncio.run(experiment.run(jobs=jobs))
    wall = time.perf_counter() - started
print(json.dumps({"records": records, "wall_s": wall, "mode": mode}))
