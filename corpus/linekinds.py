"""What a line of page furniture looks like (rule 4 of `corpus.clean`): navigation, contact
and ads, reprint and copyright notices, bylines and page metadata.

Each kind is a pattern of *shape* (a breadcrumb's separators, a phone number, a
short call to action, a doctor's name/title/hospital block), not the wording of
particular pages.
"""

from __future__ import annotations

import re

from common.text import normalize_space

_BREADCRUMB_PREFIX_RE = re.compile(r"^(您?当前(所在)?(位置)?|您的位置|所在位置|当前位置|位置|you are here)\s*[:：]?\s*", re.I)
_BREADCRUMB_SEP_RE = re.compile(r"\s*(?:>|»|›|＞|→|/|\|)\s*")
_MENU_WORDS_MAX = 4
_PHONE_RES = [
    re.compile(r"(?<!\d)(?:\+?86[\s-]?)?[48]00[\s-]?\d{3}[\s-]?\d{4}(?!\d)"),
    re.compile(r"(?<![\d-])1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}(?!\d)"),
    re.compile(r"(?<![\d-])0\d{2,3}[\s-]\d{7,8}(?!\d)"),
    re.compile(r"\+\d{1,3}[\s-]?\(?\d{1,4}\)?(?:[\s-]?\d{2,4}){2,4}(?!\d)"),
]
_PHONE_LABEL_RE = re.compile(r"(电话|热线|手机|座机|tel|phone|hotline|whatsapp|微信|qq)\s*[:：]", re.I)
_AD_RE = re.compile(
    r"咨询热线|在线留言|免费咨询|在线咨询|立即咨询|点击咨询|咨询顾问|医学顾问|在线客服|预约挂号|"
    r"免费预约|立即预约|扫码|扫一扫|加微信|关注公众号|优惠|特价|限时|团购|"
    r"call\s+(us|now)|contact\s+us|book\s+(now|an?\s+appointment)|subscribe|sign\s+up",
    re.I,
)
_AD_MAX_LEN = 40
REPRINT_RE = re.compile(
    r"转载|版权所有|版权归|版权声明|未经(许可|授权)|原文(链接|地址|出处)|本文来源|copyright|©|all\s+rights\s+reserved|"
    # the site's own disclaimer about its content ("本内容不能代替面诊", "仅供参考")
    r"(本内容|本文内容|以上内容|本站内容|文章内容|本文).{0,12}(仅供参考|不能代替|不可代替|不构成|不作为)|"
    r"(this|the)\s+(content|article|information)\s+(is\s+)?(not|for\s+information\s+only)",
    re.I,
)
META_RE = re.compile(
    r"^(作者|编辑|责任编辑|审核|审核专家|来源|出处|发布(时间|日期)|更新(时间|日期)|时间|日期|"
    r"浏览(次数|量)?|阅读(数|量)|点击(数|量)?|标签|关键词|tags?|author|posted|published|updated|date|source|url)\s*[:：]",
    re.I,
)
_BY_RE = re.compile(r"^(by|written\s+by|reviewed\s+by)\s+[A-Z][\w.'-]*(\s+[A-Z][\w.'-]*){0,3}\s*$")
_DOCTOR_TITLE_RE = re.compile(r"(主任医师|副主任医师|主治医师|住院医师|执业医师|医师|副教授|教授|院长|主任|MD|M\.D\.)")
_HOSPITAL_RE = re.compile(r"(医院|诊所|卫生院|医学院|医学科学院|卫生中心|医疗中心|clinic|hospital)$", re.I)
_QUESTION_WORDS_RE = re.compile(r"如何|怎么|怎样|哪|什么|选择|推荐|去|看|找|which|how|what|choos", re.I)
_GRADE_RE = re.compile(r"^(三甲|二甲|三级甲等|二级甲等|三级|二级|公立|民营)$")
_BYLINE_MAX_LEN = 40
_SENTENCE_PUNCT_RE = re.compile(r"[。！？!?；;,，]")
URL_RE = re.compile(r"https?://[^\s)）\]】>\"'，。]+")


def unbullet(text: str) -> str:
    """The line without leading bullets."""
    return re.sub(r"^[\s•·●◆■▪▶►\-*]+", "", text)


def line_kind(text: str, crumbs: set[str], site_names: set[str]) -> str | None:
    """The kind of page furniture a single line is, or None when it may be content."""
    short = len(text) <= _AD_MAX_LEN
    if _is_breadcrumb(text) or text in crumbs:
        return "navigation"
    if any(text.startswith(name) and len(text) <= 60 and text != name for name in site_names):
        return "navigation"
    if len(text) <= 200 and REPRINT_RE.search(text):
        return "notice (reprint, copyright, disclaimer)"
    if len(text) <= 80 and (META_RE.match(text) or _BY_RE.match(text)):
        return "byline/metadata"
    if _is_menu(text):
        return "navigation"
    has_phone = any(rx.search(text) for rx in _PHONE_RES)
    if (has_phone and len(text) <= 80) or (short and _PHONE_LABEL_RE.search(text)):
        return "contact/ad"
    if short and _AD_RE.search(text):
        return "contact/ad"
    if _is_byline(text):
        return "byline/metadata"
    return None


def breadcrumb_parts(lines: list[str]) -> tuple[set[str], set[str]]:
    """The parts of a page's breadcrumb lines (among its first 40), and their roots (the site's name)."""
    parts: set[str] = set()
    roots: set[str] = set()
    for text in lines[:40]:
        if _is_breadcrumb(text):
            body = _BREADCRUMB_PREFIX_RE.sub("", text)
            crumbs = [p.strip() for p in _BREADCRUMB_SEP_RE.split(body) if p.strip()]
            parts.update(crumbs)
            roots.update(crumbs[:1])
    return parts, {r for r in roots if len(r) >= 3}


def _is_breadcrumb(text: str) -> bool:
    if len(text) > 120:
        return False
    if _BREADCRUMB_PREFIX_RE.match(text) and len(text) <= 80 and not _SENTENCE_PUNCT_RE.search(text[:-1]):
        return True
    parts = [p for p in re.split(r"\s*(?:>|»|›|＞)\s*", text) if p.strip()]
    return len(re.findall(r">|»|›|＞", text)) >= 2 and all(len(p) <= 20 for p in parts)


def _is_menu(text: str) -> bool:
    words = text.split()
    return (
        len(words) >= 2
        and all(len(w) <= _MENU_WORDS_MAX for w in words)
        and not _SENTENCE_PUNCT_RE.search(text)
        and not re.search(r"\d", text)
        and not re.search(r"[A-Za-z]{3,}", text)
    )


def _is_byline(text: str) -> bool:
    if len(text) > _BYLINE_MAX_LEN or _SENTENCE_PUNCT_RE.search(text):
        return False
    if _GRADE_RE.match(text):
        return True
    if _HOSPITAL_RE.search(text) and " " not in text.strip() and not _QUESTION_WORDS_RE.search(text):
        return True
    # "Name Title Department": a doctor's title among a few short words.
    words = text.split()
    return bool(_DOCTOR_TITLE_RE.search(text)) and 2 <= len(words) <= 5


def scrub_phones(text: str) -> str:
    """Phone numbers cut out of a sentence."""
    for rx in _PHONE_RES:
        text = rx.sub("", text)
    return normalize_space(text)
