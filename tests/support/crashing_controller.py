"""`tether controller`, SIGKILLed right after its N-th operation-state write.

Crash safety is tested at real step boundaries of a real process. The production command has no
such hook: this module composes the same controller with one (`after_persist`) and then runs the
ordinary CLI. Usage: `python -m tests.support.crashing_controller N controller ARGS...`.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from tether.cli import controller as command
from tether.cli.main import main
from tether.controller.manager import Controller
from tether.engine.operation import OperationState


def crashing(limit: int) -> type[Controller]:
    class Crashing(Controller):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            writes = 0

            def after_persist(_state: OperationState) -> None:
                nonlocal writes
                writes += 1
                if writes >= limit:
                    os.kill(os.getpid(), signal.SIGKILL)

            super().__init__(*args, after_persist=after_persist, **kwargs)

    return Crashing


if __name__ == "__main__":
    command.Controller = crashing(int(sys.argv.pop(1)))  # type: ignore[misc]
    main()
