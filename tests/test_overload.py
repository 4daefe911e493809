"""The overload guard: past its limit a worker answers 503 with Retry-After at once."""

import threading
import time
from wsgiref.util import setup_testing_defaults

from kiosk.overload import OverloadGuard


def slow_app(release: threading.Event):
    def application(environ, start_response):
        release.wait(timeout=10)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    return application


def call(app) -> tuple[str, dict, bytes]:
    environ = {}
    setup_testing_defaults(environ)
    captured = {}

    def start_response(status, headers):
        captured["status"] = status
        captured["headers"] = dict(headers)

    body_iterable = app(environ, start_response)
    body = b"".join(body_iterable)
    if hasattr(body_iterable, "close"):
        body_iterable.close()
    return captured["status"], captured["headers"], body


def test_guard_rejects_past_limit():
    release = threading.Event()
    guard = OverloadGuard(slow_app(release), max_in_flight=2)
    results = []
    workers = [threading.Thread(target=lambda: results.append(call(guard))) for _ in range(2)]
    for worker in workers:
        worker.start()
    time.sleep(0.2)  # both slow requests now hold a slot

    started = time.monotonic()
    status, headers, body = call(guard)
    elapsed = time.monotonic() - started

    assert status.startswith("503")
    assert headers["Retry-After"] == "5"
    assert "Réessayez dans un instant".encode() in body
    assert elapsed < 1.0
    release.set()
    for worker in workers:
        worker.join(timeout=10)
    assert [r[0] for r in results] == ["200 OK", "200 OK"]


def test_guard_frees_slot_after_response():
    release = threading.Event()
    release.set()
    guard = OverloadGuard(slow_app(release), max_in_flight=1)
    for _ in range(3):
        status, _headers, _body = call(guard)
        assert status == "200 OK"


def test_proxy_hops_trust_forwarded_headers(tmp_path):
    from kiosk import create_app

    app = create_app({
        "TESTING": True, "SECRET_KEY": "x", "KIOSK_PROXY_HOPS": 1,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'proxy.sqlite'}",
    })

    @app.get("/test-url-root")
    def url_root():
        from flask import request

        return f"{request.url_root}|{request.remote_addr}"

    response = app.test_client().get(
        "/test-url-root",
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "ip.univ.example", "X-Forwarded-For": "203.0.113.7"},
    )
    assert response.get_data(as_text=True) == "https://ip.univ.example/|203.0.113.7"
