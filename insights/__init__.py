"""What the conversation log says about the articles, shared by the command line
(`articlebot logs gaps / handle / reask / articles`) and the operators' web console.

- `gaps`: unanswered questions grouped by meaning (`GapGrouper.report`), marking a
  gap handled (`mark_handled`, `mark_group`; table `gap_marks`)
- `reask`: questions asked again against the current index (`reask`)
- `articles`: every indexed article with how often it was quoted and its 👍 / 👎
  (`article_report`)

It reads the log through `convlog` and answers through `retrieval`; it reads no
configuration except in `open_grouper(config)`, which builds a `GapGrouper` from it.
"""

from insights.articles import ArticleReport, ArticleRow, article_report
from insights.gaps import (
    GapGroup,
    GapGrouper,
    GapReport,
    mark_group,
    mark_handled,
    open_grouper,
    unmark_handled,
)
from insights.reask import ReaskResult, questions_of, reask

__all__ = [
    "ArticleReport",
    "ArticleRow",
    "GapGroup",
    "GapGrouper",
    "GapReport",
    "ReaskResult",
    "article_report",
    "mark_group",
    "mark_handled",
    "open_grouper",
    "questions_of",
    "reask",
    "unmark_handled",
]
