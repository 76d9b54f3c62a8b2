"""The operators' web console (`articlebot console`): overview charts, content gaps,
conversations and articles, over the conversation log and the live index.

- `app`: the Starlette application and its pages
- `auth`: token sign-in, sessions, CSRF, allowed hosts
- `charts`: the overview's charts as inline SVG
- `server`: serving it (`serve`, and `running` for tests and benchmarks)
"""
