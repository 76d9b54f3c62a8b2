"""The README's screenshots of the console: docs/console-overview.png and docs/console-gaps.png.

    .venv/bin/python bench/screenshots.py [--count 3000] [--out docs]

Indexes the bundled corpus in a temporary folder, seeds a log with `--count`
exchanges over 30 days (tests/seedlog.py, hits on real chunks), serves the console
on 127.0.0.1 and photographs its pages in Debian's headless Chromium (the same
browser the tests use; install fonts-noto-cjk and fonts-noto-color-emoji for the
Chinese and the emoji to show). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TOKEN = "screenshot-token-0000"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory(prefix="articlebot-shots-") as tmp:
        os.environ["ARTICLEBOT_DATA"] = str(Path(tmp) / "data")
        os.environ.pop("ARTICLEBOT_LOG_URL", None)
        from bot.config import Config
        from console.server import open_engine, running
        from corpus import DEFAULT_CORPUS
        from embeddings import DEFAULT_MODEL, load_encoder
        from retrieval.build import build_index
        from retrieval.index import current_version
        from retrieval.store import ChunkStore
        from tests.seedlog import seed
        from tests.test_console_browser import browser

        config = Config.from_env()
        started = time.perf_counter()
        build_index(DEFAULT_CORPUS, config.data_dir, load_encoder(DEFAULT_MODEL))
        store = ChunkStore(current_version(config.data_dir) / "chunks.sqlite")
        with store._lock:
            chunks = store._conn.execute("SELECT chunk_id, article, title FROM chunks ORDER BY id").fetchall()
        store.close()
        engine = open_engine(config)
        seed(engine, args.count, days=30, chunks=[c for c in chunks if "sagging" not in c[1]])
        print(f"indexed and seeded in {time.perf_counter() - started:.0f} s")
        args.out.mkdir(parents=True, exist_ok=True)
        with running(config, engine, TOKEN) as url:
            driver = browser(Path(tmp))
            try:
                from selenium.webdriver.common.by import By

                driver.get(url + "/login")
                driver.find_element(By.ID, "token").send_keys(TOKEN)
                driver.find_element(By.ID, "sign-in").click()
                for page, name in (("/", "console-overview.png"), ("/gaps", "console-gaps.png")):
                    driver.get(url + page)
                    height = driver.execute_script("return document.documentElement.scrollHeight")
                    driver.set_window_size(1280, min(max(height + 120, 800), 2400))
                    driver.save_screenshot(str(args.out / name))
                    print(f"wrote {args.out / name}")
            finally:
                driver.quit()
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
