"""``python -m bot.sandbox.langsmith --port N [--seed-demo]``: see :mod:`bot.sandbox.langsmith.cli`."""

from bot.sandbox.langsmith.cli import main

main()
