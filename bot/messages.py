"""What the bot says besides answers, in Chinese (the default) and English."""

from __future__ import annotations

from corpus.text import detect_language

START = {
    "zh": "您好！我是健康科普问答机器人，会引用文章原文来回答您的问题，并注明出处。\n\n"
    "我目前收录的文章：\n{topics}\n\n"
    "请注意：我不是医生，不能诊断疾病或开药。直接发送您的问题即可，例如：{example}",
    "en": "Hello! I answer health questions by quoting articles, with their sources.\n\n"
    "The articles I have:\n{topics}\n\n"
    "Please note: I am not a doctor and cannot diagnose or prescribe. Just send your question, for example: {example}",
}
EXAMPLE = {"zh": "打瘦脸针后面瘫多久能恢复？", "en": "Can massage help facial palsy?"}

HELP = {
    "zh": "怎么提问：\n"
    "• 直接发送一个具体的问题，例如“长期打肉毒素有什么副作用？”\n"
    "• 我会从文章中找出最相关的段落并注明来源；点“更多”查看更多段落。\n"
    "• 用 👍 / 👎 告诉我回答是否有帮助。\n"
    "• 在群聊中，请 @我、回复我的消息，或使用 /ask 问题。\n"
    "• /about 查看文章库信息。",
    "en": "How to ask:\n"
    "• Send one specific question, e.g. “Can massage help facial palsy?”\n"
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
    "zh": "请在 /ask 后面写上您的问题，例如：/ask 打瘦脸针后面瘫多久能恢复？",
    "en": "Please write your question after /ask, for example: /ask can massage help facial palsy?",
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
REINDEX_DONE = {
    "zh": "索引已更新：{articles} 篇文章，{chunks} 个段落（新增 {added}、修改 {changed}、删除 {removed}、未变 {unchanged}；重新计算 {embedded} 个段落的向量，用时 {seconds} 秒）。",
    "en": "Index updated: {articles} articles, {chunks} passages ({added} added, {changed} changed, {removed} removed, {unchanged} unchanged; {embedded} passages embedded in {seconds} s).",
}
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


def user_language(text: str | None, language_code: str | None) -> str:
    """The reply language: the message's own script first, then Telegram's language setting."""
    if text and any(ch.isalpha() for ch in text):
        return detect_language(text)
    if language_code and language_code.lower().startswith("en"):
        return "en"
    return "zh"
