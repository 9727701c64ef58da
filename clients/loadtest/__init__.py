"""The load tester (``coedit loadtest``): simulated editors speaking protocol v1 through the real
client state machine, many per process and over several processes, with workloads that report
throughput, latency percentiles, errors and convergence. Depends on ``ot`` and aiohttp, never on
``server``.
"""

from clients.loadtest.options import WORKLOADS, LoadOptions
from clients.loadtest.report import Report
from clients.loadtest.runner import run_loadtest
from clients.loadtest.target import Target, TargetRefused, parse_target

__all__ = [
    "WORKLOADS",
    "LoadOptions",
    "Report",
    "Target",
    "TargetRefused",
    "parse_target",
    "run_loadtest",
]
