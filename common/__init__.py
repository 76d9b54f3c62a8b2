"""Helpers every layer shares: text handling (`text`) and timestamps (`clock`); imports nothing of the project."""
