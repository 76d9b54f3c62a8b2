"""Entry points: the command line, the terminal chat and (later) the Telegram bot.

Only this layer reads configuration (environment variables); the layers below
take explicit arguments.
"""
