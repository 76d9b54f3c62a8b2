"""The conversation log: what was asked, what was answered, and the feedback, for every channel.

- `schema`: the tables (the one definition; `migrations/` is its history)
- `database`: URL, engine, migrations on open
- `records`: `ExchangeRecord`, `LoggedHit`, `ExchangeBrief`, `record_of`
- `pseudonyms`: salted user pseudonyms
- `writer`: `ConversationLog` (record, feedback, recall)
- `review`: the operators' queries (list, show, stats, export)
- `smalltalk`: which logged messages ask nothing (greetings, no words): never counted as refusals
- `retention`: ages (`90d`) and deleting what is older (`purge`)
- `export`: exchanges as CSV (`write_csv`), safe to open in a spreadsheet

It imports nothing from the channels (`bot/`), so any channel or a web page can use it.
"""

from convlog.database import HEAD, MIGRATIONS, LogError, log_url, migrate
from convlog.pseudonyms import check_salt, load_salt, pseudonym
from convlog.records import ExchangeBrief, ExchangeRecord, LoggedHit, record_of
from convlog.writer import ConversationLog

__all__ = [
    "HEAD",
    "MIGRATIONS",
    "ConversationLog",
    "ExchangeBrief",
    "ExchangeRecord",
    "LogError",
    "LoggedHit",
    "check_salt",
    "load_salt",
    "log_url",
    "migrate",
    "pseudonym",
    "record_of",
]
