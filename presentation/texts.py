"""Every sentence the bot says, in Chinese (the default) and English: one place to reword or translate.

Answers are built from these by `presentation.reply`; the red-flag notices are
data of their own (`retrieval/redflags.toml`), editable by operators.

Someone who writes in traditional characters (Taiwan, Hong Kong) gets the bot's own
sentences of a reply in traditional characters too: the reply language TRADITIONAL,
the Chinese text converted by OpenCC's phrase converter (`say`). What is quoted from
the articles is never converted: a quote keeps the article's characters.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from common.text import detect_language, opencc_converter, writes_traditional
from retrieval import demands

TRADITIONAL = "zh-Hant"  # a reply language: the Chinese texts in traditional characters


def reply_language(lang: str, written: str) -> str:
    """The language of the bot's own sentences in a reply to `written` (the message as
    sent), whose search language is `lang`: TRADITIONAL for Chinese written in traditional
    characters, otherwise `lang`."""
    return TRADITIONAL if lang == "zh" and writes_traditional(written) else lang


@functools.lru_cache(maxsize=512)
def to_traditional(text: str) -> str:
    """One of the bot's own sentences in traditional characters (OpenCC "s2t", phrase by
    phrase; the same text without the package). Cached: the bot says few distinct things."""
    convert = opencc_converter("s2t")
    # 麪 is flour and noodles: OpenCC reads "这和面瘫" as 和麪 (kneading dough); the bot's own texts mean the face
    return convert(text).replace("麪", "面") if convert else text


def say(table: Mapping[str, str], lang: str) -> str:
    """A text of `table` ({"zh": ..., "en": ...}) in reply language `lang`: TRADITIONAL
    converts the Chinese one; a language the table lacks gets the Chinese one."""
    if lang == TRADITIONAL:
        return to_traditional(table.get("zh", ""))
    return table.get(lang, table.get("zh", ""))

# --- answers --------------------------------------------------------------------

DISCLAIMER = {
    "zh": "⚕️ 我只引用健康科普文章，内容仅供参考，不能代替医生的诊断和治疗。如有不适，请及时就医。",
    "en": "⚕️ I only quote health articles, for information; this is not medical advice. Please see a doctor about your own health.",
}

NOT_COVERED = {
    "zh": "抱歉，我的文章库里没有能回答这个问题的内容，我只能根据这些文章作答。关于您的情况，建议咨询医生。",
    "en": "Sorry, the articles I have do not cover this question, and I can only answer from them. Please ask a doctor about your situation.",
}

# refused as asking what no passage on the topic holds (retrieval/demands.py), by kind: the
# reason said, so that the user knows where to ask instead
NOT_COVERED_BECAUSE = {
    demands.PRICE: {
        "zh": "抱歉，我的文章库里没有价格方面的信息，我只能根据这些文章作答。具体费用请咨询正规医疗机构。",
        "en": "Sorry, the articles I have give no prices, and I can only answer from them. Please ask a licensed clinic about costs.",
    },
    demands.LOCAL: {
        "zh": "抱歉，我的文章库里没有各地医疗机构的信息，也无法知道您在哪里，我只能根据这些文章作答。请通过当地卫生健康部门等正规渠道查询有资质的医疗机构。",
        "en": "Sorry, the articles I have do not list clinics or doctors near you, and I can only answer from them. Please check your local health authority's register for licensed providers.",
    },
    demands.COMPARISON: {
        "zh": "抱歉，我的文章库里没有对这两者的比较，我只能根据这些文章作答。哪一种适合您，建议咨询医生。",
        "en": "Sorry, the articles I have do not compare these, and I can only answer from them. Please ask a doctor which one suits you.",
    },
}

EMPTY_QUESTION = {
    # no example question: it would be about the bundled articles, not a clinic's own, and
    # `articlebot logs -q` would find it in every reply to an empty message
    "zh": "请直接输入您想了解的健康问题，用一句话说清楚即可。",
    "en": "Please type your health question; one clear sentence is enough.",
}

# a message of pleasantries only, by kind (retrieval.followup.social_kind)
SOCIAL = {
    "greeting": {
        "zh": "您好！我会引用健康科普文章回答健康方面的问题，请直接发送您的问题。",
        "en": "Hello! I answer health questions by quoting health articles. Just send me your question.",
    },
    "thanks": {
        "zh": "不客气！还有其他健康方面的问题，随时发给我。",
        "en": "You're welcome! Send me another health question any time.",
    },
    "other": {  # "ok", "bye", "请问": not necessarily after an answer
        "zh": "好的！有健康方面的问题，随时发给我。",
        "en": "All right! Send me a health question any time.",
    },
}

TRUNCATED_NOTE = {  # pipeline.question_part: the sentences that ask first, then the first, then the last
    "zh": "（您的消息较长，我从中选了不超过 {n} 个字作答，以提问的句子为先。）",
    "en": "(Your message was long; I answered from at most {n} characters of it, its questions first.)",
}

INTRO = {
    "zh": "文章中是这样说的：",
    "en": "Here is what the articles say:",
}

# The intro when the articles quoted are written in another language than the question
# (an English question answered from Chinese articles): the quotes are never translated.
INTRO_OTHER_LANGUAGE = {
    "zh": "文章中是这样说的（原文是{language}，照原文引用）：",
    "en": "Here is what the articles say (they are written in {language}; quoted as written):",
}
INTRO_SOME_OTHER_LANGUAGE = {
    "zh": "文章中是这样说的（部分原文是{language}，照原文引用）：",
    "en": "Here is what the articles say (some are written in {language}; quoted as written):",
}
LANGUAGE_NAMES = {
    "zh": {"zh": "中文", "en": "Chinese"},
    "en": {"zh": "英文", "en": "English"},
}

# --- the terminal chat ----------------------------------------------------------

CHAT_GREETING = (
    "您好！我会引用健康科普文章来回答您的问题。输入问题后回车；输入 exit 或按 Ctrl-D 退出。\n"
    "Hello! Ask a health question and I will quote the articles. Type exit or press Ctrl-D to quit."
)

# --- Telegram -------------------------------------------------------------------

START = {
    "zh": "您好！我是健康科普问答机器人，会引用文章原文来回答您的问题，并注明出处。\n\n"
    "我目前收录的文章：\n{topics}\n\n"
    "请注意：我不是医生，不能诊断疾病或开药。直接发送您的问题即可。",
    "en": "Hello! I answer health questions by quoting articles, with their sources.\n\n"
    "The articles I have:\n{topics}\n\n"
    "Please note: I am not a doctor and cannot diagnose or prescribe. Just send your question.",
}

HELP = {
    "zh": "怎么提问：\n"
    "• 直接发送一个具体的问题，一句话说清楚即可。\n"
    "• 我会从文章中找出最相关的段落并注明来源；点“更多”查看更多段落。\n"
    "• 用 👍 / 👎 告诉我回答是否有帮助。\n"
    "• 在群聊中，请 @我、回复我的消息，或使用 /ask 问题。\n"
    "• /about 查看文章库信息。",
    "en": "How to ask:\n"
    "• Send one specific question, in a sentence.\n"
    "• I quote the most relevant passages with their sources; tap “More” for further passages.\n"
    "• Use 👍 / 👎 to tell me whether the answer helped.\n"
    "• In groups, mention me, reply to my message, or use /ask followed by your question.\n"
    "• /about shows what the article library holds.",
}

ABOUT = {
    "zh": "文章库：{articles} 篇文章，{chunks} 个段落。\n最近一次索引：{indexed} (UTC)\n检索模型：{model}",
    "en": "Library: {articles} articles, {chunks} passages.\nLast indexed: {indexed} (UTC)\nSearch model: {model}",
}

NON_TEXT = {
    "zh": "抱歉，我只能阅读文字消息。请用文字输入您的问题。",
    "en": "Sorry, I can only read text messages. Please type your question.",
}

ASK_USAGE = {
    "zh": "请在 /ask 后面写上您的问题，在同一条消息里：/ask 加上您的问题。",
    "en": "Please write your question after /ask, in the same message: /ask followed by your question.",
}

RATE_LIMITED = {
    "zh": "您提问有点快，请稍等 {seconds} 秒再问。",
    "en": "You are asking a little fast; please wait {seconds} seconds and try again.",
}

ERROR = {
    "zh": "抱歉，处理您的消息时出了点问题，请稍后再试。",
    "en": "Sorry, something went wrong while handling your message. Please try again later.",
}

NO_MORE = {
    "zh": "没有更多相关的段落了。",
    "en": "There are no more relevant passages.",
}

EXPIRED = {
    "zh": "这条回答已过期，请重新提问。",
    "en": "This answer has expired; please ask again.",
}

REINDEX_DENIED = {
    "zh": "抱歉，只有管理员可以重建索引。",
    "en": "Sorry, only the operators can re-index the articles.",
}
REINDEX_STARTED = {
    "zh": "正在重建索引，完成后会通知您……",
    "en": "Re-indexing; I will tell you when it is done…",
}
REINDEX_PRIVATE_ONLY = {
    "zh": "为了安全，管理命令只能在与我的私聊中使用，请私聊我发送 /reindex。",
    "en": "For safety, operator commands work only in a private chat with me; please send /reindex there.",
}
REINDEX_DONE = {
    "zh": "索引已更新：{articles} 篇文章，{chunks} 个段落（新增 {added}、修改 {changed}、删除 {removed}、未变 {unchanged}，跳过 {skipped} 个文件；重新计算 {embedded} 个段落的向量，用时 {seconds} 秒）。",
    "en": "Index updated: {articles} articles, {chunks} passages ({added} added, {changed} changed, {removed} removed, {unchanged} unchanged, {skipped} files skipped; {embedded} passages embedded in {seconds} s).",
}
REINDEX_CORPUS = {"zh": "文章文件夹：{corpus}", "en": "Article folder: {corpus}"}
# the articles of each kind, one per line, at most REINDEX_LISTED of them, then REINDEX_MORE
REINDEX_PATHS = {
    "added": {"zh": "新增的文章：", "en": "Added:"},
    "changed": {"zh": "修改的文章：", "en": "Changed:"},
    "removed": {"zh": "删除的文章：", "en": "Removed:"},
}
REINDEX_MORE = {"zh": "……另有 {n} 篇", "en": "… and {n} more"}
REINDEX_LISTED = 10
REINDEX_FAILED = {
    "zh": "重建索引失败，旧索引仍在使用：{reason}",
    "en": "Re-indexing failed; the previous index is still in use: {reason}",
}

FEEDBACK_THANKS = {"zh": "谢谢您的反馈！", "en": "Thanks for the feedback!"}
MORE_BUTTON = {"zh": "更多 ▾", "en": "More ▾"}

COMMANDS = {
    "zh": [("start", "开始"), ("help", "怎么提问"), ("about", "文章库信息"), ("ask", "提问（群聊中使用）")],
    "en": [("start", "Start"), ("help", "How to ask"), ("about", "About the library"), ("ask", "Ask a question (in groups)")],
}


def disclaimer(lang: str) -> str:
    """The see-a-doctor disclaimer in reply language `lang` (Chinese for any other language)."""
    return say(DISCLAIMER, lang)


def user_language(text: str | None, language_code: str | None) -> str:
    """The reply language: the message's own script first, then Telegram's language setting."""
    if text and any(ch.isalpha() for ch in text):
        return detect_language(text)
    if language_code and language_code.lower().startswith("en"):
        return "en"
    return "zh"
