"""The command line (`articlebot`, also `python -m bot`): one module per command group.

- `main`: the `articlebot` group; reads `.env` and sets the offline environment
- `common`: the one configuration loader, user errors as one sentence, progress
- `index`: `index`
- `answer`: `ask`, `chat`, `run`
- `chat`: the terminal chat loop
- `measure`: `eval`, `calibrate`
- `logs`: the `logs` group (review the conversation log)
- `console`: `console` (the operators' web console)
"""

from bot.cli.main import main

__all__ = ["main"]
