"""The latency harness's pieces that need no server: stage columns from
``Server-Timing``, the server's CPU around a scenario and a QPS run, QPS
counting, peak RSS."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from benchmarks.latency import peak_rss_mb
from benchmarks.loadgen import COLUMNS, Call, CpuClock, measure_qps, run_scenario


def _handler(request: httpx.Request) -> httpx.Response:
    timing = "embed;dur=4.0, vector_query;dur=1.5, hydrate;dur=1.0, app;dur=9.0"
    return httpx.Response(200, json={"results": [1, 2, 3]}, headers={"Server-Timing": timing})


def test_a_scenario_has_one_value_per_request_in_every_column() -> None:
    client = httpx.Client(transport=httpx.MockTransport(_handler), base_url="http://test")
    calls = [Call("POST", "/v1/search", {"query": "x"}, {})] * 3
    out = run_scenario(client, "s", calls)
    assert out.n == 3
    assert all(len(out.columns[c]) == 3 for c in COLUMNS)
    assert out.quantile("embed", 50) == 4.0
    assert out.quantile("explain", 50) == 0.0  # a stage not reported counts as 0 ms
    assert out.quantile("other", 50) == pytest.approx(9.0 - 4.0 - 1.5 - 1.0)
    e2e, app, http = (out.columns[c][0] for c in ("e2e", "app", "http"))
    assert http == pytest.approx(max(0.0, e2e - app))
    assert out.as_json()["mean_results"] == 3


def _clock(*readings: float) -> tuple[list[float], CpuClock]:
    """A fake CPU clock returning ``readings`` in turn; the list holds what is left."""
    left = list(readings)

    def clock() -> float:
        return left.pop(0)

    return left, clock


def test_a_scenario_reads_the_servers_cpu_before_and_after_its_requests() -> None:
    client = httpx.Client(transport=httpx.MockTransport(_handler), base_url="http://test")
    left, clock = _clock(10.0, 10.3)
    out = run_scenario(
        client,
        "s",
        [Call("GET", "/x", None, {})] * 3,
        cpu_clock=clock,
        subjects=2,
    )
    assert left == []  # read exactly twice
    assert out.cpu_s == pytest.approx(0.3)
    assert out.cpu_ms_per_request == pytest.approx(100.0)
    assert out.as_json()["cpu_ms_per_request"] == pytest.approx(100.0)
    assert out.as_json()["subjects"] == 2
    assert run_scenario(client, "s", [Call("GET", "/x", None, {})]).cpu_ms_per_request is None


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"results": []}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass


@pytest.fixture
def ok_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_qps_counts_requests_and_the_servers_cpu_per_request(ok_server: str) -> None:
    left, clock = _clock(5.0, 5.5)
    calls = [Call("GET", "/ok", None, {})]
    got = measure_qps(ok_server, calls, clients=2, duration_s=0.2, cpu_clock=clock)
    assert left == []
    assert got.clients == 2 and got.requests >= 2
    assert got.qps == pytest.approx(got.requests / got.wall_s)
    assert got.cpu_ms_per_request == pytest.approx(500.0 / got.requests)


def test_a_failed_request_stops_the_scenario() -> None:
    def failing(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"error": "unavailable"})

    client = httpx.Client(transport=httpx.MockTransport(failing), base_url="http://test")
    with pytest.raises(RuntimeError, match="503"):
        run_scenario(client, "s", [Call("GET", "/x", None, {})])


def test_qps_of_an_unreachable_server_raises() -> None:
    calls = [Call("GET", "/healthz", None, {})]
    with pytest.raises(RuntimeError, match="QPS run failed"):
        measure_qps("http://127.0.0.1:9", calls, clients=2, duration_s=0.5)


def test_qps_sends_at_least_one_request_per_client_after_the_deadline() -> None:
    calls = [Call("GET", "/healthz", None, {})]
    # A deadline already past when the clients start: a starved machine.
    with pytest.raises(RuntimeError, match="QPS run failed"):
        measure_qps("http://127.0.0.1:9", calls, clients=2, duration_s=-1.0)


def test_peak_rss_of_this_process_is_positive() -> None:
    rss = peak_rss_mb(os.getpid())
    if rss is None:
        pytest.skip("no /proc on this platform")
    assert rss > 1.0
    assert peak_rss_mb(2**22 + 12345) is None
