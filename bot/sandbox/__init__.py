"""Local stand-ins for LangSmith and the Slack Web API.

They are product code: ``purgebot demo`` runs the whole lifecycle against them, and the tests
drive the real app against them over loopback HTTP. Each stand-in follows the behaviour the
references describe (status codes, body shapes, limits, weekend processing, rate limits) and can
inject faults.
"""
