"""The cleaner keeps each bundled article's substance and drops every kind of page noise,
and its rules work on pages it was not written for."""

from __future__ import annotations

import pytest

from common.text import fold
from corpus import DEFAULT_CORPUS, load_corpus
from corpus.article import Block, Document
from corpus.clean import clean_document, clean_documents, repeated_lines


@pytest.fixture(scope="module")
def bundled():
    articles, problems = load_corpus(DEFAULT_CORPUS)
    assert problems == []
    return {a.path: a for a in articles}


def whole(article) -> str:
    return article.title + "\n" + article.text


# file -> (title, phrases of the article's own substance, {noise kind: phrases that must be gone})
BUNDLED = {
    "botox-facial-palsy-recovery.txt": (
        "打瘦脸针面瘫会恢复吗?",
        [
            "近年来,打瘦脸针成为了很多人追求小脸效果的热门选择",
            "大约70%~85%的人在3个月内完全恢复",
            "面瘫是指面部肌肉由于神经损伤",
            "打瘦脸针安全吗?会有后遗症吗?",
            "在注射后至少24小时内避免化妆和护肤",
            "温馨提示:打瘦脸针是一项涉及面部神经的微创手术",
        ],
        {
            "navigation": ["您当前所在", "胶质瘤治疗网", "胶质瘤症状"],
            "phone/ads": ["400 029 0925", "咨询热线", "在线留言", "免费咨询", "INC国际神经外科医生集团"],
            "comments": ["患者热议", "JzlTuz", "谢谢亲,一切顺其自然吧", "2023-08-01 12:59:29", "我堂哥就是这样人财两空"],
            "related": ["还看了", "中医连建伟治疗幻听医案", "开艘航母去抗日", "嗅觉神经引起的幻嗅", "上一篇", "下一篇", "打瘦脸针面瘫吃什么药"],
            "reprint": ["禁止转载", "如需转载"],
            "byline": ["更新时间"],
        },
    ),
    "botox-sunken-cheeks-sagging-skin.txt": (
        "瘦脸针导致脸颊凹陷皮肤松弛能否恢复",
        [
            "一般情况下,瘦脸针导致的脸颊凹陷、皮肤松弛大多可以恢复",
            "药物效果通常维持3 - 6个月",
            "玻尿酸填充,能增加脸颊饱满度",
            "多数人随时间推移能自行好转",
        ],
        {
            "byline": ["王克明", "副主任医师", "中国医学科学院整形外科医院", "三甲"],
            "site notice": ["本内容不能代替面诊"],
            "related": ["相关推荐", "手指关节皮肤发黑增厚", "上环一般能管几年", "紧急避孕药", "冻胚4细胞移植", "科普文章 2025-03-12"],
        },
    ),
    "botox-uneven-face-after-injection.txt": (
        "打瘦脸针后出现一边脸大一边脸小的现象,是什么原因导致的",
        [
            "1. 注射不均匀:如果瘦脸针",
            "6. 注射技术问题:如果注射医生的技术不够熟练",
            "3、打完瘦脸针会出现一边脸大一边小的情况吗",
            "3. 肉毒素扩散:肉毒素可能会在注射后扩散到周围组织",
            "7. 心理调适:保持积极的心态",
        ],
        {
            "byline": ["作者", "王乐只", "发布时间"],
        },
    ),
    "botox-long-term-side-effects.txt": (
        "长期注射肉毒素会产生什么副作用",
        [
            "长期打肉毒素到底有啥副作用",
            "长期打肉毒素可能出现的副作用包括肌肉萎缩、抗体产生、过敏反应、局部僵硬及影响神经功能",
            "导致神经传导功能异常,出现局部麻木、感觉减退等症状",
        ],
        {
            "byline": ["王克明", "副主任医师", "三甲"],
            "site notice": ["本内容不能代替面诊"],
            "related": ["大家都在搜", "相关推荐", "排卵期为何会头痛", "益母草颗粒", "乳房缩小", "名医问答 2025-03-20"],
            "navigation": ["首页 顶部"],
        },
    ),
    "facial-palsy-massage-en.txt": (
        "Facial nerve palsy massage treatment",
        [
            "Facial nerve palsy is mainly caused by wind and cold",
            "massage treatment is only for facial nerve palsy relatively mild degree",
            "massage therapy for facial nerve palsy treatment will have a certain effect",
        ],
        {},
    ),
}


@pytest.mark.parametrize("path", sorted(BUNDLED))
def test_bundled_article_keeps_substance_and_loses_noise(bundled, path):
    title, substance, noise = BUNDLED[path]
    article = bundled[path]
    assert article.title == title
    text = whole(article)
    for phrase in substance:
        assert phrase in text, f"lost article text: {phrase}"
    for kind, phrases in noise.items():
        for phrase in phrases:
            assert phrase not in text, f"{kind} left in: {phrase}"


def test_bundled_metadata(bundled):
    palsy = bundled["botox-facial-palsy-recovery.txt"]
    assert palsy.url == "https://www.jiaozhiliu.org.cn/show-181930.html"
    assert palsy.date == "2025-08-15"
    assert bundled["botox-uneven-face-after-injection.txt"].date == "2024-06-20"
    # Dates of teaser items about other articles are not this article's date.
    assert bundled["botox-sunken-cheeks-sagging-skin.txt"].date is None
    assert bundled["facial-palsy-massage-en.txt"].lang == "en"
    assert bundled["botox-long-term-side-effects.txt"].lang == "zh"


def test_repeated_answer_is_kept_once(bundled):
    """The uneven-face page gives the same answer four times; each point stays once."""
    text = bundled["botox-uneven-face-after-injection.txt"].text
    assert text.count("个体差异:每个人的面部") == 1
    assert text.count("2、打瘦脸针后出现一边脸大一边脸小的现象") == 0
    # ...while the points only the later answers make are kept.
    assert "6. 注射技术问题" in text
    assert "7. 心理调适" in text


def test_removed_lines_are_reported_with_reasons(bundled):
    reasons = {r.reason for r in bundled["botox-facial-palsy-recovery.txt"].removed}
    assert {"navigation", "contact/ad", "notice (reprint, copyright, disclaimer)", "comments/teasers (dated blocks)"} <= reasons
    assert any(r.startswith("related/comments section") for r in reasons)


def test_headings_are_recognised_in_plain_text(bundled):
    headings = [b.text for b in bundled["botox-facial-palsy-recovery.txt"].blocks if b.heading]
    assert "面瘫恢复的时间" in headings
    assert "打完瘦脸针后多久可以化妆?" in headings
    assert not any(len(h) > 40 for h in headings)


# --- the rules generalise: pages written for these tests, not taken from the corpus ---


def doc(path: str, *lines: str) -> Document:
    return Document(path, [Block(line) for line in lines], source_hash=path)


BODY = (
    "高血压患者需要长期规律服药,不能自行停药。血压控制的目标一般是低于140/90毫米汞柱,"
    "合并糖尿病或肾病的患者目标更低。生活方式干预包括限盐、减重、规律运动和戒烟限酒,"
    "这些措施对所有患者都有益处,应当与药物治疗同时进行。"
)


@pytest.mark.parametrize("line", ["来源：https://example.org/a/1.html", "原文链接: https://example.org/a/1.html",
                                  "Source: https://example.org/a/1.html", "URL: https://example.org/a/1.html"])
def test_a_source_line_gives_the_articles_link_and_leaves_its_text(line):
    article = clean_document(doc("a.txt", "高血压要吃一辈子药吗", line, BODY))
    assert article.url == "https://example.org/a/1.html"
    assert "example.org" not in article.text and "规律运动和戒烟限酒" in article.text


def test_comment_blocks_without_a_marker_are_removed():
    article = clean_document(
        doc(
            "a.txt",
            "高血压要吃一辈子药吗",
            BODY,
            "小明同学",
            "我爸也是这样,吃了十年了",
            "2023-01-02 10:11:12",
            "阿花",
            "谢谢医生",
            "2023-02-03 08:09:10",
        )
    )
    assert "小明同学" not in article.text and "谢谢医生" not in article.text
    assert "规律运动和戒烟限酒" in article.text


def test_lines_repeated_across_a_sites_pages_are_removed():
    footer = "本站内容仅供参考,版面编辑:健康频道"
    pages = [
        doc(f"p{i}.txt", f"第{i}篇文章的标题", BODY + f"第{i}段。", "健康频道 · 值得信赖的医学科普", footer, "扫码关注我们")
        for i in range(3)
    ]
    articles = clean_documents(pages)
    for article in articles:
        assert "值得信赖的医学科普" not in article.text
        assert "版面编辑" not in article.text
        assert "扫码关注" not in article.text
        assert "规律运动" in article.text


def test_phone_numbers_are_cut_from_sentences_and_contact_lines_dropped():
    article = clean_document(
        doc(
            "b.txt",
            "标题",
            "预约电话:010-12345678",
            BODY + "如有疑问可拨打13912345678联系门诊。",
            "English text with a number +1 415 555 0100 in it and enough words to be a paragraph of its own.",
        )
    )
    assert "010-12345678" not in article.text
    assert "13912345678" not in article.text
    assert "415 555 0100" not in article.text
    assert "联系门诊" in article.text


def test_a_one_word_sentence_inside_an_english_paragraph_is_cut_and_reported(bundled):
    """"...through massage therapy. Effect. The massage treatment...": a stray word run into the
    paragraph by the scrape; abbreviations and a paragraph's last word are left alone."""
    article = clean_document(
        doc(
            "e.txt",
            "Bruising after botox",
            "Bruising is common after an injection. Effect. Cold packs help in the first day, as Dr. Lee says. "
            "It fades in the U.S. States and elsewhere within two weeks. See a doctor if it grows. Yes.",
        )
    )
    assert "Effect." not in article.text and "injection. Cold packs help" in article.text.replace("  ", " ")
    assert "Dr. Lee" in article.text and "the U.S. States" in article.text and article.text.endswith("grows. Yes.")
    assert [(r.reason, r.text) for r in article.removed if "stray" in r.reason] == [("stray word inside a paragraph", "Effect.")]
    massage = whole(bundled["facial-palsy-massage-en.txt"])
    assert "Effect." not in massage and "through massage therapy." in massage


def test_breadcrumb_and_related_sections_in_english():
    article = clean_document(
        doc(
            "c.md",
            "Home > Health > Skin",
            "Botox and bruising",
            "Bruising after an injection is common and usually fades within a week or two. "
            "Cold packs in the first day can help, and so can avoiding blood-thinning painkillers. "
            "See a doctor if the bruise grows, hurts more, or comes with fever.",
            "Related articles",
            "Ten foods for glowing skin",
            "Why you should sleep more",
        )
    )
    assert article.title == "Botox and bruising"
    assert "Home > Health" not in article.text
    assert "glowing skin" not in article.text and "Related articles" not in article.text
    assert "Cold packs in the first day can help" in article.text


def test_a_marker_at_the_top_of_a_page_does_not_swallow_the_article():
    article = clean_document(doc("d.txt", "相关推荐", "标题在这里", BODY))
    assert "规律运动" in article.text


def test_title_repeated_in_brackets_is_shortened():
    article = clean_document(doc("e.txt", "面瘫怎么办(面瘫怎么办)", BODY))
    assert article.title == "面瘫怎么办"


def test_a_text_without_a_title_line_keeps_its_first_paragraph():
    article = clean_document(doc("f.txt", BODY))
    assert article.title == ""
    assert "规律运动" in article.text


def test_a_single_short_line_is_body_not_title():
    article = clean_document(doc("g.txt", "建议多休息,多喝水,必要时就医"))
    assert article.title == ""
    assert article.text == "建议多休息,多喝水,必要时就医"


def test_a_copy_of_an_article_is_no_reason_to_call_its_lines_boilerplate():
    """A copy (the same file twice, or re-saved with a line changed) repeats every line of the
    article: none of them is the site's boilerplate, which pages that differ share."""
    footer = "本站内容仅供参考,版面编辑:健康频道"
    lines = ["瘦脸针的效果能维持多久", "短句一：注射后四到六个月。", "短句二：因人而异。", "短句三：代谢快的人短一些。", footer]
    original = doc("a.txt", *lines, BODY)
    for copies in ([doc("a-copy.txt", *lines, BODY)],
                   [doc("a-copy.txt", *lines, BODY), doc("a (2).txt", *lines, BODY)],
                   [doc("a-old.txt", *lines[:-2], "短句三：代谢快的人会短一些。", footer, BODY)]):  # fmt: skip
        other = doc("b.txt", "另一篇文章的标题", BODY + "另一段。", "第二段内容不同。", "第三段也不同。", footer)
        repeated = repeated_lines([original, *copies, other])
        assert fold(footer) in repeated  # the site's line, on pages that differ
        assert not {fold(line) for line in lines[:-1]} & repeated
        article = clean_documents([original, *copies, other])[0]
        assert article.title == "瘦脸针的效果能维持多久" and "注射后四到六个月" in article.text and "版面编辑" not in article.text


def test_two_pages_of_one_site_share_their_menus_not_their_text():
    """Two pages whose short lines are only their menus and titles, their paragraphs long and
    different: the menus are boilerplate, however few pages there are (no copies)."""
    menu = ["首页", "健康百科", "疾病查询", "本站内容仅供参考,版面编辑:健康频道"]
    long_a, long_b = BODY * 2, (BODY + "另一篇的内容。") * 2
    pages = [doc("a.txt", "第一篇的标题", *menu, long_a, long_a + "。"), doc("b.txt", "第二篇的标题", *menu, long_b, long_b + "。")]
    repeated = repeated_lines(pages)
    assert {fold(line) for line in menu} <= repeated and fold("第一篇的标题") not in repeated
