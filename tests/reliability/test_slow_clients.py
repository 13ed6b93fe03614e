"""Slow and idle clients: connections that send nothing, or half a request header, are
closed after ``--header-timeout-secs``, and ``/healthz`` answers while they are open.

The server runs with its default ``--max-connections`` (768) under the common open-file
limit of 1024, and this test opens more idle and half-header connections than that.
"""

from __future__ import annotations

import resource
import socket
import time

import pytest

HEADER_TIMEOUT = 2
# More than --max-connections, and more than the server's 1024 open files.
HOGS = 1100


@pytest.fixture
def limited_server(make_server):
    """A server started with the soft open-file limit at 1024, as on most machines; the
    test process itself gets the hard limit so it can open its connections."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < HOGS + 200:
        pytest.skip(f"the hard open-file limit ({hard}) is too low to open {HOGS} connections")
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
    try:
        srv = make_server("slow", extra_args=["--header-timeout-secs", str(HEADER_TIMEOUT)])
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else soft, hard))
    yield srv


def open_hogs(port: int, n: int) -> list[socket.socket]:
    hogs = []
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        if i % 2:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        hogs.append(s)
    return hogs


def healthz_seconds(port: int, timeout: float) -> float:
    """Seconds until ``GET /healthz`` on a new connection answers 200."""
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.settimeout(timeout)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(1024)
            assert chunk, f"connection closed without an answer: {data!r}"
            data += chunk
    assert data.startswith(b"HTTP/1.1 200"), data[:200]
    return time.monotonic() - start


def test_idle_and_half_header_connections_are_closed_and_healthz_answers(limited_server):
    srv = limited_server
    hogs = open_hogs(srv.port, HOGS)
    try:
        # Connections beyond --max-connections wait in the listen queue until the first
        # ones time out; a health check gets its turn within a few header timeouts.
        waited = healthz_seconds(srv.port, timeout=HEADER_TIMEOUT * 6)
        print(f"/healthz answered after {waited:.2f} s with {HOGS} idle connections open")
        # Every hog is closed by the server: it reads end of file (or a reset), never hangs.
        deadline = time.monotonic() + HEADER_TIMEOUT * 6
        closed = 0
        for s in hogs:
            s.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                data = s.recv(4096)
                # A half header may get a 408 before the close; an idle one gets nothing.
                while data:
                    data = s.recv(4096)
                closed += 1
            except ConnectionResetError:
                closed += 1
            except socket.timeout:
                pass
        assert closed == HOGS, f"{HOGS - closed} of {HOGS} slow connections still open"
    finally:
        for s in hogs:
            s.close()
    assert srv.proc.poll() is None, "the server exited"
    assert healthz_seconds(srv.port, timeout=5) < 5
