"""How an error nobody anticipated is shown: one line, its type and first line, no traceback.

A traceback shown to a user (or written into an Application's status) is a bug's second
symptom; this one line is what the CLI, the API's logs and the status conditions carry instead.
"""

from __future__ import annotations


def internal_error(exc: BaseException) -> str:
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    return f"internal error: {type(exc).__name__}" + (f": {first}" if first else "")
