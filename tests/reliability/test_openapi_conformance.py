"""``/openapi.json`` is true to the server: schemathesis generates requests from the document
for every operation and checks each answer against it (no 5xx, only documented statuses,
content types, headers and bodies).

The run is bounded for CI: ``LLMOBS_SCHEMATHESIS_EXAMPLES`` examples per operation (default
10) and a fixed seed (``LLMOBS_SCHEMATHESIS_SEED``), so a failure reproduces; raise both for
a longer search.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
]


def test_schemathesis_finds_no_failure(server, tmp_path):
    examples = os.environ.get("LLMOBS_SCHEMATHESIS_EXAMPLES", "10")
    seed = os.environ.get("LLMOBS_SCHEMATHESIS_SEED", "20261206")
    cli = Path(sys.executable).parent / "schemathesis"
    args = [
        str(cli), "run", f"{server.root}/openapi.json",
        "-H", f"DD-API-KEY: {server.api_key}", "-H", f"DD-APPLICATION-KEY: {server.app_key}",
        "--checks", ",".join(CHECKS),
        "--phases", "examples,coverage,fuzzing",
        "--max-examples", examples, "--seed", seed,
        "--workers", "2", "--request-timeout", "30",
        "--generation-database", "none", "--no-color",
    ]
    done = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    summary = done.stdout[-3000:]
    print(summary)
    assert done.returncode == 0, f"schemathesis found failures:\n{done.stdout[-20000:]}\n{done.stderr[-2000:]}"
