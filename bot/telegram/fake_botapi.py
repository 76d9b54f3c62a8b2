"""A fake Bot API server on 127.0.0.1 for tests and the benchmark (needs the dev extras: aiohttp).

It speaks the real HTTP protocol python-telegram-bot uses (POST /bot<token>/<method>),
hands out injected updates through long-polling getUpdates, records every call,
checks that HTML messages are well formed (as Telegram does: a bad message is a
400), and can answer a method with 429 "retry after" or 502 to test retries.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from html.parser import HTMLParser

from aiohttp import web

ALLOWED_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre", "blockquote", "tg-spoiler", "span"}
LONG_POLL_CAP = 2.0  # seconds a getUpdates may wait, whatever the client asks (bounded)


class _HTMLCheck(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in ALLOWED_TAGS:
            self.errors.append(f"unsupported tag <{tag}>")
        self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}>")
        else:
            self.stack.pop()

    def handle_data(self, data):
        if "<" in data or ">" in data:
            self.errors.append("unescaped < or >")
        self.text.append(data)

    def handle_entityref(self, name):
        if name not in {"lt", "gt", "amp", "quot"}:
            self.errors.append(f"unknown entity &{name};")
        self.text.append("&")

    def handle_charref(self, name):
        self.text.append("?")


def check_html(text: str) -> tuple[list[str], str]:
    """(errors, visible text) of a Telegram HTML message."""
    parser = _HTMLCheck()
    parser.feed(text)
    parser.close()
    errors = list(parser.errors)
    if parser.stack:
        errors.append(f"unclosed tags {parser.stack}")
    return errors, "".join(parser.text)


class FakeBotAPI:
    """An in-process Bot API server. Inject updates, then read `calls`."""

    def __init__(self, token: str = "123456:TEST-token-value"):
        self.token = token
        self.bot_user = {
            "id": 424242,
            "is_bot": True,
            "first_name": "ArticleBot",
            "username": "articlebot_test_bot",
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.calls: list[dict] = []  # {"method", "params", "t", "status"}
        self.fail: dict[str, list[int]] = {}  # method -> statuses to answer with, in order
        self.sent: dict[int, dict] = {}  # message_id -> message the bot sent
        self.chat_types: dict[int, str] = {}
        self._updates: list[dict] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(5000)
        self._new = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.url = ""

    # --- server ---------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        app.router.add_get("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def _params(self, request: web.Request) -> dict:
        if request.content_type == "application/json":
            return await request.json()
        form = await request.post()
        params = {}
        for key, value in form.items():
            if isinstance(value, str):
                try:
                    params[key] = json.loads(value)
                except ValueError:
                    params[key] = value
        return params

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        call = {"method": method, "params": params, "t": time.monotonic(), "status": 200}
        self.calls.append(call)
        if request.match_info["token"] != self.token:
            call["status"] = 401
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        planned = self.fail.get(method)
        if planned:
            status = planned.pop(0)
            call["status"] = status
            if status == 429:
                body = {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 1", "parameters": {"retry_after": 1}}
            else:
                body = {"ok": False, "error_code": status, "description": "Bad Gateway"}
            return web.json_response(body, status=status)
        handler = getattr(self, f"m_{method}", None)
        if handler is None:
            call["status"] = 404
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        try:
            result = await handler(params)
        except _BadRequest as exc:
            call["status"] = 400
            return web.json_response({"ok": False, "error_code": 400, "description": f"Bad Request: {exc}"}, status=400)
        return web.json_response({"ok": True, "result": result})

    # --- methods --------------------------------------------------------------

    async def m_getMe(self, p):
        return self.bot_user

    async def m_deleteWebhook(self, p):
        return True

    async def m_setWebhook(self, p):
        return True

    async def m_setMyCommands(self, p):
        return True

    async def m_sendChatAction(self, p):
        return True

    async def m_answerCallbackQuery(self, p):
        return True

    async def m_getUpdates(self, p):
        offset = int(p.get("offset") or 0)
        timeout = min(float(p.get("timeout") or 0), LONG_POLL_CAP)
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates and timeout > 0:
            async with self._new:
                try:
                    await asyncio.wait_for(self._new.wait(), timeout)
                except asyncio.TimeoutError:
                    pass
        return [u for u in self._updates if u["update_id"] >= offset][:100]

    async def m_sendMessage(self, p):
        text = str(p.get("text", ""))
        if re.search("[\ud800-\udfff]", text):  # a lone surrogate is not UTF-8: Telegram refuses it
            raise _BadRequest("strings must be encoded in UTF-8")
        if p.get("parse_mode") == "HTML":
            errors, visible = check_html(text)
            if errors:
                raise _BadRequest(f"can't parse entities: {errors[0]}")
        else:
            visible = text
        if not visible.strip():
            raise _BadRequest("message text is empty")
        if len(visible.encode("utf-16-le")) // 2 > 4096:  # Telegram counts UTF-16 code units
            raise _BadRequest("message is too long")
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": int(p["chat_id"]), "type": self.chat_types.get(int(p["chat_id"]), "private")},
            "from": self.bot_user,
            "text": visible,
        }
        if p.get("reply_markup"):
            message["reply_markup"] = p["reply_markup"]
        self.sent[message["message_id"]] = message
        return message

    async def m_editMessageReplyMarkup(self, p):
        message = self.sent.get(int(p.get("message_id", 0)))
        if message is None:
            raise _BadRequest("message to edit not found")
        message["reply_markup"] = p.get("reply_markup")
        return message

    async def m_editMessageText(self, p):
        message = self.sent.get(int(p.get("message_id", 0)))
        if message is None:
            raise _BadRequest("message to edit not found")
        message["text"] = p.get("text", "")
        return message

    # --- injecting updates ----------------------------------------------------

    async def push(self, kind: str, payload: dict) -> int:
        update_id = next(self._update_ids)
        self._updates.append({"update_id": update_id, kind: payload})
        async with self._new:
            self._new.notify_all()
        return update_id

    async def message(
        self,
        text: str | None = None,
        *,
        user_id: int = 1001,
        chat_id: int | None = None,
        chat_type: str = "private",
        language: str = "zh-hans",
        entities: list[dict] | None = None,
        reply_to: dict | None = None,
        extra: dict | None = None,
    ) -> dict:
        """Inject a user's message; returns it."""
        chat_id = chat_id if chat_id is not None else user_id
        self.chat_types[chat_id] = chat_type
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": chat_type, **({"title": "群"} if chat_type != "private" else {})},
            "from": {"id": user_id, "is_bot": False, "first_name": f"user{user_id}", "language_code": language},
        }
        if text is not None:
            message["text"] = text
            if entities is None and text.startswith("/"):
                entities = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
            if entities:
                message["entities"] = entities
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        message.update(extra or {})
        await self.push("message", message)
        return message

    async def press(self, message: dict, data: str, *, user_id: int = 1001) -> None:
        """Inject a button press on a message the bot sent."""
        await self.push(
            "callback_query",
            {
                "id": f"cb{next(self._update_ids)}",
                "from": {"id": user_id, "is_bot": False, "first_name": f"user{user_id}", "language_code": "zh-hans"},
                "chat_instance": "instance",
                "data": data,
                "message": message,
            },
        )

    # --- reading what the bot did ---------------------------------------------

    def of(self, method: str, **where) -> list[dict]:
        """Successful calls of a method whose params match `where`."""
        out = []
        for call in self.calls:
            if call["method"] != method or call["status"] != 200:
                continue
            if all(call["params"].get(k) == v for k, v in where.items()):
                out.append(call)
        return out

    def replies_to(self, message: dict) -> list[dict]:
        """sendMessage calls that answer a given user message (first part replies to it)."""
        return [
            c
            for c in self.of("sendMessage")
            if (c["params"].get("reply_parameters") or {}).get("message_id") == message["message_id"]
        ]

    def texts_to(self, chat_id: int) -> list[str]:
        return [c["params"]["text"] for c in self.of("sendMessage") if int(c["params"]["chat_id"]) == chat_id]

    async def wait_until(self, predicate, timeout: float = 30.0) -> bool:
        """Poll `predicate` every 50 ms for at most `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            await asyncio.sleep(0.05)
        return bool(predicate())


def post_to_webhook(url: str, update: dict, secret: str | None = None, timeout: float = 10) -> int:
    """POST an update to a bot's webhook as Telegram does (with the secret-token header when
    `secret` is given): the HTTP status, or 0 while nothing listens there yet."""
    import urllib.error
    import urllib.request

    headers = {"Content-Type": "application/json", **({"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {})}
    request = urllib.request.Request(url, json.dumps(update).encode(), headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


class _BadRequest(Exception):
    pass


class ServerThread:
    """Run a FakeBotAPI on its own event loop in a thread (for tests of the blocking CLI)."""

    def __init__(self, api: FakeBotAPI):
        import threading

        self.api = api
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> FakeBotAPI:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.api.start(), self.loop).result(timeout=10)
        return self.api

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self.api.stop(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)

    def call(self, coro, timeout: float = 10):
        """Run a coroutine (e.g. injecting a message) on the server's loop."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=timeout)
