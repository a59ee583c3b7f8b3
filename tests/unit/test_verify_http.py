"""The HTTP smoke check of `make verify`, against a real HTTP server on loopback."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from scripts.release.verify import FAIL, PASS, SKIP, Check, Verdict, http_smoke


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 200 if self.path == "/health" else 503
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b"ok" if status == 200 else b"unhealthy")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_a_healthy_endpoint_passes(server):
    check = http_smoke(f"{server}/health")
    assert check.status == PASS
    assert "answered 200" in check.detail


def test_an_unhealthy_answer_fails(server):
    check = http_smoke(f"{server}/broken")
    assert check.status == FAIL
    assert "answered 503" in check.detail


def test_a_refused_connection_fails(server):
    # GIVEN a port nobody listens on (the server's port after it is shut down is not safe; use port 9)
    check = http_smoke("http://127.0.0.1:9/health", timeout=2)
    assert check.status == FAIL
    assert "did not answer" in check.detail


def test_a_name_that_does_not_resolve_is_skipped_not_passed():
    check = http_smoke("https://green.example.invalid/health")
    assert check.status == SKIP
    assert "does not resolve" in check.detail


def test_only_http_urls_are_requested():
    assert http_smoke("file:///etc/passwd").status == FAIL


def test_a_skip_is_not_a_failure_but_is_reported():
    verdict = Verdict("green", (Check("a", PASS, "fine"), Check("b", SKIP, "cannot run here")))
    assert verdict.ok
    assert "1 check(s) could not run here" in verdict.render()
    assert not Verdict("green", (Check("a", FAIL, "broken"),)).ok
