"""Loading article files: formats, recursion, metadata, encodings and bad files."""

from __future__ import annotations

from html import escape as html_escape
from pathlib import Path

import pytest

from corpus import DEFAULT_CORPUS, load_corpus, read_documents
from corpus.load import decode

BODY_ZH = (
    "面瘫患者通常可以通过简单的面部康复锻炼来促进恢复,必要时可以咨询专业医生进行个性化的康复方案。"
    "例如,轻柔的面部运动可以增强面部肌肉的张力,加快恢复速度。"
)

HTML = """<!doctype html>
<html><head>
<title>面瘫的康复锻炼 - 某某健康网</title>
<link rel="canonical" href="https://health.example.org/palsy/exercise.html">
<meta property="article:published_time" content="2024-03-05">
</head><body>
<nav><a href="/">首页</a> &gt; <a href="/palsy">面瘫</a></nav>
<div class="ad">咨询热线 400-123-4567</div>
<article>
<h1>面瘫的康复锻炼</h1>
<p>{body}</p>
<h2>锻炼的注意事项</h2>
<p>锻炼时动作要轻柔,每次十到十五分钟,每天两到三次。如果锻炼后症状加重,应暂停并及时就医,由医生评估是否需要调整方案。</p>
</article>
<footer>版权所有 © 某某健康网 京ICP备00000000号</footer>
</body></html>
""".format(body=BODY_ZH)


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, "utf-8")
    return path


def test_bundled_corpus_loads_all_five():
    articles, problems = load_corpus(DEFAULT_CORPUS)
    assert problems == []
    assert sorted(a.path for a in articles) == [
        "botox-facial-palsy-recovery.txt",
        "botox-long-term-side-effects.txt",
        "botox-sunken-cheeks-sagging-skin.txt",
        "botox-uneven-face-after-injection.txt",
        "facial-palsy-massage-en.txt",
    ]


def test_txt_md_html_found_recursively(tmp_path):
    root = tmp_path / "corpus"
    write(root / "a.txt", "面瘫怎么办\n" + BODY_ZH)
    write(root / "sub" / "deeper" / "b.md", "# 面瘫按摩\n\n## 手法\n\n" + BODY_ZH + "\n\n- 每天锻炼 **两次**,每次十分钟\n- [更多](http://x.org)\n")
    write(root / "sub" / "c.html", HTML)
    write(root / "notes.pdf", b"%PDF-1.4 not an article")
    write(root / "photo.png", b"\x89PNG\r\n")
    write(root / ".hidden" / "d.txt", "hidden\n" + BODY_ZH)
    articles, problems = load_corpus(root)
    # a document is named with what to do; other files and hidden ones are passed over
    assert [(p.path, p.reason) for p in problems] == [("notes.pdf", "a .pdf document is not read: save it as .txt, .md or .html")]
    by_path = {a.path: a for a in articles}
    assert sorted(by_path) == ["a.txt", "sub/c.html", "sub/deeper/b.md"]

    md = by_path["sub/deeper/b.md"]
    assert md.title == "面瘫按摩"
    assert md.blocks[0].heading and md.blocks[0].text == "手法"
    assert "每天锻炼 两次,每次十分钟" in md.text and "[更多]" not in md.text and "**" not in md.text


@pytest.mark.parametrize(
    ("name", "raw", "kind"),
    [
        ("notes.txt", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n" * 20, "PDF document"),
        ("report.md", b"PK\x03\x04\x14\x00\x06\x00word/document.xml" * 20, "Word, OpenDocument or zip file"),
        ("old.txt", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x41" * 200, "Word or WPS document"),
        ("letter.txt", b"\xef\xbb\xbf{\\rtf1\\ansi\\deff0 {\\fonttbl {\\f0 Times;}} hello}", "RTF document"),
    ],
)
def test_a_document_renamed_as_text_is_skipped_with_its_kind(tmp_path, name, raw, kind):
    root = tmp_path / "corpus"
    write(root / "a.txt", "面瘫怎么办\n" + BODY_ZH)
    write(root / name, raw)
    articles, problems = load_corpus(root)
    assert [a.path for a in articles] == ["a.txt"]
    suffix = name.rsplit(".", 1)[1]
    assert [(p.path, p.reason) for p in problems] == [
        (name, f"a {kind}, though named .{suffix}: save its text as .txt, .md or .html")
    ]


def test_text_that_mentions_a_pdf_is_read(tmp_path):
    root = tmp_path / "corpus"
    write(root / "a.txt", "%PDF 文件怎么看\n" + BODY_ZH)
    articles, problems = load_corpus(root)
    assert problems == [] and [a.path for a in articles] == ["a.txt"]


def test_html_main_content_and_metadata(tmp_path):
    write(tmp_path / "page.html", HTML)
    (article,), problems = load_corpus(tmp_path)
    assert problems == []
    assert article.title.startswith("面瘫的康复锻炼")
    assert article.url == "https://health.example.org/palsy/exercise.html"
    assert article.date == "2024-03-05"
    assert "轻柔的面部运动" in article.text
    assert "锻炼的注意事项" in [b.text for b in article.blocks if b.heading]
    for noise in ("首页", "400-123-4567", "版权所有", "ICP"):
        assert noise not in article.text


def test_html_text_that_looks_like_markup_is_kept_as_written(tmp_path):
    """trafilatura's Markdown escapes every character of the page's text that Markdown would read
    as markup; those escapes are characters, not backslashes to quote ("1*2*3" became "1\\2\\3")."""
    body = "剂量一般为 25*2 单位，价格<100元 & 以上，参考 [1] 与 a_b_c，注意**不要**自行按摩。" * 2
    page = f"<html><body><article><h1>剂量 &lt;说明&gt;</h1><p>{html_escape(body)}</p><p><b>真的加粗</b>：{BODY_ZH}</p></article></body></html>"
    write(tmp_path / "page.html", page)
    write(tmp_path / "notes.md", "# 标题 \\# 一\n\n剂量 25\\*2 单位，*强调* 与 C:\\\\dir。" + BODY_ZH)
    articles, problems = load_corpus(tmp_path)
    assert problems == []
    html, md = sorted(articles, key=lambda a: a.path)[::-1]
    assert body in html.text and "\\" not in html.text and html.title == "剂量 <说明>"
    assert "真的加粗：" in html.text  # real markup is still dropped
    assert md.title == "标题 # 一"
    assert "剂量 25*2 单位，强调 与 C:\\dir。" in md.text


def test_gb18030_and_gbk_files_are_decoded(tmp_path):
    text = "瘦脸针的副作用\n" + BODY_ZH
    write(tmp_path / "gb.txt", text.encode("gb18030"))
    write(tmp_path / "gbk.txt", ("肉毒素注射须知\n" + BODY_ZH).encode("gbk"))
    articles, problems = load_corpus(tmp_path)
    assert problems == []
    titles = sorted(a.title for a in articles)
    assert titles == ["瘦脸针的副作用", "肉毒素注射须知"]
    assert all("康复锻炼" in a.text for a in articles)


def test_utf8_bom_is_dropped():
    assert decode("面瘫".encode("utf-8-sig")) == "面瘫"


def test_utf8_with_a_few_stray_bytes_is_kept_as_utf8(tmp_path):
    raw = ("面瘫怎么办\n" + BODY_ZH + "\n" + BODY_ZH).encode()
    raw = raw[:6] + b"\xff" + raw[6:61] + b"\xc3" + raw[61:]  # stray bytes between whole characters
    assert decode(raw) == ("面瘫怎么办\n" + BODY_ZH + "\n" + BODY_ZH)
    write(tmp_path / "stray.txt", raw)
    (doc,), problems = read_documents(tmp_path)
    assert problems == [] and doc.notes == ["read as UTF-8 without 2 stray bytes that are not UTF-8"]


def test_gbk_english_with_a_few_chinese_characters_is_not_taken_for_utf8(tmp_path):
    text = "Facial palsy (面瘫) after botox usually recovers within weeks. " * 8
    assert decode(text.encode("gbk")) == text  # its Chinese bytes are not stray UTF-8: GB18030 reads them
    assert decode(("面瘫怎么办\n" + BODY_ZH).encode("gbk")) == "面瘫怎么办\n" + BODY_ZH


def test_western_text_is_read_as_windows_1252_and_garbage_is_not_read_at_all(tmp_path):
    english = "A naïve question about déjà vu, the façade of health and Café au lait spots. " * 3
    assert decode(english.encode("cp1252")) == english  # not a Baltic or Cyrillic guess ("naļve", "déją")
    big5 = "打瘦臉針會導致面癱嗎？這是一篇關於肉毒素的文章。"
    assert decode(big5.encode("big5")) == big5  # a real guess of charset-normalizer is still taken
    write(tmp_path / "good.txt", "面瘫怎么办\n" + BODY_ZH)
    write(tmp_path / "latin1.txt", english.encode("latin-1"))
    # charset-normalizer reads this as UTF-16 (Hangul, Arabic forms, stray ideographs): not a plausible article
    write(tmp_path / "bom-garbage.md", b"\xff\xfe\xfa\xfb\xc0\xc1 invalid \x80\x81\x82\x83\x84\x85\x86\x87\x88")
    write(tmp_path / "no-guess.txt", bytes([0xE0 + i % 31 for i in range(60)]) + b" and \xc0\xc1\xc2\xc3")
    articles, problems = load_corpus(tmp_path)
    assert sorted(a.path for a in articles) == ["good.txt", "latin1.txt"]
    assert next(a for a in articles if a.path == "latin1.txt").text.startswith("A naïve question about déjà vu")
    assert {p.path: p.reason for p in problems} == {
        "bom-garbage.md": "cannot tell its text encoding",
        "no-guess.txt": "cannot tell its text encoding",
    }


def test_bad_files_are_reported_and_the_rest_still_loads(tmp_path):
    write(tmp_path / "good.txt", "面瘫怎么办\n" + BODY_ZH)
    write(tmp_path / "empty.txt", "")
    write(tmp_path / "blank.md", "   \n\n  ")
    write(tmp_path / "binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    write(tmp_path / "controls.txt", "\x01\x02\x03\n\x04")
    articles, problems = load_corpus(tmp_path)
    assert [a.path for a in articles] == ["good.txt"]
    reasons = {p.path: p.reason for p in problems}
    assert set(reasons) == {"empty.txt", "blank.md", "binary.txt", "controls.txt"}
    assert "binary" in reasons["binary.txt"]
    assert "empty" in reasons["empty.txt"]


def test_odd_unicode_is_normalised(tmp_path):
    write(tmp_path / "odd.txt", "面瘫\u200b怎么办\u202e\n\u3000" + BODY_ZH + "\x07")
    (article,), _ = load_corpus(tmp_path)
    assert article.title == "面瘫怎么办"
    assert "\x07" not in article.text and "\u3000" not in article.text
