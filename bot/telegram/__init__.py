"""The Telegram channel (python-telegram-bot): the application and its handlers, one module per kind.

- `app`: build the Application, register every handler, run (polling or webhook)
- `context`: what the handlers share (`Services`)
- `commands`: /start /help /about /ask and unknown commands
- `admin`: /reindex for operators
- `questions`: text and non-text messages, answering
- `buttons`: 👍 / 👎 and "more"
- `errors`: the error handler
- `sending`: sending HTML with retries, "typing…"
- `keyboards`: the inline keyboards and their one callback-data codec
- `recent`: the memory behind the "more" button
- `addressing`: group rules (is the bot addressed?) and the reply language
- `ratelimit`: questions per user per minute
- `fake_botapi`: a fake Bot API server on 127.0.0.1 for tests and the benchmark
"""
