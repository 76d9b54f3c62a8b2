"""Hostile corpora: odd file names, links, unreadable folders and stray bytes never stop
indexing, never make it read outside the corpus folder, and are each named with a reason."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

import corpus.load
from bot.cli import main
from corpus import DEFAULT_CORPUS, read_documents
from retrieval.build import build_index
from retrieval.index import IndexMeta, current_version
from tests.conftest import FakeEncoder

PALSY = (DEFAULT_CORPUS / "botox-facial-palsy-recovery.txt").read_bytes()
MASSAGE = (DEFAULT_CORPUS / "facial-palsy-massage-en.txt").read_bytes()
OUTSIDE = "points outside the corpus folder"
PLANTED = "PLANTED-SECRET: this text lives outside the corpus folder and must never be quoted."


def one_article_corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    root.mkdir()
    (root / "palsy.txt").write_bytes(PALSY)
    return root


def create_bytes_named(folder: Path, name: bytes, content: bytes) -> None:
    """A file whose name is raw bytes (not necessarily UTF-8)."""
    fd = os.open(os.fsencode(folder) + b"/" + name, os.O_CREAT | os.O_WRONLY, 0o644)
    try:
        os.write(fd, content)
    finally:
        os.close(fd)


def stored_text(data: Path) -> str:
    conn = sqlite3.connect(current_version(data) / "chunks.sqlite")
    try:
        return "\n".join(text for (text,) in conn.execute("SELECT text FROM chunks"))
    finally:
        conn.close()


def run_index(monkeypatch, *args: str):
    """`articlebot index` in-process with the fast fake encoder (plumbing only)."""
    monkeypatch.setattr("bot.service.make_encoders", lambda config: [FakeEncoder()])
    return CliRunner().invoke(main, ["index", *args], catch_exceptions=False)


def test_a_file_name_that_is_not_utf8_is_indexed_under_a_printable_name(tmp_path, monkeypatch):
    root = one_article_corpus(tmp_path)
    create_bytes_named(root, b"\xff\xfe.txt", MASSAGE)
    create_bytes_named(root, b"line\nskipped fake.txt", b"")  # a newline must not forge a report line
    result = run_index(monkeypatch, "--corpus", str(root))
    assert result.exit_code == 0, result.output
    assert "  added \\xff\\xfe.txt\n" in result.output  # indexed: its content is fine
    assert "  skipped line\\nskipped fake.txt: empty file\n" in result.output
    figures = json.loads(run_index(monkeypatch, "--corpus", str(root), "--json", "--full").output)
    assert figures["articles"] == 2 and figures["unchanged"] == 2
    assert figures["skipped"] == [{"path": "line\\nskipped fake.txt", "reason": "empty file"}]
    conn = sqlite3.connect(current_version(tmp_path / "data") / "chunks.sqlite")
    assert sorted(p for (p,) in conn.execute("SELECT path FROM articles")) == ["\\xff\\xfe.txt", "palsy.txt"]
    conn.close()


def test_broken_links_loops_and_unreadable_folders_are_skipped_with_a_reason(tmp_path, monkeypatch, fake_encoder):
    root = one_article_corpus(tmp_path)
    (root / "dangling.txt").symlink_to("no-such-file.txt")
    (root / "loop.txt").symlink_to("loop.txt")
    (root / "ring").symlink_to("ring")
    locked = root / "locked"
    locked.mkdir()
    (locked / "massage.txt").write_bytes(MASSAGE)
    real_list = corpus.load.list_folder

    def list_folder(folder):  # root reads through chmod 000: make the walk meet the error anyway
        if Path(folder) == locked:
            raise PermissionError(13, "Permission denied")
        return real_list(folder)

    monkeypatch.setattr(corpus.load, "list_folder", list_folder)
    locked.chmod(0)
    try:
        report = build_index(root, tmp_path / "data", fake_encoder)
    finally:
        locked.chmod(0o755)
    assert {p.path: p.reason for p in report.problems} == {
        "dangling.txt": "a symbolic link to nothing (its target does not exist)",
        "loop.txt": "a symbolic link in a loop",
        "ring": "a symbolic link in a loop",
        "locked": "a folder that cannot be read (Permission denied)",
    }
    assert report.added == ["palsy.txt"]


def test_links_out_of_the_corpus_are_never_read(tmp_path, fake_encoder):
    root = one_article_corpus(tmp_path)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "planted.txt").write_text(PLANTED + "\n" + MASSAGE.decode(), "utf-8")
    (root / "planted.txt").symlink_to(outside / "planted.txt")
    (root / "shared").symlink_to(outside)
    (root / "up.txt").symlink_to("../elsewhere/planted.txt")
    (root / "sub").mkdir()
    (root / "sub" / "same.txt").symlink_to("../palsy.txt")  # inside: not followed, read once as palsy.txt
    (root / "notes.pdf").symlink_to(outside / "planted.txt")  # not an article either way: nothing to say
    report = build_index(root, tmp_path / "data", fake_encoder)
    assert {p.path: p.reason for p in report.problems} == {
        "planted.txt": OUTSIDE,
        "shared": OUTSIDE,
        "up.txt": OUTSIDE,
        "sub/same.txt": "a symbolic link to palsy.txt in the corpus (links are not followed)",
    }
    assert report.added == ["palsy.txt"] and not report.duplicates
    assert "PLANTED-SECRET" not in stored_text(tmp_path / "data")


def test_the_corpus_folder_itself_may_be_a_link(tmp_path, fake_encoder):
    root = one_article_corpus(tmp_path)
    (tmp_path / "current").symlink_to(root)
    report = build_index(tmp_path / "current", tmp_path / "data", fake_encoder)
    assert report.added == ["palsy.txt"] and report.problems == []
    assert report.corpus == str(root.resolve())


def test_a_file_swapped_for_a_link_after_the_walk_is_not_read(tmp_path):
    from corpus.load import find_article_files, read_document

    root = one_article_corpus(tmp_path)
    (tmp_path / "planted.txt").write_text(PLANTED, "utf-8")
    (root / "other.txt").write_bytes(MASSAGE)
    files, _ = find_article_files(root)
    file, other = sorted(files, key=lambda f: f.rel != "palsy.txt")
    real_root = root.resolve()
    (root / "palsy.txt").unlink()
    (root / "palsy.txt").symlink_to(tmp_path / "planted.txt")
    with pytest.raises(ValueError, match=OUTSIDE):
        read_document(file, real_root)
    (root / "other.txt").rename(tmp_path / "old-other.txt")  # kept: its inode cannot be reused
    (root / "other.txt").write_bytes(MASSAGE)  # another file with the same name, put there after the walk
    with pytest.raises(ValueError, match="changed while the corpus was being read"):
        read_document(other, real_root)


def test_utf8_with_a_few_stray_bytes_is_indexed_with_a_note(tmp_path, monkeypatch):
    root = one_article_corpus(tmp_path)
    lines = (PALSY + b"\n" + MASSAGE).split(b"\n")
    lines[2] += b"\xff"  # stray bytes between whole characters: 3 of some 6,000
    lines[-3] += b"\x80\x80"
    (root / "stray.txt").write_bytes(b"\n".join(lines))
    result = run_index(monkeypatch, "--corpus", str(root))
    assert result.exit_code == 0, result.output
    assert "  added stray.txt\n" in result.output and "skipped" not in result.output
    assert "  note stray.txt: read as UTF-8 without 3 stray bytes that are not UTF-8\n" in result.output
    assert "\ufffd" not in stored_text(tmp_path / "data")


def test_index_remembers_its_corpus_folder_and_says_when_another_replaces_it(tmp_path, monkeypatch):
    first = one_article_corpus(tmp_path)
    second = tmp_path / "other"
    second.mkdir()
    (second / "massage.txt").write_bytes(MASSAGE)
    figures = json.loads(run_index(monkeypatch, "--corpus", str(first), "--json").output)
    assert figures["corpus"] == str(first.resolve()) and figures["previous_corpus"] == ""
    assert figures["added_paths"] == ["palsy.txt"] and figures["removed_paths"] == figures["changed_paths"] == []
    assert IndexMeta.read(current_version(tmp_path / "data")).corpus == str(first.resolve())

    monkeypatch.setenv("ARTICLEBOT_CORPUS", str(second))  # `index` without --corpus: the configured folder
    result = run_index(monkeypatch)
    assert result.exit_code == 0, result.output
    assert f"  corpus: {second.resolve()}, not {first.resolve()} as the previous index (articles only there were removed)\n" in result.output
    assert "  removed palsy.txt\n" in result.output and "  added massage.txt\n" in result.output
    assert IndexMeta.read(current_version(tmp_path / "data")).corpus == str(second.resolve())
    assert "  corpus:" not in run_index(monkeypatch).output  # the same folder again: nothing to say


def test_a_plain_index_keeps_the_folder_the_index_was_built_from(tmp_path, monkeypatch):
    """After `index --corpus X`, `index` alone (no ARTICLEBOT_CORPUS) re-indexes X, as /reindex
    does, instead of replacing X's articles with the bundled ones; with X gone, the bundled corpus."""
    import shutil

    from corpus import DEFAULT_CORPUS

    clinic = one_article_corpus(tmp_path)
    monkeypatch.delenv("ARTICLEBOT_CORPUS", raising=False)
    assert run_index(monkeypatch, "--corpus", str(clinic)).exit_code == 0
    (clinic / "massage.txt").write_bytes(MASSAGE)
    result = run_index(monkeypatch)
    assert result.exit_code == 0, result.output
    assert "  added massage.txt\n" in result.output and "removed" not in result.output.replace("0 removed", "")
    assert "  corpus:" not in result.output
    assert IndexMeta.read(current_version(tmp_path / "data")).corpus == str(clinic.resolve())

    shutil.rmtree(clinic)
    result = run_index(monkeypatch)
    assert result.exit_code == 0, result.output
    assert f"  corpus: {DEFAULT_CORPUS.resolve()}, not {clinic.resolve()} as the previous index" in result.output


def test_an_index_from_before_the_corpus_was_remembered_still_loads(tmp_path, fake_encoder):
    build_index(one_article_corpus(tmp_path), tmp_path / "data", fake_encoder)
    meta_file = current_version(tmp_path / "data") / "meta.json"
    data = json.loads(meta_file.read_text("utf-8"))
    del data["corpus"]
    meta_file.write_text(json.dumps(data), "utf-8")
    assert IndexMeta.read(meta_file.parent).corpus == ""
    report = build_index(tmp_path / "corpus", tmp_path / "data", fake_encoder)
    assert report.previous_corpus == "" and report.unchanged == ["palsy.txt"]


def test_a_corpus_folder_whose_name_is_not_utf8_is_remembered_byte_for_byte(tmp_path, fake_encoder):
    root = Path(os.fsdecode(os.fsencode(tmp_path) + b"/corpus-\xff"))
    root.mkdir()
    (root / "palsy.txt").write_bytes(PALSY)
    build_index(root, tmp_path / "data", fake_encoder)
    assert IndexMeta.read(current_version(tmp_path / "data")).corpus == str(root)
    docs, problems = read_documents(Path(IndexMeta.read(current_version(tmp_path / "data")).corpus))
    assert [d.path for d in docs] == ["palsy.txt"] and problems == []


def test_utf16_from_notepad_is_read_and_documents_are_listed_as_skipped(tmp_path, monkeypatch):
    """Windows Notepad's "Unicode" is UTF-16 with a byte-order mark: read as text, not taken
    for a binary file. A .pdf or .docx in the folder is named with what to do, not passed over."""
    root = one_article_corpus(tmp_path)
    massage = MASSAGE.decode("utf-8")
    (root / "notepad.txt").write_bytes(b"\xff\xfe" + massage.encode("utf-16-le"))
    (root / "big-endian.txt").write_bytes(b"\xfe\xff" + "瘦脸针注射后二十四小时内避免按摩。".encode("utf-16-be"))
    (root / "broken.txt").write_bytes(b"\xff\xfe" + "瘦脸针".encode("utf-16-le") + b"\x00\xd8")  # a lone surrogate
    (root / "leaflet.pdf").write_bytes(b"%PDF-1.4\n")
    (root / "notes.docx").write_bytes(b"PK\x03\x04")
    (root / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    result = run_index(monkeypatch, "--corpus", str(root))
    assert result.exit_code == 0, result.output
    assert "  added notepad.txt\n" in result.output and "  added big-endian.txt\n" in result.output
    assert "facial nerve palsy" in stored_text(tmp_path / "data").lower()
    assert "  skipped broken.txt: UTF-16 with damaged bytes: save it as UTF-8\n" in result.output
    assert "  skipped leaflet.pdf: a .pdf document is not read: save it as .txt, .md or .html\n" in result.output
    assert "  skipped notes.docx: a .docx document is not read: save it as .txt, .md or .html\n" in result.output
    assert "photo.jpg" not in result.output


def test_a_folder_with_no_usable_article_says_why_each_file_was_skipped(tmp_path, monkeypatch):
    root = tmp_path / "documents"
    root.mkdir()
    (root / "leaflet.pdf").write_bytes(b"%PDF-1.4\n")
    (root / "empty.txt").write_bytes(b"")
    result = run_index(monkeypatch, "--corpus", str(root))
    assert result.exit_code == 1
    assert "empty.txt: " in result.output and "leaflet.pdf: a .pdf document is not read: save it as .txt, .md or .html" in result.output
