"""Use cases shared by the CLI, the API and the UI: create, diff, sync, wait, roll back, delete.

Each use case takes plain arguments and returns plain results; presentation (tables, colours,
JSON problem documents) belongs to the entry points.
"""
