"""``python -m bot.sandbox.langsmith --port N [--seed-demo] [--backend MODE]``: see :mod:`.cli`."""

from bot.sandbox.langsmith.cli import main

main()
