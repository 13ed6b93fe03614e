"""The README's quickstart, as a newcomer pastes it, against a freshly started server.

The server starts on an empty data directory without initial keys, so it generates a pair and
prints the exports; the test pastes exactly those lines into ``bash``, followed by each of the
README's ``python - <<'EOF'`` blocks verbatim, with ``python`` being the ddtrace 4.16.0
interpreter running this suite. Every block runs twice: the quickstart promises that any step
can be run again.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from harness import REPO, V2, Server

README = (REPO / "README.md").read_text("utf-8")
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def readme_blocks() -> list[str]:
    """The README's fenced bash blocks that feed Python a heredoc, as written."""
    blocks = re.findall(r"```bash\n(.*?)```", README, flags=re.S)
    return [b for b in blocks if b.startswith("python - <<'EOF'\n")]


def readme_export_names() -> list[str]:
    """The variable names of the README's block of printed exports."""
    [block] = [b for b in re.findall(r"```text\n(.*?)```", README, flags=re.S) if "export DD_API_KEY=" in b]
    return re.findall(r"^export (\w+)=", block, flags=re.M)


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """A server that generated its own keys; ``exports`` are the lines it printed."""
    srv = Server(tmp_path_factory.mktemp("readme"),
                 extra_env={"LLMOBS_INITIAL_API_KEY": "", "LLMOBS_INITIAL_APP_KEY": "",
                            "LLMOBS_BOOTSTRAP_API_KEY": "", "LLMOBS_BOOTSTRAP_APP_KEY": ""}).start()
    exports = [ln for ln in srv.stderr_text().splitlines() if ln.startswith("export ")]
    keys = dict(re.match(r"export (\w+)=(\S*)", ln).groups() for ln in exports)
    srv.api_key, srv.app_key = keys["DD_API_KEY"], keys["DD_APP_KEY"]
    yield srv, exports
    srv.discard()


def paste(exports: list[str], block: str) -> subprocess.CompletedProcess:
    """Runs the exports and ``block`` in bash from an empty directory, ``python`` = this suite's."""
    scratch = Path(tempfile.mkdtemp(prefix="compat-readme-"))
    bindir = scratch / "bin"
    bindir.mkdir()
    # A wrapper, not a symlink: a venv's interpreter finds its packages from its own path.
    wrapper = bindir / "python"
    wrapper.write_text(f'#!/bin/sh\nexec "{os.environ.get("DDTRACE_PYTHON") or sys.executable}" "$@"\n')
    wrapper.chmod(0o755)
    env = {"PATH": f"{bindir}:{os.environ.get('PATH', '/usr/bin:/bin')}", "HOME": str(scratch),
           "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(["bash", "-euc", "\n".join(exports) + "\n" + block], cwd=str(scratch), env=env,
                          capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL)


def test_serve_prints_the_exports_the_readme_shows(fresh):
    srv, exports = fresh
    names = [re.match(r"export (\w+)=", ln).group(1) for ln in exports]
    assert names == readme_export_names(), exports
    assert f"export DD_LLMOBS_OVERRIDE_ORIGIN={srv.root}" in exports
    [trace] = [ln for ln in exports if ln.startswith("export DD_TRACE_ENABLED=")]
    assert trace.startswith("export DD_TRACE_ENABLED=false  # "), trace


def test_the_readme_snippets_run_twice(fresh):
    srv, exports = fresh
    prompt_block, experiment_block = readme_blocks()

    for _ in range(2):
        run = paste(exports, prompt_block)
        assert run.returncode == 0, run.stderr[-3000:]
        assert run.stdout == "[{'role': 'user', 'content': 'Hi Ada'}]\n", run.stdout
        assert "failed to send" not in run.stderr and "Traceback" not in run.stderr, run.stderr[-3000:]

    pages = []
    for _ in range(2):
        run = paste(exports, experiment_block)
        assert run.returncode == 0, run.stderr[-3000:]
        assert "failed to send" not in run.stderr and "Traceback" not in run.stderr, run.stderr[-3000:]
        last = run.stdout.rstrip("\n").splitlines()[-1]
        assert re.fullmatch(re.escape(srv.root) + f"/llm/experiments/{UUID}", last), run.stdout
        pages.append(last[len(srv.root):])
    assert pages[0] != pages[1]

    # One dataset, its two records once, and each run's page as a browser on loopback sees it.
    pid = srv.project("quickstart")
    [dataset] = srv.datasets_named(pid, "capitals")
    assert dataset["attributes"]["current_version"] == 1
    assert sorted(r["expected_output"] for r in srv.records(pid, dataset["id"])) == ["Paris", "Tokyo"]
    for page in pages:
        experiment = srv.x("GET", f"{V2}/experiments?filter[id]={page.rsplit('/', 1)[1]}").json()["data"][0]
        assert experiment["attributes"]["dataset_id"] == dataset["id"]
        r = srv.request("GET", page, api_key=None, app_key=None)
        assert r.status == 200, r
        html = r.body.decode("utf-8")
        assert "capitals-baseline" in html and "Kyoto" in html and "exact_match" in html, html[:3000]
