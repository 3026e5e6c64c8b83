"""The API boundary as plain data: an `ApiCall` comes in, an `ApiResponse` goes out, and a refusal is a
`LineError` shaped like LINE's. `bot.sandbox.api` maps these to and from HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.sandbox.validation import Problems

MAX_BODY_BYTES = 2 * 1024 * 1024


@dataclass
class ApiCall:
    endpoint: str  # the fault / rate-limit / retry-key group, one of bot.sandbox.guard.ENDPOINTS
    authorization: str | None = None
    retry_key: str | None = None
    body: bytes = b""
    content_type: str | None = None
    path: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)

    def json_object(self) -> dict[str, Any]:
        try:
            payload = json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise LineError(
                400, "The request body could not be parsed as JSON", [{"message": str(exc), "property": ""}]
            ) from exc
        if not isinstance(payload, dict):
            raise LineError(400, "The request body must be a JSON object")
        return payload


@dataclass
class ApiResponse:
    status: int
    json: Any = None
    content: bytes | None = None
    media_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


class LineError(Exception):
    """A refusal shaped like LINE's: `{"message", "details"?}` plus optional extra body fields."""

    def __init__(
        self,
        status: int,
        message: str,
        details: list[dict[str, str]] | None = None,
        *,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details
        self.extra = extra or {}
        self.headers = headers or {}

    @classmethod
    def from_problems(cls, problems: Problems) -> LineError:
        return cls(400, problems.summary(), problems.details)

    def response(self) -> ApiResponse:
        body: dict[str, Any] = {"message": self.message}
        if self.details:
            body["details"] = self.details
        body.update(self.extra)
        return ApiResponse(self.status, body, headers=dict(self.headers))


def not_found() -> LineError:
    return LineError(404, "Not found")


# One Messaging API operation: (call, request id) -> response; it raises LineError to refuse.
Operation = Callable[[ApiCall, str], ApiResponse]
