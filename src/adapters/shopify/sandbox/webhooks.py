"""Webhook deliveries: signed POSTs from a background thread, with Shopify's retries and faults.

Each event becomes one delivery per target (subscription or the app's compliance URL), with
its own ``X-Shopify-Webhook-Id``; the deliveries of one event share ``X-Shopify-Event-Id``. The
body is compact JSON, signed with the app's client secret (base64 HMAC-SHA256 of the raw
bytes). A non-2xx answer, a connection error or a timeout is retried on the configured
schedule; when the schedule runs out the delivery has failed and, as Shopify may, the
subscription is deleted.

Faults (``SandboxState.faults``), drawn from a seeded generator: a dropped delivery is never
sent; a duplicated one is sent twice with the same webhook id; a reorder window holds that
many deliveries and releases them shuffled; a delay postpones each delivery.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import random
import threading
import time
import uuid
from datetime import UTC
from typing import Any

import httpx
from attrs import define, field

from adapters.shopify.sandbox.config import SandboxConfig
from adapters.shopify.sandbox.state import SandboxState, WebhookEvent, WebhookTarget

__all__ = ["Delivery", "WebhookDispatcher", "sign_body"]

log = logging.getLogger(__name__)


def sign_body(body: bytes, secret: str) -> str:
    """``X-Shopify-Hmac-Sha256``: base64 of HMAC-SHA256 over the raw body."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


@define
class Attempt:
    at: str
    status_code: int | None
    error: str | None
    duration_ms: float


@define
class Delivery:
    webhook_id: str
    event_id: str
    topic: str
    shop: str
    uri: str
    api_version: str
    body: bytes
    triggered_at: str
    subscription_id: int | None
    sequence: int
    status: str = "pending"  # pending | held | delivered | failed | dropped
    duplicate: bool = False
    due: float = 0.0
    held_since: float = 0.0
    attempts: list[Attempt] = field(factory=list)

    def as_json(self) -> dict[str, Any]:
        last = self.attempts[-1] if self.attempts else None
        return {
            "webhook_id": self.webhook_id,
            "event_id": self.event_id,
            "topic": self.topic,
            "shop": self.shop,
            "uri": self.uri,
            "api_version": self.api_version,
            "triggered_at": self.triggered_at,
            "subscription_id": self.subscription_id,
            "status": self.status,
            "duplicate": self.duplicate,
            "response_status": last.status_code if last else None,
            "attempts": [
                {
                    "at": a.at,
                    "status_code": a.status_code,
                    "error": a.error,
                    "duration_ms": a.duration_ms,
                }
                for a in self.attempts
            ],
            "payload": json.loads(self.body),
        }


class WebhookDispatcher:
    """Queues deliveries and sends them from one background thread."""

    def __init__(
        self,
        state: SandboxState,
        config: SandboxConfig,
        *,
        seed: int | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.state = state
        self.config = config
        self.rng = random.Random(seed)  # noqa: S311 - fault injection, not security
        self._cond = threading.Condition()
        self._queue: list[Delivery] = []
        self._held: list[Delivery] = []
        self._log: list[Delivery] = []
        self._in_flight = 0
        self._sequence = 0
        self._stopped = False
        self._thread: threading.Thread | None = None
        self._transport = transport
        self._client: httpx.Client | None = None  # made by the sender thread when first needed

    # --- intake (called with the state lock held) ---------------------------------------------

    def enqueue(self, event: WebhookEvent) -> None:
        faults = self.state.faults
        now = time.monotonic()
        triggered = event.triggered_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        with self._cond:
            for target in event.targets:
                delivery = self._delivery(event, target, triggered)
                self._log.append(delivery)
                if faults.webhook_drop_rate and self.rng.random() < faults.webhook_drop_rate:
                    delivery.status = "dropped"
                    continue
                copies = [delivery]
                if (
                    faults.webhook_duplicate_rate
                    and self.rng.random() < faults.webhook_duplicate_rate
                ):
                    twin = self._delivery(event, target, triggered, webhook_id=delivery.webhook_id)
                    twin.body = delivery.body
                    twin.duplicate = True
                    self._log.append(twin)
                    copies.append(twin)
                for copy in copies:
                    copy.due = now + max(0.0, faults.webhook_delay)
                    if faults.webhook_reorder_window > 1:
                        copy.status = "held"
                        copy.held_since = now
                        self._held.append(copy)
                    else:
                        self._queue.append(copy)
            if (
                faults.webhook_reorder_window > 1
                and len(self._held) >= faults.webhook_reorder_window
            ):
                self._release_held()
            self._cond.notify_all()
        self._ensure_thread()

    def _delivery(
        self,
        event: WebhookEvent,
        target: WebhookTarget,
        triggered: str,
        *,
        webhook_id: str | None = None,
    ) -> Delivery:
        payload = event.payload
        if target.include_fields:
            payload = {k: v for k, v in payload.items() if k in target.include_fields}
        self._sequence += 1
        return Delivery(
            webhook_id=webhook_id or str(uuid.uuid4()),
            event_id=event.event_id,
            topic=event.topic,
            shop=event.shop,
            uri=target.uri,
            api_version=target.api_version,
            body=_body(payload),
            triggered_at=triggered,
            subscription_id=target.subscription_id,
            sequence=self._sequence,
        )

    def _release_held(self) -> None:
        """Send what the reorder window holds, shuffled. Caller holds ``_cond``."""
        held, self._held = self._held, []
        self.rng.shuffle(held)
        now = time.monotonic()
        for offset, delivery in enumerate(held):
            delivery.status = "pending"
            # Keep the shuffled order: later positions become due a hair later.
            delivery.due = max(delivery.due, now) + offset * 1e-6
            self._queue.append(delivery)

    # --- the sender thread ---------------------------------------------------------------------

    def _ensure_thread(self) -> None:
        with self._cond:
            if self._thread is not None or self._stopped:
                return
            self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
            self._thread.start()

    def _next(self) -> Delivery | None:
        with self._cond:
            while not self._stopped:
                now = time.monotonic()
                if (
                    self._held
                    and now - self._held[0].held_since >= self.config.webhook_reorder_max_hold
                ):
                    self._release_held()
                if self._queue:
                    delivery = min(self._queue, key=lambda d: (d.due, d.sequence))
                    if delivery.due <= now:
                        self._queue.remove(delivery)
                        self._in_flight += 1
                        return delivery
                    wait = delivery.due - now
                else:
                    wait = 0.5
                if self._held:
                    hold_left = (
                        self._held[0].held_since + self.config.webhook_reorder_max_hold - now
                    )
                    wait = min(wait, max(hold_left, 0.001))
                self._cond.wait(min(wait, 0.5))
            return None

    def _run(self) -> None:
        while True:
            delivery = self._next()
            if delivery is None:
                return
            outcome = self._send(delivery)
            self._settle(delivery, outcome)

    def _send(self, delivery: Delivery) -> Attempt:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Shopify-Captain-Hook",
            "X-Shopify-Topic": delivery.topic,
            "X-Shopify-Hmac-Sha256": sign_body(delivery.body, self.config.client_secret),
            "X-Shopify-Shop-Domain": delivery.shop,
            "X-Shopify-API-Version": delivery.api_version,
            "X-Shopify-Webhook-Id": delivery.webhook_id,
            "X-Shopify-Event-Id": delivery.event_id,
            "X-Shopify-Triggered-At": delivery.triggered_at,
        }
        at = self.state.clock.now().isoformat()
        started = time.perf_counter()
        if self._client is None:
            self._client = httpx.Client(
                timeout=self.config.webhook_timeout,
                transport=self._transport,
                follow_redirects=False,
            )
        try:
            response = self._client.post(delivery.uri, content=delivery.body, headers=headers)
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
            return Attempt(at, None, error, round((time.perf_counter() - started) * 1000, 3))
        return Attempt(
            at, response.status_code, None, round((time.perf_counter() - started) * 1000, 3)
        )

    def _settle(self, delivery: Delivery, attempt: Attempt) -> None:
        delete_subscription = False
        with self._cond:
            self._in_flight -= 1
            delivery.attempts.append(attempt)
            ok = attempt.status_code is not None and 200 <= attempt.status_code < 300
            retries = len(delivery.attempts) - 1
            if ok:
                delivery.status = "delivered"
            elif retries < len(self.config.webhook_retry_schedule):
                delivery.status = "pending"
                delivery.due = time.monotonic() + self.config.webhook_retry_schedule[retries]
                self._queue.append(delivery)
            else:
                delivery.status = "failed"
                delete_subscription = (
                    self.config.delete_failing_subscriptions
                    and delivery.subscription_id is not None
                )
                log.info(
                    "webhook %s to %s failed after %d attempts",
                    delivery.topic,
                    delivery.uri,
                    len(delivery.attempts),
                )
            self._cond.notify_all()
        if delete_subscription:
            with self.state.lock:
                shop = self.state.shops.get(delivery.shop)
                if shop is not None and delivery.subscription_id is not None:
                    shop.subscriptions.pop(delivery.subscription_id, None)

    # --- for tests and the control API ---------------------------------------------------------

    def flush(self, timeout: float) -> bool:
        """Release held deliveries and wait until nothing is pending or in flight."""
        deadline = time.monotonic() + timeout
        with self._cond:
            if self._held:
                self._release_held()
                self._cond.notify_all()
        self._ensure_thread()
        with self._cond:
            while self._queue or self._held or self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
            return True

    def pending(self) -> int:
        with self._cond:
            return len(self._queue) + len(self._held) + self._in_flight

    def deliveries(
        self, *, shop: str | None = None, topic: str | None = None
    ) -> list[dict[str, Any]]:
        with self._cond:
            selected = [
                d
                for d in self._log
                if (shop is None or d.shop == shop) and (topic is None or d.topic == topic)
            ]
            return [d.as_json() for d in selected]

    def reset(self) -> None:
        with self._cond:
            self._queue.clear()
            self._held.clear()
            self._log.clear()
            self._cond.notify_all()

    def reseed(self, seed: int | None) -> None:
        with self._cond:
            self.rng.seed(seed)

    def close(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=5)
        if self._client is not None:
            self._client.close()


def _body(payload: dict[str, Any]) -> bytes:
    """UTF-8 JSON as Shopify sends it; text UTF-8 cannot carry (a lone surrogate, which a
    control API caller may put in an order) goes out as a JSON escape (``\\ud800``) instead."""
    try:
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return json.dumps(payload, separators=(",", ":")).encode()
