"""``coedit serve`` for load tests: the same flags, with the abuse limits (messages and ops per
second per connection or user, open documents per user) switched off, because one machine's
load generator is exactly the traffic they exist to stop. Everything else is the real server.

    taskset -c 0 .venv/bin/python -m benchmarks.hub_serve --port 8765 --data-dir /tmp/coedit-bench
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import replace

from server.auth.settings import AbuseLimits
from server.cli import build_parser, raise_fd_limit, settings_from_args, tune_gc
from server.observability.logs import configure_logging
from server.web.app import make_app
from server.web.listener import run_app

NO_LIMITS = AbuseLimits(
    messages_per_second=0, message_burst=1, ops_per_second=0, op_burst=1, max_user_open_docs=0
)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(["serve", *(sys.argv[1:] if argv is None else argv)])
    raise_fd_limit()
    configure_logging(args.log_level, args.log_format)
    settings = settings_from_args(args)
    settings = replace(settings, auth=replace(settings.auth, limits=NO_LIMITS))
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    print(f"coedit (no abuse limits) on http://{settings.host}:{settings.port}", flush=True)
    app = make_app(settings)
    tune_gc()
    run_app(app, host=settings.host, port=settings.port, shutdown_timeout=settings.shutdown_timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
