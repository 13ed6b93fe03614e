"""The SDK's example programs, started without the server's variables, name what is missing.

Issue #17: without ``DD_API_KEY``, ``DD_APP_KEY`` and ``DD_LLMOBS_OVERRIDE_ORIGIN`` the
examples used to end in ``Error: Auth { status: 0, … }``. Each is built with ``cargo build``
(the debug build the Rust tests already made) and run with a clean environment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from harness import REPO

EXAMPLES = ["prompts", "datasets", "experiment", "judge", "judge_publish"]
VARIABLES = ["DD_API_KEY", "DD_APP_KEY", "DD_LLMOBS_OVERRIDE_ORIGIN"]
# Arguments an example needs before it looks at the environment.
ARGS = {"judge_publish": ["-"]}


@pytest.fixture(scope="module")
def example_bins() -> dict[str, str]:
    cargo = shutil.which("cargo")
    if not cargo:
        pytest.fail("cargo is not on PATH: the SDK's examples cannot be built")
    args = [cargo, "build", "-q", "-p", "llmobs", "--message-format=json"]
    for name in EXAMPLES:
        args += ["--example", name]
    out = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, f"cargo build failed:\n{out.stderr[-5000:]}"
    bins = {}
    for line in out.stdout.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg.get("executable"):
            if "example" in msg["target"]["kind"]:
                bins[msg["target"]["name"]] = msg["executable"]
    assert set(EXAMPLES) <= set(bins), f"cargo built {sorted(bins)}, not every example"
    return bins


def run(binary: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("DD_")}
    base.update(env)
    return subprocess.run([binary, *args], env=base, input="", capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("name", EXAMPLES)
def test_an_example_without_the_server_variables_names_them(example_bins, name):
    out = run(example_bins[name], *ARGS.get(name, []))
    assert out.returncode == 2, (out.returncode, out.stdout, out.stderr)
    for variable in VARIABLES:
        assert variable in out.stderr, out.stderr
    assert "llmobs serve" in out.stderr
    assert "Auth" not in out.stderr and "status: 0" not in out.stderr


def test_only_the_missing_variable_is_named(example_bins):
    out = run(example_bins["prompts"], DD_API_KEY="k", DD_LLMOBS_OVERRIDE_ORIGIN="http://127.0.0.1:9")
    assert out.returncode == 2, (out.returncode, out.stderr)
    needs = out.stderr.split("needs", 1)[1].split("set.", 1)[0]
    assert "DD_APP_KEY" in needs
    assert "DD_API_KEY" not in needs and "DD_LLMOBS_OVERRIDE_ORIGIN" not in needs
