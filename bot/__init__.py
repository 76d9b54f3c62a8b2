"""The channels: the command line and terminal chat (`cli/`), Telegram (`telegram/`), and the
service they share (`service.py`).

Only this layer reads configuration (environment variables); the layers below
take explicit arguments.
"""
