"""Serving the console with uvicorn: `serve` for `articlebot console`, `running` for tests,
benchmarks and screenshots (a real server on 127.0.0.1 in a thread)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import sqlalchemy as sa
import uvicorn

from console.app import create_app
from console.auth import is_loopback


class ConsoleError(Exception):
    """The console cannot start as asked (a user can act on it)."""


def open_engine(config) -> sa.Engine:
    """The engine of the conversation log the bot writes (created and migrated if new)."""
    from convlog import log_url, migrate
    from convlog.database import create_engine

    engine = create_engine(log_url(config.data_dir, config.log_url))
    migrate(engine)
    return engine


def check_bind(host: str, allow_remote: bool) -> None:
    """Only loopback unless the operator asked for more."""
    if not is_loopback(host) and not allow_remote:
        raise ConsoleError(
            f"Serving the console on {host} would show the conversation log to the network; it listens on 127.0.0.1"
            " by default. Pass --allow-remote to do it anyway (behind HTTPS: the token travels in the sign-in form)."
        )


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # TCP named: asyncio then turns Nagle off
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise ConsoleError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}.") from None
    sock.listen(128)
    return sock


def _server(app, sock: socket.socket) -> uvicorn.Server:
    return uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", timeout_keep_alive=5))


def serve(config, *, host: str, port: int, token: str, allow_remote: bool, announce) -> None:
    """Run the console until interrupted; `announce(url)` is called once it listens."""
    check_bind(host, allow_remote)
    sock = _bind(host, port)
    engine = open_engine(config)
    app = create_app(config, engine, token, check_host=is_loopback(host))
    server = _server(app, sock)
    bound = sock.getsockname()[1]
    shown = f"[{host.strip('[]')}]" if ":" in host else host
    announce(f"http://{shown}:{bound}/")
    try:
        server.run(sockets=[sock])
    finally:
        app.state.console.close()
        engine.dispose()


@contextlib.contextmanager
def running(config, engine: sa.Engine, token: str, *, port: int = 0) -> Iterator[str]:
    """The console served on 127.0.0.1 in a thread for as long as the block runs; yields its URL."""
    sock = _bind("127.0.0.1", port)
    app = create_app(config, engine, token)
    server = _server(app, sock)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="console")
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise ConsoleError("The console did not start.")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        app.state.console.close()
        sock.close()
