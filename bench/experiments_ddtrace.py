"""The reference side of bench/experiments.sh: ddtrace's pull_dataset of the same dataset
from the same server. Prints one JSON line with the seconds of each round."""

import json
import sys
import time

from ddtrace.llmobs import LLMObs

records, rounds = int(sys.argv[1]), int(sys.argv[2])
LLMObs.enable(ml_app="bench", agentless_enabled=True, project_name="bench")
seconds = []
for _ in range(rounds):
    started = time.perf_counter()
    dataset = LLMObs.pull_dataset(dataset_name="bench", project_name="bench")
    seconds.append(time.perf_counter() - started)
    assert len(dataset) == records, f"ddtrace pulled {len(dataset)} records, expected {records}"
print(json.dumps({"pull_s": seconds}))
