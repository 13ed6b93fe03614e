"""The ddtrace side of bench/prompts.sh, and the table that compares both sides.

    python prompts_ddtrace.py hot|warm|cold PROMPT_ID [SCALE]   # one JSON line
    python prompts_ddtrace.py table RESULTS.jsonl               # the side-by-side table

The measuring modes read ddtrace's usual environment (DD_LLMOBS_OVERRIDE_ORIGIN,
DD_API_KEY, DD_LLMOBS_PROMPTS_*), which bench/prompts.sh sets for each mode.
"""

import json
import sys
import time


def report(mode, samples, **extra):
    samples = sorted(samples)
    at = lambda q: samples[round((len(samples) - 1) * q)]  # noqa: E731
    line = {"sdk": "ddtrace", "mode": mode, "median_ns": at(0.5), "p90_ns": at(0.9), "samples": len(samples)}
    line.update(extra)
    print(json.dumps(line), flush=True)


def measure(mode, prompt_id, scale):
    import ddtrace
    from ddtrace.llmobs import LLMObs

    first = LLMObs.get_prompt(prompt_id)
    assert first.source == "registry", first.source
    samples = []
    if mode == "hot":
        get = LLMObs.get_prompt
        for _ in range(2000):
            get(prompt_id)
        batch = 1000
        for _ in range(50 * scale):
            start = time.perf_counter_ns()
            for _ in range(batch):
                get(prompt_id)
            samples.append((time.perf_counter_ns() - start) / batch)
    elif mode == "warm":
        for _ in range(300 * scale):
            LLMObs.clear_prompt_cache(hot=True, warm=False)
            start = time.perf_counter_ns()
            prompt = LLMObs.get_prompt(prompt_id)
            samples.append(time.perf_counter_ns() - start)
            assert prompt.source == "cache", prompt.source
    elif mode == "cold":
        for _ in range(300 * scale):
            start = time.perf_counter_ns()
            prompt = LLMObs.get_prompt(prompt_id)
            samples.append(time.perf_counter_ns() - start)
            assert prompt.source == "registry", prompt.source
    else:
        raise SystemExit(f"unknown mode {mode}")
    report(mode, samples, version=ddtrace.__version__)


def human(ns):
    if ns < 1_000:
        return f"{ns:.0f} ns"
    if ns < 1_000_000:
        return f"{ns / 1_000:.1f} µs"
    return f"{ns / 1_000_000:.2f} ms"


def table(path):
    rows = {}
    with open(path) as results:
        for line in results:
            line = line.strip()
            if line.startswith("{"):
                item = json.loads(line)
                rows[(item["sdk"], item["mode"])] = item
    labels = {
        "hot": "hot (memory)",
        "hot_blocking": "hot, blocking client",
        "warm": "warm (disk, empty memory)",
        "cold": "cold (HTTP, loopback)",
    }
    header = f"{'get_prompt':<27}{'llmobs (Rust)':>26}{'ddtrace 4.16.0':>26}{'ddtrace / llmobs':>19}"
    print(header)
    print("-" * len(header))
    for mode, label in labels.items():
        ours, theirs = rows.get(("llmobs", mode)), rows.get(("ddtrace", "hot" if mode == "hot_blocking" else mode))
        if ours is None:
            continue
        cell = lambda r: f"{human(r['median_ns'])} (p90 {human(r['p90_ns'])})" if r else "n/a"  # noqa: E731
        ratio = f"{theirs['median_ns'] / ours['median_ns']:.1f}x" if theirs else ""
        print(f"{label:<27}{cell(ours):>26}{cell(theirs):>26}{ratio:>19}")
    hot = rows.get(("llmobs", "hot"))
    if hot and "allocs_per_call" in hot:
        print(f"\nllmobs hot path: {hot['allocs_per_call']} heap allocations per call (medians of batches)")


if __name__ == "__main__":
    if sys.argv[1] == "table":
        table(sys.argv[2])
    else:
        measure(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 1)
