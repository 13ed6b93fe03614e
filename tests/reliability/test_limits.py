"""Hostile bodies: decompression bombs on the span intake and an oversized JSON field.

Memory is read from ``/proc/PID/status`` of the server process: ``VmHWM`` is the peak
resident size since the server started, so one reading after the requests bounds what they
made the server hold at any moment.
"""

from __future__ import annotations

import json
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import rss_kib

MIB = 1 << 20
# The server's default --max-intake-bytes (32 MiB).
MAX_INTAKE = 32 * MIB
# Peak resident size allowed after four bombs at once: four requests each holding at most
# the intake limit (plus its compressed body), with room for the allocator. Before bodies
# were inflated as a stream, four bombs took the server past 1 GiB.
PEAK_BOUND_KIB = 320 * 1024


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """A 1 MiB gzip body that inflates to about 1 GiB of zeros."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = bytes(MIB)
    parts = []
    size = 0
    while size < MIB:
        part = compressor.compress(chunk)
        parts.append(part)
        size += len(part)
    parts.append(compressor.flush())
    return b"".join(parts)


def test_gzip_bombs_get_413_and_memory_stays_bounded(make_server, bomb):
    srv = make_server("bomb")
    inflated = len(zlib.decompress(bomb, 31))
    assert inflated > 30 * MAX_INTAKE, f"the bomb inflates to {inflated} bytes only"
    before = rss_kib(srv.proc.pid)
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/json",
               "X-Datadog-EVP-Subdomain": "llmobs-intake"}
    # Two on the keyed intake, two under the agent-proxy prefix, which needs no key.
    sends = [("/api/v2/llmobs", srv.api_key), ("/evp_proxy/v2/api/v2/llmobs", None)] * 2

    def send(case):
        path, key = case
        return srv.request("POST", path, body=bomb, headers=headers, api_key=key, app_key=None)

    with ThreadPoolExecutor(len(sends)) as pool:
        answers = list(pool.map(send, sends))
    for (path, _), r in zip(sends, answers):
        assert r.status == 413, f"{path}: {r}"
        assert "max_intake_bytes" in r.detail and str(MAX_INTAKE) in r.detail, r.detail
    after = rss_kib(srv.proc.pid)
    print(f"bombs: RSS before {before['VmRSS']} KiB, peak {after['VmHWM']} KiB, after {after['VmRSS']} KiB")
    assert after["VmHWM"] < PEAK_BOUND_KIB, f"peak resident size {after['VmHWM']} KiB (before: {before})"
    # The server still serves.
    assert srv.request("GET", "/healthz", api_key=None, app_key=None).status == 200


def test_a_field_over_the_limit_is_a_413_naming_it(make_server):
    limit = 64 * 1024
    srv = make_server("field", extra_args=["--max-field-bytes", str(limit)])
    for size in (limit + 1, 4 * MIB):
        template = [{"role": "user", "content": "x" * size}]
        r = srv.api("POST", "", json_body={"prompt_id": f"big-{size}", "template": template})
        assert r.status == 413, r
        assert "max_field_bytes" in r.detail and str(limit) in r.detail, r.detail
        assert srv.api("GET", f"/big-{size}").status == 404, "nothing of a refused request is stored"
    # At the limit, the same request is stored.
    template = [{"role": "user", "content": "x" * (limit - 64)}]
    r = srv.api("POST", "", json_body={"prompt_id": "fits", "template": template})
    assert r.status == 200, r


def test_large_requests_give_their_memory_back(make_server):
    """After 10 MiB string fields (under a raised limit) the server's heap returns close to
    where it was, not to where the requests took it.

    The bodies are read and parsed whole, then refused (a wrong type in a later field), so
    nothing of them is stored: what stays is what the server failed to hand back. Stored
    bodies also leave SQLite's own page caches (up to 16 MiB per connection) filled; they
    are bounded by that setting and measured in the soak, not here.
    """
    srv = make_server("field-memory", extra_args=["--max-field-bytes", str(16 * MIB),
                                                  "--max-body-bytes", str(64 * MIB)])
    before = rss_kib(srv.proc.pid)["RssAnon"]
    for i in range(4):
        body = json.dumps({"prompt_id": f"p{i}", "template": [{"role": "user", "content": "y" * (10 * MIB)}],
                           "labels": 5})
        r = srv.api("POST", "", body=body.encode(), content_type="application/json")
        assert r.status == 400, r
    # The memory is handed back on a thread of its own once the answer is sent.
    deadline = time.monotonic() + 5
    while True:
        status = rss_kib(srv.proc.pid)
        if status["RssAnon"] < before + 16 * 1024 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    print(f"10 MiB fields: heap before {before} KiB, after {status['RssAnon']} KiB, peak RSS {status['VmHWM']} KiB")
    assert status["VmHWM"] > before + 20 * 1024, "the requests never raised the server's memory"
    assert status["RssAnon"] < before + 16 * 1024, f"heap {status['RssAnon']} KiB, {before} KiB before"
