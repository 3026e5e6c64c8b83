"""A stand-alone fake LINE platform for benchmarks: the sandbox's Messaging API on its own port,
plus two bench-only endpoints: mint ready-signed-able events with valid reply tokens, and count
what was delivered.

    python bench/fake_line.py --port 9100 --secret S --token T --webhook http://127.0.0.1:9200/callback
"""

from __future__ import annotations

import argparse
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from bot.sandbox import SandboxPlatform, create_sandbox_router


def create_app(platform: SandboxPlatform) -> FastAPI:
    app = FastAPI()
    app.include_router(create_sandbox_router(platform))

    @app.post("/bench/mint")
    async def mint(request: Request) -> JSONResponse:
        spec: dict[str, Any] = await request.json()
        users = [f"U{i:032x}" for i in range(int(spec.get("users", 100)))]
        events = [
            platform.make_event("text", users[i % len(users)], text=spec.get("text", "こんにちは"))
            for i in range(int(spec["count"]))
        ]
        return JSONResponse(events)

    @app.get("/bench/stats")
    async def stats(detail: bool = False) -> JSONResponse:
        deliveries = platform.deliveries()
        answer: dict[str, Any] = {"count": len(deliveries), "last_at": max((d.at for d in deliveries), default=None)}
        if detail:
            # Each delivery's chat and wall-clock time, in the order they arrived.
            answer["deliveries"] = [[d.to[0] if d.to else None, d.at] for d in sorted(deliveries, key=lambda d: d.seq)]
        return JSONResponse(answer)

    @app.post("/bench/reset")
    async def reset() -> JSONResponse:
        platform.reset()
        return JSONResponse({})

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--webhook", required=True)
    args = parser.parse_args()
    platform = SandboxPlatform(
        channel_secret=args.secret, access_token=args.token, webhook_url=args.webhook, reply_token_ttl_seconds=600
    )
    uvicorn.run(create_app(platform), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
