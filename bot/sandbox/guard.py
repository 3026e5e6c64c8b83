"""What LINE checks before a Messaging API operation runs: the access token, injected faults, rate
limits, the body size and the retry key. A retry key is remembered only when its operation succeeded."""

from __future__ import annotations

import hmac
import random
from collections.abc import Callable
from typing import Any

from bot.sandbox.calls import MAX_BODY_BYTES, ApiCall, ApiResponse, LineError, Operation
from bot.sandbox.ids import UUID
from bot.sandbox.records import AcceptedKey, Fault, RandomFaults, TokenBucket

AUTH_FAILED = "Authentication failed. Confirm that the access token in the authorization header is valid."
RETRY_KEY_TTL_SECONDS = 24 * 3600
RETRY_KEY_ENDPOINTS = frozenset({"push", "multicast", "narrowcast", "broadcast"})
SEND_ENDPOINTS = ("reply", "push", "multicast", "narrowcast", "broadcast")
# Names accepted by inject_fault / set_rate_limit: one per group of routes (see bot.sandbox.api).
ENDPOINTS = frozenset(
    {
        *SEND_ENDPOINTS,
        "validate",
        "progress",
        "quota",
        "content",
        "profile",
        "loading",
        "richmenu",
        "info",
        "followers",
        "insight",
    }
)
DEFAULT_FAULT_BODIES = {429: {"message": "Too many requests"}, 500: {"message": "Internal server error"}}


class CallGuard:
    """The injected faults, rate limits and accepted retry keys of one channel. Not thread-safe: the
    platform calls it under its lock."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._accepted_keys: dict[str, AcceptedKey] = {}
        self._faults: dict[str, list[Fault]] = {}
        self._rate_limits: dict[str, TokenBucket] = {}
        self._random_faults: dict[str, RandomFaults] = {}

    def inject_fault(
        self, endpoint: str, status: int, count: int, body: dict[str, Any] | None, seconds: float | None = None
    ) -> None:
        _check_endpoint(endpoint)
        if not (400 <= status <= 599 or (200 <= status <= 299 and body is not None)):
            raise ValueError("a fault status must be 4xx or 5xx, or 2xx with the (malformed) body to answer")
        answer = body if body is not None else DEFAULT_FAULT_BODIES.get(status, {"message": f"Error {status}"})
        until = None if seconds is None else self._clock() + seconds
        self._faults.setdefault(endpoint, []).append(Fault(status, dict(answer), count, until))

    def inject_random_faults(self, endpoint: str, odds: dict[int, float], seed: int | None) -> None:
        _check_endpoint(endpoint)
        if any(not 400 <= status <= 599 for status in odds):
            raise ValueError("a random fault's status must be 4xx or 5xx")
        if any(p < 0 for p in odds.values()) or sum(odds.values()) > 1:
            raise ValueError("fault probabilities must be >= 0 and add up to at most 1")
        if not odds:
            self._random_faults.pop(endpoint, None)
        else:
            self._random_faults[endpoint] = RandomFaults(random.Random(seed), sorted(odds.items()))

    @staticmethod
    def check_endpoint(endpoint: str) -> None:
        _check_endpoint(endpoint)

    def set_rate_limit(self, endpoint: str, per_second: float | None) -> None:
        _check_endpoint(endpoint)
        if per_second is None:
            self._rate_limits.pop(endpoint, None)
        else:
            self._rate_limits[endpoint] = TokenBucket(per_second, max(1.0, per_second), self._clock())

    def run(self, call: ApiCall, operation: Operation, request_id: str, access_token: str) -> ApiResponse:
        """Auth, faults, rate limit, size, retry key, then the operation; a refusal becomes its response."""
        try:
            _authenticate(call.authorization, access_token)
            fault = self._take_fault(call.endpoint)
            if fault is not None:
                # A 2xx fault: LINE answering "successfully" with a body the client does not expect.
                return ApiResponse(fault.status, dict(fault.body))
            self._take_rate_token(call.endpoint)
            if len(call.body) > MAX_BODY_BYTES:
                raise LineError(413, "Request Entity Too Large")
            retry_key = self._check_retry_key(call)
            response = operation(call, request_id)
            if retry_key is not None and response.status < 300:
                sent = response.json.get("sentMessages") if isinstance(response.json, dict) else None
                self._accepted_keys[retry_key.lower()] = AcceptedKey(request_id, sent, self._clock())
        except LineError as error:
            response = error.response()
        return response

    def _take_fault(self, endpoint: str) -> Fault | None:
        """Raises the endpoint's next 4xx/5xx fault; answers its next 2xx one; None when there is none.
        Counted faults come first; then the random ones roll."""
        queue = self._faults.get(endpoint)
        while queue and queue[0].until is not None and self._clock() >= queue[0].until:
            queue.pop(0)  # a fault for a while: the while is over
        if not queue:
            self._roll_random_fault(endpoint)
            return None
        fault = queue[0]
        if fault.until is None:
            fault.remaining -= 1
            if fault.remaining <= 0:
                queue.pop(0)
        if fault.status < 400:
            return fault
        raise LineError(fault.status, str(fault.body.get("message", "")), extra=fault.body)

    def _roll_random_fault(self, endpoint: str) -> None:
        faults = self._random_faults.get(endpoint)
        status = faults.draw() if faults is not None else None
        if status is not None:
            body = DEFAULT_FAULT_BODIES.get(status, {"message": f"Error {status}"})
            raise LineError(status, str(body["message"]), extra=dict(body))

    def _take_rate_token(self, endpoint: str) -> None:
        bucket = self._rate_limits.get(endpoint)
        if bucket is not None and not bucket.take(self._clock()):
            raise LineError(429, "Too many requests")

    def _check_retry_key(self, call: ApiCall) -> str | None:
        key = call.retry_key
        if key is None:
            return None
        if call.endpoint not in RETRY_KEY_ENDPOINTS:
            raise LineError(400, "The X-Line-Retry-Key header cannot be used with this endpoint")
        if not UUID.match(key):
            raise LineError(
                400, "The retry key must be a UUID", [{"message": "must be a UUID", "property": "X-Line-Retry-Key"}]
            )
        now = self._clock()
        self._accepted_keys = {
            k: v for k, v in self._accepted_keys.items() if now - v.accepted_at < RETRY_KEY_TTL_SECONDS
        }
        accepted = self._accepted_keys.get(key.lower())
        if accepted is not None:
            extra = {"sentMessages": accepted.sent_messages} if accepted.sent_messages is not None else {}
            raise LineError(
                409,
                "The retry key is already accepted",
                extra=extra,
                headers={"X-Line-Accepted-Request-Id": accepted.request_id},
            )
        return key


def _authenticate(authorization: str | None, access_token: str) -> None:
    scheme, _, token = (authorization or "").partition(" ")
    # Bytes, not str: compare_digest raises TypeError on non-ASCII text, which would be a 500.
    presented = token.strip().encode("utf-8")
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented, access_token.encode("utf-8")):
        raise LineError(401, AUTH_FAILED)


def _check_endpoint(endpoint: str) -> None:
    if endpoint not in ENDPOINTS:
        raise ValueError(f"unknown endpoint {endpoint!r}; one of {sorted(ENDPOINTS)}")
