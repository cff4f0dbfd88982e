"""--webhook URL: notifications posted to a local receiver, retried, signed, logged, never in a request's way."""
from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from starlette.testclient import TestClient

from mock_server.app import create_app
from mock_server.cli import config_from_args
from mock_server.config import Config
from mock_server.webhooks import SIGNATURE_HEADER, WebhookError, check_target

AUTH = {"Authorization": "Bearer test-token"}
SECRET = "whsec-test"


class Receiver:
    """A local HTTP server that keeps what it is posted; ``answers`` are the statuses of the first posts."""

    def __init__(self, answers: list[int] | None = None, delay: float = 0.0) -> None:
        self.posts: list[tuple[dict[str, str], bytes]] = []
        self.answers = list(answers or [])
        self.delay = delay
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["content-length"]))
                time.sleep(receiver.delay)
                receiver.posts.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/togai"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.posts]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def mock(receiver: Receiver, **config: Any) -> TestClient:
    app = create_app(Config(seed=7, webhooks=(receiver.url,), webhook_secret=SECRET, **config))
    app.state.webhooks.backoff = 0.05  # retries in tests: 50 ms, 100 ms, ...
    return TestClient(app, base_url="http://localhost")


def wait_for(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError("timed out")


def account_body(account_id: str = "WH-1") -> dict[str, Any]:
    return {"id": account_id, "customerId": "ACME", "name": "Webhook account", "invoiceCurrency": "USD"}


def test_an_account_created_is_posted_signed_and_retried_after_a_failing_first_attempt(receiver: Receiver) -> None:
    receiver.answers = [500]  # the first attempt fails
    with mock(receiver) as client:
        assert client.post("/accounts", headers=AUTH, json=account_body()).status_code == 201
        log = wait_for(lambda: [d for d in client.get("/__mock/webhooks").json()["deliveries"]
                                if d["status"] == "DELIVERED"])
        report = client.get("/__mock/webhooks").json()
    delivery = log[0]
    assert (delivery["type"], delivery["attempts"], delivery["lastStatusCode"]) == ("ACCOUNT_CREATED", 2, 200)
    assert delivery["lastError"] is None and delivery["deliveredAt"] and delivery["url"] == receiver.url
    assert report["targets"] == [receiver.url] and report["signed"] is True and report["dropped"] == 0
    assert len(receiver.posts) == 2
    (first, _), (headers, body) = receiver.posts
    assert first["x-mock-webhook-attempt"] == "1" and headers["x-mock-webhook-attempt"] == "2"
    event = json.loads(body)
    assert event["type"] == "ACCOUNT_CREATED" and event["data"]["account"]["id"] == "WH-1"
    assert headers["x-mock-webhook-id"] == event["id"] == delivery["eventId"] and delivery["payload"] == event
    # The signature: HMAC-SHA256 of "<t>." + the body, with --webhook-secret.
    fields = dict(part.split("=", 1) for part in headers[SIGNATURE_HEADER.lower()].split(","))
    expected = hmac.new(SECRET.encode(), f"{fields['t']}.".encode() + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(fields["v1"], expected)


def test_a_receiver_that_keeps_failing_is_logged_failed_with_its_last_error(receiver: Receiver) -> None:
    receiver.answers = [503] * 10
    with mock(receiver) as client:
        client.patch("/accounts/ACME-US", headers=AUTH, json={"name": "Renamed"}).raise_for_status()
        failed = wait_for(lambda: [d for d in client.get("/__mock/webhooks").json()["deliveries"]
                                   if d["status"] == "FAILED"])
    assert failed[0]["type"] == "ACCOUNT_UPDATED" and failed[0]["attempts"] == 5
    assert failed[0]["lastError"] == "answered 503" and failed[0]["lastStatusCode"] == 503
    assert failed[0]["payload"]["data"]["account"]["name"] == "Renamed"


def test_invoices_generated_by_the_clock_then_finalized_and_paid_by_patch(receiver: Receiver) -> None:
    with mock(receiver, clock=_start()) as client:
        moved = client.post("/__mock/clock", json={"by": "P2M"})
        assert moved.status_code == 200, moved.text
        summary = moved.json()["summary"]
        drafted = set(summary["invoicesDrafted"]["ids"])
        generated = wait_for(lambda: (found := [e for e in receiver.events() if e["type"] == "INVOICE_GENERATED"])
                             and drafted <= {e["data"]["invoice"]["id"] for e in found} and found)
        # An INVOICE_GENERATED for each invoice the move drafted, as GET /invoices/{id} shows it; once each.
        ids = [e["data"]["invoice"]["id"] for e in generated]
        assert len(ids) == len(set(ids))
        assert all(e["createdAt"] == "2024-03-01T00:00:00.000Z" for e in generated)  # the mock's clock
        shown = client.get(f"/invoices/{generated[0]['data']['invoice']['id']}", headers=AUTH).json()
        assert generated[0]["data"]["invoice"] == shown
        # A draft still in its grace period: finalized, then paid, by PATCH (one of an account in no invoice
        # group: a group member's invoice is MERGED into the group's as it becomes DUE).
        grouped = {account for group in client.get("/invoice_groups", headers=AUTH).json()["data"]
                   for account in client.get(f"/invoice_groups/{group['id']}", headers=AUTH).json()["accounts"]}
        target = {"id": sorted(i for i in drafted - set(summary["invoicesFinalized"]["ids"])
                               if client.get(f"/invoices/{i}", headers=AUTH).json()["ownerId"] not in grouped)[0]}
        client.patch(f"/invoices/{target['id']}", headers=AUTH, json={"status": "DUE"}).raise_for_status()
        client.patch(f"/invoices/{target['id']}", headers=AUTH, json={"status": "PAID"}).raise_for_status()

        def status_events() -> list[dict[str, Any]]:
            found = [e for e in receiver.events() if e["data"].get("invoice", {}).get("id") == target["id"]
                     and e["type"] in ("INVOICE_FINALIZED", "INVOICE_PAID")]
            return found if len(found) == 2 else []

        mine = wait_for(status_events)
    assert [(e["type"], e["data"]["previousStatus"], e["data"]["invoice"]["status"]) for e in mine] == [
        ("INVOICE_FINALIZED", "DRAFT", "DUE"), ("INVOICE_PAID", "DUE", "PAID")]


def test_a_reset_or_an_import_announces_nothing(receiver: Receiver) -> None:
    with mock(receiver, clock=_start()) as client:
        client.post("/__mock/clock", json={"by": "P2M"}).raise_for_status()
        wait_for(receiver.events)
        time.sleep(0.2)
        count = len(receiver.posts)
        client.post("/__mock/reset", json={}).raise_for_status()
        state = client.get("/__mock/state").json()
        client.put("/__mock/state", json=state).raise_for_status()
        client.get("/accounts", headers=AUTH).raise_for_status()
        time.sleep(0.3)
    assert len(receiver.posts) == count


def test_a_slow_receiver_never_slows_a_request() -> None:
    slow = Receiver(delay=1.5)
    try:
        with mock(slow) as client:
            client.post("/accounts", headers=AUTH, json=account_body("WH-0")).raise_for_status()  # the sender is busy
            started = time.perf_counter()
            for i in range(5):
                client.post("/accounts", headers=AUTH, json=account_body(f"WH-{i + 1}")).raise_for_status()
            elapsed = time.perf_counter() - started
            queued = client.get("/__mock/webhooks").json()["queued"]
    finally:
        slow.close()
    assert elapsed < 1.0  # five requests while the receiver takes 1.5 s per post
    assert queued >= 4


def test_a_full_queue_drops_and_counts(receiver: Receiver) -> None:
    with mock(receiver) as client:
        hooks = client.app.state.webhooks  # type: ignore[attr-defined]
        hooks.close()  # nothing is sent: the queue fills
        hooks.max_queue = 1
        for i in range(3):
            client.post("/accounts", headers=AUTH, json=account_body(f"WH-{i}")).raise_for_status()
        report = client.get("/__mock/webhooks").json()
    assert report["queued"] == 1 and report["dropped"] == 2
    assert [d["status"] for d in report["deliveries"]] == ["DROPPED", "DROPPED", "PENDING"]


def test_without_webhook_the_log_is_empty() -> None:
    with TestClient(create_app(Config(seed=1)), base_url="http://localhost") as client:
        assert client.get("/__mock/webhooks").json() == {
            "targets": [], "signed": False, "queued": 0, "dropped": 0, "deliveries": []}


@pytest.mark.parametrize("url", ["http://example.com/hook", "http://10.0.0.8:9000/", "https://hooks.slack.com/x"])
def test_a_target_off_this_machine_is_refused_at_start(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        config_from_args(["--webhook", url])
    assert exit_.value.code == 2
    assert "--webhook" in capsys.readouterr().err
    with pytest.raises(WebhookError, match="--webhook"):
        create_app(Config(webhooks=(url,)))


def test_the_server_process_exits_2_naming_the_flag() -> None:
    done = subprocess.run([sys.executable, "-m", "mock_server", "--webhook", "http://example.com/x"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "--webhook" in done.stderr


def test_loopback_and_allowed_hosts_are_accepted() -> None:
    assert check_target("http://localhost:9000/x") and check_target("http://[::1]:9/x")
    assert check_target("http://hooks.internal:8080/x", ["hooks.internal"])
    config, _ = config_from_args(["--webhook", "http://127.0.0.1:9/x", "--webhook-secret", "s"])
    assert config.webhooks == ("http://127.0.0.1:9/x",) and config.webhook_secret == "s"
    with pytest.raises(SystemExit):
        config_from_args(["--webhook-secret", "s"])


def _start() -> Any:
    from datetime import UTC, datetime

    return datetime(2024, 1, 1, tzinfo=UTC)



def test_invoices_are_compared_only_after_an_answer_that_moved_one(receiver: Receiver,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """No pass over every invoice after a request that made, removed or moved none (it was one per answer)."""
    from mock_server import webhooks

    passes: list[int] = []
    snapshot = webhooks._snapshot
    monkeypatch.setattr(webhooks, "_snapshot", lambda store: passes.append(1) or snapshot(store))
    with mock(receiver, clock=_start()) as client:
        client.get("/accounts", headers=AUTH).raise_for_status()  # the first answer takes the baseline
        before = len(passes)
        for _ in range(5):
            client.get("/accounts", headers=AUTH).raise_for_status()
            client.patch("/accounts/ACME-US", headers=AUTH, json={"name": "No invoice moved"}).raise_for_status()
        assert len(passes) == before  # before: one pass per answer, 10 more
        client.post("/__mock/clock", json={"by": "P2M"}).raise_for_status()  # cycles close: invoices move
        assert len(passes) == before + 1
        wait_for(lambda: [e for e in receiver.events() if e["type"] == "INVOICE_GENERATED"])
