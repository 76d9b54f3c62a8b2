"""The operators' web console: a Starlette app over the conversation log and the live index.

Pages (server-rendered, Jinja2 with autoescaping; charts are inline SVG, see charts.py):
- `/` overview: questions per day by outcome, 👍 / 👎 per day, answer times, languages, channels
- `/gaps`: what the articles could not answer, grouped by meaning (insights.gaps); mark a group
  handled, or re-ask its questions against the current index (insights.reask)
- `/conversations`: the log, searched and filtered; `/exchanges/<id>`: one exchange in full
- `/articles`: each indexed article with how often it was quoted and its 👍 / 👎 (insights.articles);
  `/articles/view?path=…`: an article's indexed text
- `/export.csv`, `/export.jsonl`: the conversations page's current filter, downloaded

Access (auth.py): sign in with the token; POSTs need the session's CSRF token; pages
send a Content-Security-Policy that allows nothing but the console's own style sheet. A
script may send the token as "Authorization: Bearer …" for the downloads (DOWNLOADS) only.
"""

from __future__ import annotations

import math
import threading
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode

import sqlalchemy as sa
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from common.clock import utc_stamp
from console import charts
from console.auth import (
    COOKIE,
    SESSION_SECONDS,
    Session,
    Sessions,
    Throttle,
    host_name,
    is_loopback,
    safe_next,
    same_origin,
    same_token,
)
from convlog.export import csv_chunks, jsonl_line
from convlog.review import (
    FEEDBACKS,
    OUTCOMES,
    Filters,
    QueryError,
    check_choice,
    facets,
    get_exchange,
    iter_exchanges,
    outcome_of,
    overview,
    page_exchanges,
    parse_until,
    parse_when,
)


def _model_problems() -> tuple[type[Exception], ...]:
    """What loading the model and red flags may raise that an operator can act on."""
    from embeddings import EmbeddingModelError
    from retrieval.index import IndexProblem
    from retrieval.redflag_meaning import ExamplesError
    from retrieval.safety import RulesError

    return (EmbeddingModelError, IndexProblem, ExamplesError, RulesError, OSError)


MODEL_PROBLEMS = _model_problems()
OVERVIEW_DAYS = 30  # the overview's default date range
PAGE_SIZE = 50
FACETS_SECONDS = 60.0
MAX_FORM_BYTES = 64 * 1024  # a console form is a few fields; anything bigger is refused
DOWNLOADS = ("/export.csv", "/export.jsonl")  # what a bearer token opens, one request at a time
OUTCOME_NAMES = {"answered": "answered", "not_covered": "not covered", "emergency": "emergency",
                 "small_talk": "greeting, thanks, no words", "undelivered": "undelivered"}
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


class Console:
    """What every request shares: the configuration, the log's engine, sessions, and the
    model and index (loaded on first use, so the console starts at once)."""

    def __init__(self, config, engine: sa.Engine, token: str, *, check_host: bool = True):
        self.config = config
        self.engine = engine
        self.token = token
        self.check_host = check_host
        self.sessions = Sessions()
        self.throttle = Throttle()
        self.reasked: dict[str, dict] = {}  # gap group key -> its last re-ask (shown on the gaps page)
        self._lock = threading.RLock()  # one model call at a time
        self._grouper = None
        self._pipeline = None
        self._store = None  # (index folder, ChunkStore)
        self._facets: tuple[float, dict] | None = None

    def facets(self) -> dict[str, list[str]]:
        """The channels and languages in the log, for the filters' choices (read at most once
        every FACETS_SECONDS: two scans of the whole log on every page would be the page's cost)."""
        now = time.monotonic()
        if self._facets is None or now - self._facets[0] > FACETS_SECONDS:
            self._facets = (now, facets(self.engine))
        return self._facets[1]

    def grouper(self):
        """The gap grouper (insights.gaps), loaded on first use."""
        with self._lock:
            if self._grouper is None:
                from insights import open_grouper

                self._grouper = open_grouper(self.config)
            return self._grouper

    def gaps(self, filters: Filters, include_handled: bool = False):
        """The gap report (insights.gaps) for these filters; one model call at a time."""
        grouper = self.grouper()
        with self._lock:
            return grouper.report(self.engine, filters, include_handled=include_handled)

    def mark(self, filters: Filters, key: str, undo: bool) -> int | None:
        """Mark the gap `key` handled (or not, `undo`); None when no group has that key any more."""
        from insights.gaps import mark_group

        grouper = self.grouper()
        with self._lock:
            return mark_group(self.engine, grouper, filters, key, undo=undo)

    def pipeline(self):
        """The answer pipeline over the live index (it follows re-indexes), loaded on first use."""
        with self._lock:
            if self._pipeline is None:
                from bot.service import open_pipeline

                self._pipeline = open_pipeline(self.config)
            return self._pipeline

    def store(self):
        """The live index's chunk store (reopened after a re-index), or None when there is no index."""
        from retrieval.index import current_version
        from retrieval.store import ChunkStore

        folder = current_version(self.config.data_dir)
        with self._lock:
            if folder is None:
                return None
            if self._store is None or self._store[0] != folder:
                if self._store is not None:
                    self._store[1].close()
                self._store = (folder, ChunkStore(folder / "chunks.sqlite"))
            return self._store[1]

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store[1].close()
                self._store = None


# --- rendering -------------------------------------------------------------------------

_env = Environment(loader=PackageLoader("console", "templates"), autoescape=select_autoescape(default=True, default_for_string=True))


def _short_time(ts: str | None) -> str:
    return (ts or "")[:16].replace("T", " ")


_env.filters["when"] = _short_time


def _web_link(url: str | None) -> str | None:
    """An article's source URL if it is a web address (never javascript: or data:), else None."""
    url = (url or "").strip()
    return url if url.lower().startswith(("http://", "https://")) else None


_env.filters["web_link"] = _web_link
_env.globals["OUTCOME_NAMES"] = OUTCOME_NAMES
_env.globals["outcome_of"] = outcome_of
_env.globals["EXCLUDED"] = {  # reason -> (one, several)
    "emergency": ("emergency", "emergencies"), "greeting": ("greeting or thanks", "greetings and thanks"),
    "follow_up": ("follow-up that needs the previous message", "follow-ups that need the previous message"),
    "no_words": ("message without words", "messages without words"), "handled": ("already handled", "already handled"),
}  # fmt: skip


def render(request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
    session: Session | None = request.scope.get("console.session")
    flash = list(session.flash) if session else []
    if session:
        session.flash.clear()
    html = _env.get_template(template).render(
        request=request, session=session, csrf=session.csrf if session else "", flash=flash, path=request.url.path, **context
    )
    return HTMLResponse(html, status_code=status)


def _console(request: Request) -> Console:
    return request.app.state.console


# --- access ----------------------------------------------------------------------------


class Guard:
    """ASGI middleware: the Host header (loopback only, unless the console was started for the
    network), the session for every page but sign-in and the style sheet (a bearer token
    stands in for it on DOWNLOADS), and security headers."""

    OPEN = ("/login", "/static/")

    def __init__(self, app, console: Console):
        self.app = app
        self.console = console

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request = Request(scope)
        host = request.headers.get("host", "")
        if self.console.check_host and not is_loopback(host_name(host)):
            return await _with_headers(PlainTextResponse("This console answers on 127.0.0.1 only.", 400))(scope, receive, send)
        path = scope["path"]
        if not path.startswith(self.OPEN):
            session = self.console.sessions.get(request.cookies.get(COOKIE))
            if session is None and (token := _bearer(request)) is not None:
                # a script with the token (curl -H "Authorization: Bearer …") may download, this request
                # only; a page asked for with it (403) or a wrong token (401, or 429 while tries are
                # throttled) is an error a script sees, not a redirect to a sign-in page it cannot use
                refused = _bearer_refusal(token, path, self.console)
                if refused is not None:
                    return await _with_headers(refused)(scope, receive, send)
                session = Session()
            if session is None:
                if request.method != "GET":
                    return await _with_headers(PlainTextResponse("Sign in first.", 403))(scope, receive, send)
                target = path + (f"?{scope['query_string'].decode('latin-1')}" if scope.get("query_string") else "")
                return await _with_headers(RedirectResponse("/login?" + urlencode({"next": target}), 303))(scope, receive, send)
            scope["console.session"] = session
        if request.method == "POST" and not same_origin(request.headers.get("origin"), host):
            return await _with_headers(PlainTextResponse("Refused: this request came from another site.", 403))(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *_SECURITY_HEADERS]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


_SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]


def _with_headers(response: Response) -> Response:
    for name, value in _SECURITY_HEADERS:
        response.headers[name.decode()] = value.decode()
    return response


def _bearer(request: Request) -> str | None:
    """The token of an "Authorization: Bearer …" header on a GET (None without one)."""
    header = request.headers.get("authorization", "")
    if request.method != "GET" or not header.lower().startswith("bearer "):
        return None
    return header[7:].strip()


def _bearer_refusal(token: str, path: str, console: Console) -> Response | None:
    """None when a request's bearer token is the console's and it asks for a download (DOWNLOADS);
    otherwise the reply that says why (the token is not checked for a page: no guess is tried)."""
    if path not in DOWNLOADS:
        return PlainTextResponse(f"The token opens the downloads only ({', '.join(DOWNLOADS)}); sign in to see the pages.", 403)
    wait = console.throttle.wait()
    if wait > 0:
        return PlainTextResponse(f"Too many wrong tokens; try again in {math.ceil(wait)} s.", 429,
                                 headers={"Retry-After": str(math.ceil(wait))})  # fmt: skip
    if same_token(token, console.token):
        return None
    console.throttle.failed()
    return PlainTextResponse("Wrong token.", 401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


async def _form(request: Request) -> dict[str, str] | Response:
    """A POST's fields, after its CSRF token is checked (a Response: refused)."""
    if int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES:
        return PlainTextResponse("This form is too large.", 413)
    form = await request.form(max_files=0, max_fields=50)
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    session: Session | None = request.scope.get("console.session")
    if session is None or not same_token(fields.get("csrf"), session.csrf):
        return PlainTextResponse("Refused: this form is out of date or did not come from the console (CSRF token). Reload the page and try again.", 403)
    return fields


async def login(request: Request) -> Response:
    console = _console(request)
    target = safe_next(request.query_params.get("next"))
    if request.method == "GET":
        return render(request, "login.html", next=target, error=None)
    if int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES:
        return PlainTextResponse("This form is too large.", 413)
    form = await request.form(max_files=0, max_fields=10)
    target = safe_next(str(form.get("next") or "/"))
    wait = console.throttle.wait()
    if wait > 0:
        return render(request, "login.html", 429, next=target, error=f"Too many wrong tokens; try again in {int(wait) + 1} seconds.")
    if not same_token(str(form.get("token") or "").strip(), console.token):
        console.throttle.failed()
        return render(request, "login.html", 401, next=target, error="That is not the console's token.")
    session = console.sessions.create()
    response = RedirectResponse(target, 303)
    response.set_cookie(COOKIE, session.id, max_age=SESSION_SECONDS, httponly=True, samesite="strict", path="/",
                        secure=request.url.scheme == "https")  # fmt: skip
    return response


async def logout(request: Request) -> Response:
    fields = await _form(request)
    if isinstance(fields, Response):
        return fields
    _console(request).sessions.drop(request.cookies.get(COOKIE))
    response = RedirectResponse("/login", 303)
    response.delete_cookie(COOKIE, path="/")
    return response


# --- filters ---------------------------------------------------------------------------


def _day(value: str, name: str, parse=parse_when) -> str:
    """A date field (2026-11-01) or an age (7d) as a utc_stamp (`parse_until` for the end of a range)."""
    try:
        return parse(value)
    except QueryError as exc:
        raise QueryError(f"{name}: {exc}") from None


def _range(params, default_days: int | None) -> tuple[str | None, str | None, dict[str, str]]:
    """since (inclusive) and until (the whole day included) from the query, and the values to
    show in the form; with `default_days`, the last that many days when the form is empty."""
    since_text = (params.get("since") or "").strip()
    until_text = (params.get("until") or "").strip()
    if not since_text and not until_text and default_days:
        today = datetime.now(timezone.utc).date()
        since_text = (today - timedelta(days=default_days - 1)).isoformat()
    since = _day(since_text, "From") if since_text else None
    until = None
    if until_text:
        until = _day(until_text, "To", parse_until)  # a date: the whole day
    return since, until, {"since": since_text, "until": until_text}


def _filters(params, default_days: int | None = None) -> tuple[Filters, dict[str, str]]:
    """The conversations filters from the query string, and the form's values."""
    since, until, shown = _range(params, default_days)
    values = {key: (params.get(key) or "").strip() for key in ("outcome", "feedback", "channel", "lang", "user", "q")}
    filters = Filters(
        since=since,
        until=until,
        outcome=check_choice("outcome", values["outcome"], OUTCOMES),
        feedback=check_choice("feedback", values["feedback"], FEEDBACKS),
        channel=values["channel"] or None,
        lang=values["lang"] or None,
        user=values["user"] or None,
        text=values["q"] or None,
    )
    return filters, {**shown, **values}


def _query(values: dict[str, str], **extra) -> str:
    return urlencode({k: v for k, v in {**values, **extra}.items() if v})


def _days_between(first: str, last: str) -> list[str]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    if (end - start).days > 3660:  # ten years of empty days is not a chart
        start = end - timedelta(days=3660)
    return [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]


# --- pages -----------------------------------------------------------------------------


def overview_page(request: Request) -> Response:
    console = _console(request)
    try:
        filters, values = _filters(request.query_params, OVERVIEW_DAYS)
    except QueryError as exc:
        return render(request, "overview.html", 400, error=str(exc), values={}, figures=None, charts={})
    started = time.perf_counter()
    figures = overview(console.engine, filters)
    by_day = {d["day"]: d for d in figures["per_day"]}
    first = (filters.since or "")[:10] or (figures["per_day"][0]["day"] if figures["per_day"] else None)
    last = ((filters.until and utc_stamp(datetime.fromisoformat(filters.until.replace("Z", "+00:00")) - timedelta(seconds=1))) or "")[:10]
    last = last or max([d["day"] for d in figures["per_day"]] + [datetime.now(timezone.utc).date().isoformat()])
    days = _days_between(first, last) if first and first <= last else sorted(by_day)
    zero = {"answered": 0, "not_covered": 0, "emergency": 0, "small_talk": 0, "up": 0, "down": 0}
    rows = [by_day.get(d, zero) for d in days]
    made = {
        "outcomes": charts.stacked_bars("Questions per day by outcome", days, [
            charts.Series("answered", "answered", [r["answered"] for r in rows]),
            charts.Series("not covered", "not_covered", [r["not_covered"] for r in rows]),
            charts.Series("emergency", "emergency", [r["emergency"] for r in rows]),
            charts.Series("greetings and chat", "small_talk", [r["small_talk"] for r in rows]),
        ]),  # fmt: skip
        "feedback": charts.diverging_bars("👍 and 👎 per day", days, charts.Series("👍", "up", [r["up"] for r in rows]),
                                          charts.Series("👎", "down", [r["down"] for r in rows])),  # fmt: skip
        "latency": charts.horizontal_bars("Answer time", [(b["bucket"], b["exchanges"]) for b in figures["latency"]], "latency"),
        "langs": charts.horizontal_bars("Languages", figures["langs"], "lang"),
        "channels": charts.horizontal_bars("Channels", figures["channels"], "channel"),
    }
    return render(request, "overview.html", figures=figures, charts=made, values=values, error=None,
                  seconds=time.perf_counter() - started)  # fmt: skip


def conversations_page(request: Request) -> Response:
    console = _console(request)
    options = console.facets()
    try:
        filters, values = _filters(request.query_params)
        page = page_exchanges(console.engine, filters, size=PAGE_SIZE, cursor=request.query_params.get("cursor") or None)
    except QueryError as exc:
        return render(request, "conversations.html", 400, error=str(exc), values={}, page=None, options=options,
                      outcomes=OUTCOMES, query="", next_query="")  # fmt: skip
    query = _query(values)
    next_query = _query(values, cursor=page.next_cursor) if page.next_cursor else ""
    return render(request, "conversations.html", error=None, values=values, page=page, options=options, outcomes=OUTCOMES,
                  query=query, next_query=next_query, first_page=not request.query_params.get("cursor"))  # fmt: skip


def exchange_page(request: Request) -> Response:
    console = _console(request)
    exchange_id = request.path_params["exchange_id"]
    row = get_exchange(console.engine, exchange_id) if exchange_id.isalnum() else None
    if row is None:
        return render(request, "missing.html", 404, what=f"No exchange with id {exchange_id}.")
    store = console.store()
    texts = store.texts([h["chunk_id"] for h in row["hits"]]) if store is not None else {}
    return render(request, "exchange.html", row=row, texts=texts, indexed=store is not None)


def gaps_page(request: Request) -> Response:
    console = _console(request)
    include_handled = request.query_params.get("handled") == "1"
    try:
        since, until, values = _range(request.query_params, None)
    except QueryError as exc:
        return render(request, "gaps.html", 400, error=str(exc), report=None, values={}, include_handled=include_handled,
                      reasked={}, query="")  # fmt: skip
    try:
        report = console.gaps(Filters(since=since, until=until), include_handled)
    except MODEL_PROBLEMS as exc:
        return render(request, "gaps.html", 503, error=f"Cannot group the questions by meaning: {exc}", report=None, values=values,
                      include_handled=include_handled, reasked={}, query="")  # fmt: skip
    query = _query(values, handled="1" if include_handled else "")
    return render(request, "gaps.html", error=None, report=report, values=values, include_handled=include_handled,
                  reasked=console.reasked, query=query)  # fmt: skip


async def _gap_form(request: Request):
    """A gap button's POST: (fields, the filters of the page it was on, the form values), or
    a Response refusing it (CSRF, a bad date)."""
    fields = await _form(request)
    if isinstance(fields, Response):
        return fields
    try:
        since, until, values = _range(fields, None)
    except QueryError as exc:
        return PlainTextResponse(str(exc), 400)
    return fields, Filters(since=since, until=until), values


def _back_to_gaps(values: dict[str, str], fields: dict[str, str], anchor: str = "") -> RedirectResponse:
    """Back to the gaps page the button was on (its dates and "show handled")."""
    back = _query(values, handled=fields.get("handled", ""))
    return RedirectResponse("/gaps" + (f"?{back}" if back else "") + anchor, 303)


async def gaps_handle(request: Request) -> Response:
    form = await _gap_form(request)
    if isinstance(form, Response):
        return form
    fields, filters, values = form
    session: Session = request.scope["console.session"]
    undo = fields.get("undo") == "1"
    marked = await run_in_threadpool(_console(request).mark, filters, fields.get("key", ""), undo)
    if marked is None:
        session.flash.append("That group changed since the page was shown (new questions, or already handled); nothing was marked. Here it is as it is now.")
    elif undo:
        session.flash.append(f"Marked {marked} question(s) as not handled.")
    else:
        session.flash.append(f"Marked {marked} question(s) handled. They no longer show as gaps (tick “show handled” to see them).")
    return _back_to_gaps(values, fields)


async def gaps_reask(request: Request) -> Response:
    form = await _gap_form(request)
    if isinstance(form, Response):
        return form
    fields, filters, values = form
    console = _console(request)
    session: Session = request.scope["console.session"]
    key = fields.get("key", "")
    include_handled = fields.get("handled") == "1"

    def work():
        from insights.reask import reask

        report = console.gaps(filters, include_handled)
        group = next((g for g in report.groups if g.key == key), None)
        if group is None:
            return "That group changed since the page was shown; nothing was re-asked. Here it is as it is now."
        try:
            pipeline = console.pipeline()
            pipeline.searcher.refresh(force=True)
            with console._lock:
                results = reask(pipeline, group.questions)
        except MODEL_PROBLEMS as exc:
            return f"Cannot re-ask: {exc}"
        console.reasked[key] = {"at": utc_stamp(), "index": pipeline.searcher.index.meta.version, "results": results,
                                "answered": sum(1 for r in results if r.answered)}  # fmt: skip
        return None

    problem = await run_in_threadpool(work)
    if problem:
        session.flash.append(problem)
    return _back_to_gaps(values, fields, f"#group-{key}")


def articles_page(request: Request) -> Response:
    console = _console(request)
    try:
        since, until, values = _range(request.query_params, None)
    except QueryError as exc:
        return render(request, "articles.html", 400, error=str(exc), report=None, values={})
    store = console.store()
    if store is None:
        return render(request, "articles.html", error="No index yet: run `articlebot index` first.", report=None, values=values)
    from insights.articles import article_report

    report = article_report(console.engine, store.article_rows(), Filters(since=since, until=until))
    return render(request, "articles.html", error=None, report=report, values=values)


def article_view(request: Request) -> Response:
    console = _console(request)
    store = console.store()
    path = request.query_params.get("path") or ""
    article = store.article_text(path) if store is not None else None
    if article is None:
        return render(request, "missing.html", 404, what="That article is not in the current index.")
    return render(request, "article.html", article=article)


def _export_name(ext: str) -> str:
    return f"articlebot-conversations-{datetime.now(timezone.utc):%Y%m%d-%H%M}.{ext}"


def export(request: Request) -> Response:
    console = _console(request)
    kind = request.path_params["kind"]
    if kind not in ("csv", "jsonl"):
        return PlainTextResponse("Not found.", 404)
    try:
        filters, _ = _filters(request.query_params)
    except QueryError as exc:
        return PlainTextResponse(str(exc), 400)
    rows = iter_exchanges(console.engine, filters)
    if kind == "csv":
        body, media = csv_chunks(rows), "text/csv; charset=utf-8"
    else:
        body, media = (jsonl_line(row) for row in rows), "application/x-ndjson; charset=utf-8"
    return StreamingResponse(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{_export_name(kind)}"'})


def create_app(config, engine: sa.Engine, token: str, *, check_host: bool = True) -> Starlette:
    """The console app over `engine` (the conversation log) and the index in config.data_dir.

    `token`: the password to sign in with; `check_host`: answer only requests addressed to
    the loopback interface (DNS rebinding), off when the operator serves it on the network."""
    console = Console(config, engine, token, check_host=check_host)
    routes = [
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/", overview_page),
        Route("/gaps", gaps_page),
        Route("/gaps/handle", gaps_handle, methods=["POST"]),
        Route("/gaps/reask", gaps_reask, methods=["POST"]),
        Route("/conversations", conversations_page),
        Route("/exchanges/{exchange_id}", exchange_page),
        Route("/articles", articles_page),
        Route("/articles/view", article_view),
        Route("/export.{kind:str}", export),
        Mount("/static", StaticFiles(directory=Path(__file__).with_name("static")), name="static"),
    ]

    async def not_found(request: Request, exc) -> Response:
        return PlainTextResponse("Not found.", 404)

    app = Starlette(routes=routes, exception_handlers={404: not_found})
    app.state.console = console
    app.add_middleware(Guard, console=console)
    return app
