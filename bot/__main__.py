"""`python -m bot` is the same as the `articlebot` command."""

from bot.cli import main

if __name__ == "__main__":
    main()
