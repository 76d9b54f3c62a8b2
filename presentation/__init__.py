"""How replies read: every user-facing text, one decision tree, and its two renderings.

- `texts`: every sentence, in Chinese and English, and the reply language
- `reply`: the blocks an answer is made of (the one decision tree)
- `plain`: plain text (terminal, `ask`, the log)
- `telegram_html`: Telegram HTML, split under the message limit

Every rendering ends with the see-a-doctor disclaimer.
"""
