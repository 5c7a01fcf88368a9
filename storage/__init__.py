"""SQLite storage through sqlite-utils: schema, migrations, and one small module per table.

Knows nothing of Slack or LangSmith. Every function takes the ``Database`` it works on, so callers
compose several writes into one transaction with ``Store.write()``.
"""
