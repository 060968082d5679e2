"""The one error type of the dev-cluster layer: a cause and a fix, printable on one line.

Every way `tether dev` can fail (a busy port, no Go toolchain, a half-written data directory, a
failed build, a component that dies at start) ends up here, so the CLI can print one clear line.
"""

from __future__ import annotations


class DevClusterError(Exception):
    """A failure the user can act on: what went wrong and what to do about it."""

    def __init__(self, cause: str, fix: str) -> None:
        super().__init__(cause, fix)
        self.cause = cause
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.cause} (fix: {self.fix})"
