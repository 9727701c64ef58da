"""The live progress line on stderr: elapsed time, connections, edits, acks and their rate,
received ops, errors. Rewritten in place on a terminal; one line every few seconds otherwise."""

from __future__ import annotations

import asyncio
import sys
import time
from typing import TextIO

from clients.loadtest.coordination import ProgressBoard

TERMINAL_SECONDS = 1.0
LOG_SECONDS = 5.0


async def show_progress(board: ProgressBoard, workload: str, stream: TextIO = sys.stderr) -> None:
    """Print the progress line until cancelled; then clear it (on a terminal)."""
    terminal = stream.isatty()
    period = TERMINAL_SECONDS if terminal else LOG_SECONDS
    started = last_time = time.perf_counter()
    last_acks = 0
    try:
        while True:
            await asyncio.sleep(period)
            now, totals = time.perf_counter(), board.totals()
            rate = (totals["acks"] - last_acks) / (now - last_time)
            last_time, last_acks = now, totals["acks"]
            line = (
                f"{workload} {now - started:6.1f}s  connections {totals['connected']:,}  "
                f"edits {totals['edits']:,}  acks {totals['acks']:,} ({rate:,.0f}/s)  "
                f"received {totals['received']:,}  errors {totals['errors']:,}"
            )
            stream.write(f"\r\033[K{line}" if terminal else f"{line}\n")
            stream.flush()
    finally:
        if terminal:
            stream.write("\r\033[K")
            stream.flush()
