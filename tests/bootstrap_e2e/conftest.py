"""Fixtures for the end-to-end runs of `llmobs bootstrap` output.

The server and client plumbing comes from ``tests/compat/harness.py`` (the same
``LLMOBS_BIN`` binary serves the API and generates the files). The module-wide server
knows the two placeholder remote judges of the generated files (``replace-me-…``) as
fixed evaluators, so remote-style experiments complete.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "compat"))

from harness import Server  # noqa: E402

JUDGES = {
    "evaluators": [
        {"name": "replace-me-quality-judge", "kind": "fixed", "value": 0.7, "assessment": "pass",
         "reasoning": "fixed quality verdict"},
        {"name": "replace-me-custom-judge", "kind": "fixed", "value": 1.0, "assessment": "pass",
         "reasoning": "fixed custom verdict"},
    ]
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("server")
    config = workdir / "judges.json"
    config.write_text(json.dumps(JUDGES), "utf-8")
    srv = Server(workdir, extra_args=["--evaluators", str(config)]).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def bare_server(tmp_path_factory):
    """A server that knows no remote evaluator."""
    srv = Server(tmp_path_factory.mktemp("bare")).start()
    yield srv
    srv.stop()
