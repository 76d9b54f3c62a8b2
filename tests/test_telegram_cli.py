"""`articlebot run` with Telegram: token handling, log redaction and graceful shutdown,
as a real process against the local Bot API server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.telegram.fake_botapi import FakeBotAPI, ServerThread


def wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return bool(predicate())


@pytest.fixture
def use_bundled(bundled_data, monkeypatch):
    monkeypatch.setenv("ARTICLEBOT_DATA", str(bundled_data))


def test_rejected_token_is_one_sentence_and_not_echoed(use_bundled, monkeypatch):
    with ServerThread(FakeBotAPI()) as api:
        monkeypatch.setenv("TELEGRAM_API_URL", api.url)
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "999:wrong-secret-token")
        result = CliRunner().invoke(main, ["run"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == "Error: Telegram rejected TELEGRAM_BOT_TOKEN; check the token with @BotFather."
    assert "wrong-secret-token" not in result.output


def test_unreachable_api_is_one_sentence(use_bundled, monkeypatch):
    monkeypatch.setenv("TELEGRAM_API_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "999:some-secret-token")
    result = CliRunner().invoke(main, ["run"])
    assert result.exit_code == 1
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("Error: Cannot reach the Telegram Bot API")
    assert "some-secret-token" not in result.output


def test_token_from_dotenv_file(use_bundled, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with ServerThread(FakeBotAPI()) as api:
        (tmp_path / ".env").write_text(f"TELEGRAM_BOT_TOKEN=777:from-dotenv\nTELEGRAM_API_URL={api.url}\n")
        monkeypatch.delenv("TELEGRAM_API_URL", raising=False)
        result = CliRunner().invoke(main, ["run"])
    assert result.exit_code == 1
    assert "Telegram rejected" in result.output  # the .env token was used (and is wrong for this server)
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.delenv("TELEGRAM_API_URL", raising=False)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_bot_process_answers_then_shuts_down_gracefully_and_never_logs_the_token(bundled_data, sig):
    api = FakeBotAPI()
    thread = ServerThread(api)
    with thread:
        env = {
            **os.environ,
            "ARTICLEBOT_DATA": str(bundled_data),
            "TELEGRAM_BOT_TOKEN": api.token,
            "TELEGRAM_API_URL": api.url,
            "HF_HUB_OFFLINE": "1",
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        try:
            assert wait_for(lambda: api.of("getUpdates"), 60), "the bot never polled"
            message = thread.call(api.message("长期打肉毒素有什么副作用？", user_id=41))
            assert wait_for(lambda: api.replies_to(message), 30), "no reply"
            proc.send_signal(sig)
            out, _ = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0, out
    assert "Application started" in out  # it logs...
    assert api.token not in out  # ...but never the token
    assert api.token.split(":")[1] not in out
