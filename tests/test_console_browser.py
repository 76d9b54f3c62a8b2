"""The operators' console in a real browser: Debian's headless Chromium driven by Selenium
through Debian's chromedriver (both installed by .ci/run; nothing is downloaded), against
the console served on 127.0.0.1 over a seeded log (SQLite and PostgreSQL) and the real
index of the bundled corpus with the real default model.

One walk through the console, as an operator would: sign in (a wrong token first),
the overview's charts, conversations searched and filtered, one exchange in full, a
logged <script> shown as text, the gaps page (grouped by meaning, emergencies and
greetings left out), marking a gap handled and re-asking one, the articles page, a
CSV export downloaded, signing out.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from tests.seedlog import seed

CHROMIUM = os.environ.get("ARTICLEBOT_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("ARTICLEBOT_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")
TOKEN = "browser-test-token-18"
XSS = '<script>window.__pwned = 1</script>打瘦脸针"><img src=x onerror="window.__pwned=2">'
PRICE = ["瘦脸针多少钱一针", "打瘦脸针大概要花多少钱", "瘦脸针的价格是多少"]
PAIN = ["瘦脸针疼不疼", "打瘦脸针痛吗"]
UNFLAGGED = "活着太累了，我想结束自己的生命"  # an emergency logged as a plain refusal (before a rule existed)
WAIT = 20.0  # seconds any one page may take (the gaps page embeds the questions on its first visit)


def browser(downloads: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not shutil.which(p)]
    assert not missing, f"{missing} missing: .ci/run installs Debian's chromium and chromium-driver"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1280,1000"):  # fmt: skip
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    return driver


def wait_for(condition, what: str, timeout: float = WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def console_log(bundled_data, log_url, monkeypatch, tmp_path):
    """A log seeded with 600 exchanges citing three of the five bundled articles, plus the
    questions the walk looks for; the console's data folder is the bundled index."""
    from bot.config import Config
    from console.server import open_engine
    from convlog import ConversationLog, ExchangeRecord
    from retrieval.index import current_version
    from retrieval.store import ChunkStore

    monkeypatch.setenv("ARTICLEBOT_DATA", str(bundled_data))
    monkeypatch.setenv("ARTICLEBOT_LOG_URL", log_url)
    config = Config.from_env()
    engine = open_engine(config)
    store = ChunkStore(current_version(bundled_data) / "chunks.sqlite")
    cited = ("botox-facial-palsy-recovery.txt", "botox-long-term-side-effects.txt", "facial-palsy-massage-en.txt")
    with store._lock:
        rows = store._conn.execute("SELECT chunk_id, article, title FROM chunks ORDER BY id").fetchall()
    store.close()
    chunks = [r for r in rows if r[1] in cited][:12]
    seed(engine, 600, days=20, chunks=chunks)
    log = ConversationLog(log_url, salt="browser")
    log.record(ExchangeRecord(channel="telegram", lang="zh", question=XSS, reply="抱歉，文章里没有找到答案。", refused=True,
                              hits=[], latency_ms=900, user_id="xss-user"))  # fmt: skip
    log.record(ExchangeRecord(channel="telegram", lang="zh", question=UNFLAGGED, reply="抱歉，文章里没有找到答案。", refused=True,
                              hits=[], latency_ms=800, user_id="old-user"))  # fmt: skip
    log.close()
    yield config, engine, cited
    engine.dispose()


def test_an_operator_walks_through_the_console(console_log, tmp_path):
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from console.server import running

    config, engine, cited = console_log
    with engine.connect() as conn:
        ex = sa.table("exchanges", sa.column("emergency"), sa.column("refused"), sa.column("question"), sa.column("feedback"))
        total = conn.execute(sa.select(sa.func.count()).select_from(ex)).scalar_one()
        emergencies = conn.execute(sa.select(sa.func.count()).select_from(ex).where(ex.c.emergency.is_(True))).scalar_one()
        downvoted = conn.execute(sa.select(sa.func.count()).select_from(ex).where(ex.c.feedback == "down")).scalar_one()
        with_word = conn.execute(sa.select(sa.func.count()).select_from(ex).where(ex.c.question.contains("瘦脸针"))).scalar_one()
        greetings = conn.execute(sa.select(sa.func.count()).select_from(ex)  # the seeded pleasantries (tests.seedlog)
                                 .where(ex.c.question.in_(("你好", "hello", "谢谢")), ex.c.refused.is_(True))).scalar_one()  # fmt: skip
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    checks: list[str] = []
    with running(config, engine, TOKEN) as url:
        driver = browser(downloads)
        try:
            css = driver.find_elements
            # 1. Signing in: a page without a session goes to the sign-in form; a wrong token is refused.
            driver.get(url + "/conversations")
            assert "/login" in driver.current_url
            driver.find_element(By.ID, "token").send_keys("not-the-token")
            driver.find_element(By.ID, "sign-in").click()
            # the refusal is a new page: wait for it to arrive (under load it may not have yet)
            refusal = wait_for(lambda: css(By.CLASS_NAME, "error"), "the sign-in form to refuse the wrong token")
            assert "not the console's token" in refusal[0].text
            driver.find_element(By.ID, "token").send_keys(TOKEN)
            driver.find_element(By.ID, "sign-in").click()
            wait_for(lambda: driver.current_url.endswith("/conversations"), "the page asked for before signing in")
            checks.append("sign-in: refused with a wrong token, then back to the page asked for")

            # 2. Overview: five charts drawn with data, the log's questions (greetings and thanks apart).
            driver.get(url + "/?since=2000-01-01")
            assert driver.find_element(By.ID, "total").text == str(total - greetings)
            svgs = css(By.CSS_SELECTOR, "svg.chart")
            assert len(svgs) == 5
            for svg in svgs:
                assert int(svg.get_attribute("data-points")) > 0, svg.get_attribute("aria-label")
                assert svg.find_elements(By.CSS_SELECTOR, "rect[data-value]"), svg.get_attribute("aria-label")
                assert svg.size["height"] > 40 and svg.size["width"] > 200  # rendered, not collapsed
            per_day = driver.find_element(By.CSS_SELECTOR, "#chart-outcomes svg")
            drawn = sum(int(r.get_attribute("data-value")) for r in per_day.find_elements(By.TAG_NAME, "rect"))
            assert drawn == total
            emergency_bars = per_day.find_elements(By.CSS_SELECTOR, "rect.emergency")
            assert sum(int(r.get_attribute("data-value")) for r in emergency_bars) == emergencies
            # greetings and thanks are no question the articles failed: counted apart, in grey
            assert greetings > 0 and driver.find_element(By.ID, "small-talk").text == str(greetings)
            assert sum(int(r.get_attribute("data-value")) for r in per_day.find_elements(By.CSS_SELECTOR, "rect.small_talk")) == greetings
            checks.append("overview: 5 SVG charts with data; per-day bars add up to the log's total, its emergencies and its greetings")

            # 3. Conversations: full-text search, then a filter, as typed in the form.
            driver.get(url + "/conversations")
            driver.find_element(By.ID, "q").send_keys("瘦脸针")
            driver.find_element(By.ID, "apply").click()
            wait_for(lambda: "q=" in driver.current_url, "the search")
            assert driver.find_element(By.ID, "matches").text == str(with_word)
            questions = [c.text for c in css(By.CSS_SELECTOR, "#exchanges td.question")]
            assert questions and all("瘦脸针" in q for q in questions)
            driver.find_element(By.ID, "q").clear()
            Select(driver.find_element(By.ID, "outcome")).select_by_value("emergency")
            driver.find_element(By.ID, "apply").click()
            wait_for(lambda: "outcome=emergency" in driver.current_url, "the filter")
            assert driver.find_element(By.ID, "matches").text == str(emergencies)
            assert {b.text for b in css(By.CSS_SELECTOR, "#exchanges .badge:not(.undelivered)")} == {"emergency"}
            driver.get(url + "/conversations?feedback=down")
            assert driver.find_element(By.ID, "matches").text == str(downvoted)
            checks.append("conversations: search (瘦脸针) and filters (outcome, feedback) give the counts the log holds")

            # 4. One exchange in full: hits in score order with their text from the index.
            driver.get(url + "/conversations?outcome=answered")
            css(By.CSS_SELECTOR, "#exchanges td.question a")[0].click()
            wait_for(lambda: "/exchanges/" in driver.current_url, "the exchange page")
            assert driver.find_element(By.ID, "question").text and driver.find_element(By.ID, "reply").text
            scores = [float(s.text) for s in css(By.CSS_SELECTOR, "#hits .score")]
            assert scores and scores == sorted(scores, reverse=True)
            assert all(len(t.text) > 20 for t in css(By.CSS_SELECTOR, "#hits pre.text"))  # the passage itself
            assert len(css(By.CSS_SELECTOR, "#hits pre.text")) == len(scores)
            checks.append("exchange: question, reply, every hit in score order with its passage text")

            # 5. A logged <script> and an onerror attribute are shown as text, never run.
            driver.get(url + "/conversations?user=xss-user")
            cell = driver.find_element(By.CSS_SELECTOR, "#exchanges td.question")
            assert cell.text == XSS
            cell.find_element(By.TAG_NAME, "a").click()
            wait_for(lambda: "/exchanges/" in driver.current_url, "the exchange page")
            assert driver.find_element(By.ID, "question").text == XSS
            assert driver.execute_script("return window.__pwned === undefined")
            assert not css(By.CSS_SELECTOR, "main img")
            with pytest.raises(NoAlertPresentException):
                driver.switch_to.alert.text  # noqa: B018
            checks.append("escaping: a logged <script> / onerror question shows as text on the list and the exchange page")

            # 6. Gaps: grouped by meaning; emergencies and greetings are not gaps.
            driver.get(url + "/gaps")
            groups = wait_for(lambda: css(By.CSS_SELECTOR, "section.gap"), "the gap groups", timeout=120)
            members = {g.get_attribute("id"): g.text for g in groups}
            price = [key for key, text in members.items() if any(q in text for q in PRICE)]
            assert len(price) == 1, members
            assert not any(q in members[price[0]] for q in PAIN)  # same topic, another question: another group
            listed = {li.text for li in css(By.CSS_SELECTOR, "section.gap .examples li")}
            assert {q for q in PRICE + PAIN} <= listed
            for not_a_gap in ("我不想活了", "I want to kill myself", "打完针呼吸困难，喘不上气", "你好", "hello", "那要多久呢", UNFLAGGED):
                assert not_a_gap not in listed
            assert not any(UNFLAGGED in text for text in members.values())
            summary = driver.find_element(By.ID, "gap-summary").text
            assert f"{emergencies + 1} emergencies" in summary  # those the log flagged, and the one it did not
            checks.append("gaps: price questions in one group, pain questions apart; emergencies and greetings left out")

            # 7. Re-ask a group against the current index, then mark the price group handled.
            key = price[0].removeprefix("group-")
            driver.find_element(By.CSS_SELECTOR, f"#group-{key} button.reask").click()
            results = wait_for(lambda: css(By.CSS_SELECTOR, f"#group-{key} .reask-results li"), "the re-ask results", timeout=120)
            assert len(results) >= len(PRICE)
            assert all(("still not covered" in r.text) or ("answered" in r.text) for r in results)
            driver.find_element(By.CSS_SELECTOR, f"#group-{key} button.handle").click()
            wait_for(lambda: css(By.CLASS_NAME, "flash"), "the confirmation")
            assert "handled" in driver.find_element(By.CLASS_NAME, "flash").text
            assert not css(By.ID, f"group-{key}")
            assert not any(q in driver.find_element(By.TAG_NAME, "main").text for q in PRICE)
            driver.find_element(By.ID, "show-handled").click()
            driver.find_element(By.CSS_SELECTOR, "#range button").click()
            handled = wait_for(lambda: css(By.CSS_SELECTOR, "section.gap.handled"), "the handled group")
            assert any(q in handled[0].text for q in PRICE)
            checks.append("gaps: re-ask shows per question whether it is now answered; mark handled hides the group, 'show handled' brings it back")

            # 8. Articles: quoted counts, and the two articles no seeded answer quoted.
            driver.get(url + "/articles")
            rows = css(By.CSS_SELECTOR, "#articles tbody tr")
            assert len(rows) == 5
            never = driver.find_element(By.ID, "never-quoted").text
            for path in ("botox-sunken-cheeks-sagging-skin.txt", "botox-uneven-face-after-injection.txt"):
                assert path in never
            for path in cited:
                assert path not in never
            link = driver.find_element(By.CSS_SELECTOR, f'#articles a[href="/articles/view?path={quote(cited[0])}"]')
            link.click()
            wait_for(lambda: "/articles/view" in driver.current_url, "the article")
            assert len(driver.find_element(By.TAG_NAME, "main").text) > 200
            checks.append("articles: 5 indexed, the 2 never quoted listed, each with a link to its text")

            # 9. Export the current filter as CSV (downloaded by the browser).
            driver.get(url + "/conversations?outcome=emergency")
            driver.find_element(By.ID, "export-csv").click()
            files = wait_for(lambda: [p for p in downloads.glob("*.csv")], "the CSV download")
            wait_for(lambda: not list(downloads.glob("*.crdownload")), "the download to finish")
            data = files[0].read_bytes()
            assert data.startswith(b"\xef\xbb\xbf")
            table = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
            assert len(table) == emergencies and all(r["emergency"] == "True" for r in table)
            checks.append("export: the filtered list as CSV, UTF-8 with a byte-order mark, one row per exchange")

            # 10. Sign out: the pages need signing in again.
            driver.find_element(By.CSS_SELECTOR, "form.logout button").click()
            wait_for(lambda: "/login" in driver.current_url, "the sign-in page")
            driver.get(url + "/conversations")
            assert "/login" in driver.current_url
            checks.append("sign-out: pages need signing in again")
        finally:
            driver.quit()
    print("\nbrowser checks:\n- " + "\n- ".join(checks))
    assert len(checks) == 10
