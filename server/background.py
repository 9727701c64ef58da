"""Tasks started and not awaited: the event loop keeps only a weak reference to a task, so a
caller that does not await one must hold it until it is done."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def keep_running(coroutine: Coroutine[Any, Any, T], tasks: set[asyncio.Task[T]]) -> None:
    """Run ``coroutine`` as a task held in ``tasks`` until it is done."""
    task = asyncio.get_running_loop().create_task(coroutine)
    tasks.add(task)
    task.add_done_callback(tasks.discard)
