"""The yardstick: line-bot-sdk's own FastAPI echo example, pointed at the fake LINE platform.

python bench/echo_bot.py --port 9300 --secret S --token T --line http://127.0.0.1:9100/sandbox/line
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator

import uvicorn
from fastapi import FastAPI, HTTPException, Request
from linebot.v3 import WebhookParser
from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.messaging import AsyncApiClient, AsyncMessagingApi, Configuration, ReplyMessageRequest, TextMessage
from linebot.v3.webhooks import MessageEvent, TextMessageContent


def create_app(secret: str, token: str, line_url: str) -> FastAPI:
    parser = WebhookParser(secret)
    state: dict[str, AsyncMessagingApi] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = AsyncApiClient(Configuration(host=line_url, access_token=token))
        state["api"] = AsyncMessagingApi(client)
        yield
        await client.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/callback")
    async def handle_callback(request: Request) -> str:
        signature = request.headers["X-Line-Signature"]
        body = (await request.body()).decode()
        try:
            events = parser.parse(body, signature)
        except InvalidSignatureError:
            raise HTTPException(status_code=400, detail="Invalid signature") from None
        for event in events:
            if isinstance(event, MessageEvent) and isinstance(event.message, TextMessageContent):
                await state["api"].reply_message(
                    ReplyMessageRequest(reply_token=event.reply_token, messages=[TextMessage(text=event.message.text)])
                )
        return "OK"

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--line", required=True)
    args = parser.parse_args()
    uvicorn.run(create_app(args.secret, args.token, args.line), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
