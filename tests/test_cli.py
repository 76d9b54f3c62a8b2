"""The `articlebot` command line: its JSON contracts, its errors and the terminal chat."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from corpus import DEFAULT_CORPUS
from presentation.texts import CHAT_GREETING, DISCLAIMER
from retrieval.evaluate import score

EVAL_MINI = Path(__file__).parent / "data" / "eval-mini"


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def assert_one_sentence_error(result, *needles: str) -> None:
    assert result.exit_code != 0
    text = result.output.strip()
    assert "Traceback" not in text
    assert text.startswith("Error: ") and len(text.splitlines()) == 1, text
    for needle in needles:
        assert needle in text


@pytest.fixture
def use_bundled(bundled_data, monkeypatch):
    monkeypatch.setenv("ARTICLEBOT_DATA", str(bundled_data))


def test_index_json_contract(tmp_path):
    result = run("index", "--json")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert {"articles", "chunks", "embedded", "seconds"} <= set(figures)  # the contract other tools rely on
    assert figures["articles"] == 5
    assert isinstance(figures["chunks"], int) and figures["chunks"] == figures["embedded"] > 10
    assert isinstance(figures["seconds"], float)
    assert (figures["added"], figures["changed"], figures["removed"], figures["unchanged"]) == (5, 0, 0, 0)
    assert figures["skipped"] == [] and figures["duplicates"] == []

    again = json.loads(run("index", "--json").output)
    assert again["embedded"] == 0 and again["chunks"] == figures["chunks"]
    assert (again["added"], again["unchanged"]) == (0, 5)


def test_index_summary_reports_skipped_files_and_cleaning(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "palsy.txt").write_bytes((DEFAULT_CORPUS / "botox-facial-palsy-recovery.txt").read_bytes())
    (corpus / "broken.txt").write_bytes(b"\x00\x01\x02binary")
    result = run("index", "--corpus", str(corpus), "-v")
    assert result.exit_code == 0, result.output
    assert "Indexed 1 article into" in result.output
    assert "skipped broken.txt: looks like a binary file" in result.output
    assert "[contact/ad] 咨询热线" in result.output


def test_ask_json_contract(use_bundled):
    result = run("ask", "--json", "打瘦脸针后面瘫多久能恢复？")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) == {"question", "searched", "reply", "refused", "emergency", "hits"}
    assert data["question"] == data["searched"] == "打瘦脸针后面瘫多久能恢复？"
    assert data["refused"] is False and data["emergency"] is False
    assert data["reply"].endswith(DISCLAIMER["zh"])
    assert data["hits"]
    for hit in data["hits"]:
        assert set(hit) == {"article", "title", "chunk_id", "score", "text"}
        assert (DEFAULT_CORPUS / hit["article"]).is_file()
        assert isinstance(hit["score"], float)
    assert data["hits"][0]["article"] == "botox-facial-palsy-recovery.txt"


def test_ask_prints_exactly_the_reply(use_bundled):
    question = "长期打肉毒素有什么副作用？"
    plain = run("ask", question).output
    reply = json.loads(run("ask", "--json", question).output)["reply"]
    assert plain == reply + "\n"


def test_ask_json_flags_emergencies(use_bundled):
    data = json.loads(run("ask", "--json", "我妈突然嘴歪了，说话也含糊不清").output)
    assert data["emergency"] is True
    assert data["reply"].startswith("⚠️") and data["reply"].endswith(DISCLAIMER["zh"])


def test_ask_refuses_off_topic(use_bundled):
    data = json.loads(run("ask", "--json", "红烧肉怎么做？").output)
    assert data["refused"] is True
    assert data["reply"].endswith(DISCLAIMER["zh"])


def test_missing_index_is_one_sentence():
    assert_one_sentence_error(run("ask", "面瘫怎么办"), "No index", "articlebot index")


def test_empty_corpus_is_one_sentence(tmp_path):
    (tmp_path / "empty").mkdir()
    assert_one_sentence_error(run("index", "--corpus", str(tmp_path / "empty")), "No usable articles")


def test_unknown_model_is_one_sentence(monkeypatch):
    monkeypatch.setenv("ARTICLEBOT_MODEL", "/no/such/model")
    assert_one_sentence_error(run("index"), "/no/such/model")
    monkeypatch.setenv("ARTICLEBOT_MODEL", "not-a-model")
    assert_one_sentence_error(run("index"), "Unknown embedding model")


def test_index_from_another_model_is_one_sentence(use_bundled, monkeypatch):
    monkeypatch.setenv("ARTICLEBOT_MODEL", "all-MiniLM-L6-v2")
    assert_one_sentence_error(run("ask", "面瘫"), "multilingual-e5-small", "all-MiniLM-L6-v2", "articlebot index")


def test_bad_configuration_value_is_one_sentence(monkeypatch):
    monkeypatch.setenv("ARTICLEBOT_TOP_K", "lots")
    assert_one_sentence_error(run("ask", "面瘫"), "ARTICLEBOT_TOP_K")


def test_another_packaged_model_works_by_name(tmp_path, monkeypatch):
    monkeypatch.setenv("ARTICLEBOT_MODEL", "all-MiniLM-L6-v2")
    figures = json.loads(run("index", "--json").output)
    assert figures["chunks"] > 10
    data = json.loads(run("ask", "--json", "Can massage help facial nerve palsy?").output)
    assert "facial-palsy-massage-en.txt" in [h["article"] for h in data["hits"]]
    assert data["reply"].split("📄 ")[1].startswith("Facial nerve palsy massage treatment")  # quoted first
    assert data["reply"].endswith(DISCLAIMER["en"])


def test_terminal_chat_uses_the_same_pipeline(use_bundled):
    result = run("chat", input="打瘦脸针后面瘫多久能恢复？\n\nCan massage help facial nerve palsy?\nexit\n红烧肉怎么做\n")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "3个月内完全恢复" in out
    assert "Facial nerve palsy massage treatment" in out
    assert "红烧肉" not in out  # after "exit" nothing more is read
    assert out.count(DISCLAIMER["zh"]) == 3  # greeting, first answer, the empty line's hint
    assert out.count(DISCLAIMER["en"]) == 2  # the greeting (in both languages) and the English answer
    assert out.startswith(CHAT_GREETING) and out.index(DISCLAIMER["en"]) < out.index("> ")


def test_run_builds_the_index_when_missing_then_chats(tmp_path):
    result = run("run", input="长期打肉毒素有什么副作用？\n")
    assert result.exit_code == 0, result.output
    assert "building it" in result.output
    assert "肌肉萎缩" in result.output
    assert (tmp_path / "data" / "CURRENT").is_file()


def test_webhook_without_a_token_is_one_sentence(use_bundled):
    assert_one_sentence_error(run("run", "--webhook-url", "https://bot.example.org/hook"), "TELEGRAM_BOT_TOKEN")


def test_eval_json_contract():
    result = run("eval", str(EVAL_MINI), "--json")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert set(figures) == {"queries", "R@1", "R@5", "R@10", "MRR@10"}
    assert figures["queries"] == 6
    assert 0 <= figures["R@1"] <= figures["R@5"] <= figures["R@10"] <= 1
    assert figures["R@10"] >= 0.8  # six easy questions over twelve distinct passages


def test_index_summary_names_an_article_that_duplicates_another(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    palsy = (DEFAULT_CORPUS / "botox-facial-palsy-recovery.txt").read_bytes()
    (corpus / "palsy.txt").write_bytes(palsy)
    (corpus / "palsy-copy.txt").write_bytes(palsy)
    result = run("index", "--corpus", str(corpus), "--json")
    # the copy is named as the duplicate, though it sorts first ("-" before ".")
    assert json.loads(result.output)["duplicates"] == [{"path": "palsy-copy.txt", "same_as": "palsy.txt"}]
    result = run("index", "--corpus", str(corpus), "--full")
    assert "duplicate palsy-copy.txt: same text as palsy.txt, which is quoted instead" in result.output


def test_an_added_article_with_the_text_of_an_indexed_one_is_the_duplicate(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    palsy = (DEFAULT_CORPUS / "botox-facial-palsy-recovery.txt").read_bytes()
    (corpus / "palsy.txt").write_bytes(palsy)
    run("index", "--corpus", str(corpus))
    (corpus / "another.txt").write_bytes(palsy)  # sorts first, but the index already quotes palsy.txt
    figures = json.loads(run("index", "--corpus", str(corpus), "--json").output)
    assert figures["duplicates"] == [{"path": "another.txt", "same_as": "palsy.txt"}]
    assert figures["unchanged"] == 1 and figures["added_paths"] == ["another.txt"]


def test_eval_credits_an_answer_whose_text_another_passage_holds(tmp_path, fake_encoder):
    from retrieval.evaluate import evaluate

    answer = "高血压患者应长期规律服用降压药，不可自行停药。同时要限制食盐摄入，每天不超过5克，并坚持适量运动。"
    passages = [
        {"id": "kept", "title": "", "text": answer},
        {"id": "copy", "title": "", "text": answer},
        {"id": "other", "title": "", "text": "感冒多由病毒引起，一般一周左右可以自愈。多喝水、注意休息即可，抗生素对病毒性感冒无效。"},
    ]
    questions = [{"id": "q1", "text": "高血压患者可以自行停药吗？", "relevant": ["copy"]}]
    (tmp_path / "corpus.jsonl").write_text("\n".join(json.dumps(p, ensure_ascii=False) for p in passages), encoding="utf-8")
    (tmp_path / "queries.jsonl").write_text(json.dumps(questions[0], ensure_ascii=False), encoding="utf-8")
    figures = evaluate(tmp_path, fake_encoder, modes=("lexical",))["lexical"]
    assert figures["relevant_collapsed"] == 1
    assert figures["R@1"] == 1.0 and figures["MRR@10"] == 1.0  # "kept" is found, and it is the same answer


def test_eval_of_a_folder_without_the_files_is_one_sentence(tmp_path):
    assert_one_sentence_error(run("eval", str(tmp_path)), "corpus.jsonl")


def test_recall_and_mrr_arithmetic():
    rankings = [["a", "b", "c"], ["x", "y", "b"], ["q"] * 10]
    relevant = [{"a"}, {"b", "z"}, {"nope"}]
    figures = score(rankings, relevant)
    assert figures["queries"] == 3
    assert figures["R@1"] == round((1 + 0 + 0) / 3, 4)
    assert figures["R@5"] == round((1 + 0.5 + 0) / 3, 4)
    assert figures["MRR@10"] == round((1 + 1 / 3 + 0) / 3, 4)


def test_python_dash_m_bot_is_the_same_command():
    result = subprocess.run([sys.executable, "-m", "bot", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for command in ("index", "ask", "chat", "eval", "run"):
        assert command in result.stdout


def test_every_command_but_the_bot_lets_idle_engine_threads_sleep(monkeypatch):
    """Two processes whose engine threads spin stall each other on two cores (bot.config):
    a re-index, an evaluation or the console lets its idle threads sleep; the bot does not;
    a policy set in the environment wins."""
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    assert run("run", "--help").exit_code == 0 and "OMP_WAIT_POLICY" not in os.environ
    assert run("logs", "--help").exit_code == 0 and os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    assert run("index", "--help").exit_code == 0 and os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
