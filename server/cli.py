"""The ``coedit`` command: ``coedit serve`` runs the server; other subcommands join it as they
are built. Every flag has a ``COEDIT_*`` environment variable."""

from __future__ import annotations

import argparse
import contextlib
import gc
import resource
import ssl
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from server.auth.cli import (
    add_auth_arguments,
    add_token_command,
    auth_settings_from_args,
    check_serving_address,
)
from server.config import HubSettings, Limits, Settings, env
from server.entities.config import EntitiesConfig, load_config

DESCRIPTION = """\
coedit: a real-time collaboration server for text documents and synced records.

Clients connect over WebSocket (ws://HOST:PORT/v1/ws, protocol in docs/protocol.md) or REST
(/v1/docs/...). With no options the server listens on 127.0.0.1:8765 and keeps its data in an
SQLite file under ./data, created on first start.
"""


def _add_serve(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser(
        "serve",
        help="run the server",
        description="Run the coedit server until SIGINT or SIGTERM, then shut down gracefully: "
        "stop accepting, finish commits, close sockets with 'going away' (1001).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    limits, hub, defaults = Limits(), HubSettings(), Settings()
    add = serve.add_argument
    add("--host", default=env("HOST", "127.0.0.1"), help="address to listen on (COEDIT_HOST)")
    add("--port", type=int, default=int(env("PORT", "8765")), help="port (COEDIT_PORT)")
    add(
        "--tls-cert",
        type=Path,
        default=_optional_path(env("TLS_CERT", "")),
        help="PEM certificate chain (the server's first): serve https and wss, with "
        "--tls-key (COEDIT_TLS_CERT)",
    )
    add(
        "--tls-key",
        type=Path,
        default=_optional_path(env("TLS_KEY", "")),
        help="PEM private key of --tls-cert (COEDIT_TLS_KEY)",
    )
    add(
        "--data-dir",
        type=Path,
        default=Path(env("DATA_DIR", "data")),
        help="directory of the embedded SQLite store (COEDIT_DATA_DIR)",
    )
    add(
        "--database-url",
        default=env("DATABASE_URL", "") or None,
        help="postgresql://user@host/db to keep the op log in PostgreSQL (COEDIT_DATABASE_URL)",
    )
    add(
        "--redis-url",
        default=env("REDIS_URL", "") or None,
        help="redis://host:6379/0 to fan commits out to the other server processes that share "
        "the PostgreSQL database (COEDIT_REDIS_URL)",
    )
    add(
        "--sqlite-synchronous",
        choices=["FULL", "NORMAL"],
        default=env("SQLITE_SYNCHRONOUS", "FULL"),
        help="FULL survives power loss; NORMAL only a process crash (COEDIT_SQLITE_SYNCHRONOUS)",
    )
    add(
        "--max-frame-bytes",
        type=int,
        default=int(env("MAX_FRAME_BYTES", str(limits.max_frame_bytes))),
        help="largest WebSocket frame or REST body (COEDIT_MAX_FRAME_BYTES)",
    )
    add(
        "--max-op-chars",
        type=int,
        default=int(env("MAX_OP_CHARS", str(limits.max_op_chars))),
        help="most characters one op may insert (COEDIT_MAX_OP_CHARS)",
    )
    add(
        "--max-doc-chars",
        type=int,
        default=int(env("MAX_DOC_CHARS", str(limits.max_doc_chars))),
        help="longest document (COEDIT_MAX_DOC_CHARS)",
    )
    add(
        "--max-open-docs",
        type=int,
        default=int(env("MAX_OPEN_DOCS", str(limits.max_open_docs))),
        help="documents one connection may have open (COEDIT_MAX_OPEN_DOCS)",
    )
    add(
        "--max-send-buffer",
        type=int,
        default=int(env("MAX_SEND_BUFFER", str(limits.max_send_buffer))),
        help="unsent bytes after which a connection that does not read is closed with 4008 "
        "(COEDIT_MAX_SEND_BUFFER)",
    )
    add(
        "--request-head-timeout",
        type=float,
        default=float(env("REQUEST_HEAD_TIMEOUT", str(defaults.request_head_timeout))),
        help="seconds a new connection has to send its first request head before it gets "
        "408 Request Timeout and is closed; 0 waits forever (COEDIT_REQUEST_HEAD_TIMEOUT)",
    )
    add(
        "--broadcast-interval-ms",
        type=float,
        default=float(env("BROADCAST_INTERVAL_MS", str(defaults.broadcast_interval * 1000))),
        help="a connection that got a frame less than this long ago waits up to this long for "
        "its next ops and cursors, so that they share one frame; 0: a frame per commit "
        "(COEDIT_BROADCAST_INTERVAL_MS)",
    )
    add(
        "--history",
        type=int,
        default=int(env("HISTORY", str(hub.history_limit))),
        help="committed ops kept in memory per open document (COEDIT_HISTORY)",
    )
    add(
        "--snapshot-every",
        type=int,
        default=int(env("SNAPSHOT_EVERY", str(hub.snapshot_every))),
        help="store a snapshot after this many ops (COEDIT_SNAPSHOT_EVERY)",
    )
    add(
        "--keep-ops",
        type=_non_negative,
        default=env("KEEP_OPS", str(hub.keep_ops)),  # a string: argparse applies ``type``
        help="with each snapshot, drop a document's ops older than its newest this many (never "
        "ops the snapshot does not cover); clients further behind reload the document. "
        "0 keeps every op (COEDIT_KEEP_OPS)",
    )
    add(
        "--idle-seconds",
        type=float,
        default=float(env("IDLE_SECONDS", str(hub.idle_seconds))),
        help="evict a document from memory this long after its last client left "
        "(COEDIT_IDLE_SECONDS)",
    )
    add(
        "--log-level",
        default=env("LOG_LEVEL", "INFO"),
        help="DEBUG, INFO, WARNING (COEDIT_LOG_LEVEL)",
    )
    add(
        "--log-format",
        choices=["logfmt", "json"],
        default=env("LOG_FORMAT", "logfmt"),
        help="one line per event: key=value pairs or JSON objects (COEDIT_LOG_FORMAT)",
    )
    add(
        "--entities-config",
        type=Path,
        default=env("ENTITIES_CONFIG", "") or None,
        help="JSON or TOML file declaring the synced record collections, their schemas and "
        "merge policies; see docs/entities.md (COEDIT_ENTITIES_CONFIG)",
    )
    add_auth_arguments(serve)  # --jwt-secret, --jwks-url, ... --insecure: docs/auth.md
    serve.set_defaults(run=_serve)


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Build ``Settings`` from parsed ``serve`` arguments."""
    return Settings(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        database_url=args.database_url,
        redis_url=args.redis_url,
        sqlite_synchronous=args.sqlite_synchronous,
        request_head_timeout=args.request_head_timeout,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        limits=Limits(
            max_frame_bytes=args.max_frame_bytes,
            max_op_chars=args.max_op_chars,
            max_doc_chars=args.max_doc_chars,
            max_open_docs=args.max_open_docs,
            max_send_buffer=args.max_send_buffer,
        ),
        hub=HubSettings(
            history_limit=args.history,
            snapshot_every=args.snapshot_every,
            keep_ops=args.keep_ops,
            idle_seconds=args.idle_seconds,
        ),
        broadcast_interval=args.broadcast_interval_ms / 1000,
        entities=_entities(args.entities_config),
        auth=auth_settings_from_args(args),
    )


def _non_negative(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {number}")
    return number


def _optional_path(value: str) -> Path | None:
    return Path(value) if value else None


def _tls(settings: Settings) -> ssl.SSLContext | None:
    """The front door's TLS context, if both files are given; ``ValueError`` if only one is."""
    if settings.tls_cert is None and settings.tls_key is None:
        return None
    if settings.tls_cert is None or settings.tls_key is None:
        raise ValueError("--tls-cert and --tls-key go together: give both files, or neither")
    from server.web.tls import server_context

    return server_context(settings.tls_cert, settings.tls_key)


def _entities(path: Path | None) -> EntitiesConfig:
    """The declared record collections (none without a file); ``ConfigError`` names a mistake."""
    return EntitiesConfig() if path is None else load_config(path)


def _serve(args: argparse.Namespace) -> int:
    from server.observability.logs import configure_logging
    from server.web.app import make_app
    from server.web.listener import run_app

    configure_logging(args.log_level, args.log_format)
    settings = settings_from_args(args)
    check_serving_address(settings)  # no authentication: loopback only, unless --insecure
    tls = _tls(settings)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    app = make_app(settings)
    tune_gc()
    scheme = "http" if tls is None else "https"
    listening = f"coedit listening on {scheme}://{settings.host}:{settings.port}"
    run_app(
        app,
        host=settings.host,
        port=settings.port,
        shutdown_timeout=settings.shutdown_timeout,
        on_listening=lambda: print(listening, flush=True),  # once the socket is bound
        tls=tls,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``coedit`` argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="coedit", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    _add_serve(commands)
    add_token_command(commands)  # token: dev tokens for --jwt-secret (server/auth/cli.py)
    from clients.python.cli import add_commands as add_client_commands

    add_client_commands(commands)  # cat, edit, watch: the Python client (clients/python/cli.py)
    from clients.loadtest.cli import add_parser as add_loadtest

    add_loadtest(commands)  # loadtest: clients/loadtest/cli.py
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``coedit`` console script."""
    args = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    raise_fd_limit()
    try:
        return run(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # one clear line, not a traceback, for operators
        print(f"coedit: error: {exc}", file=sys.stderr)
        return 1


GC_YOUNG_THRESHOLD = 50_000


def tune_gc() -> None:
    """Make the cyclic garbage collector fit a server (or load generator) under load: call once
    everything is imported and built, just before the event loop starts.

    With the default threshold (a young collection every 700 net allocations), every object of
    an op in flight (its message, future, pending submit, coroutine frames) outlives a couple of
    young collections during its few milliseconds and is promoted to the oldest generation,
    whose full collections scan every object in memory: in a 13 s many-docs run, about ten
    full collections of 70 to 80 ms each, 1.5 s in all. Collecting the young generation every
    50,000 allocations lets almost everything die young (reference counting frees it, no
    collection needed), and ``gc.freeze`` takes the startup objects (modules, classes, the app)
    out of every scan. Reference cycles are still collected, only later."""
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


def raise_fd_limit() -> None:
    """Raise the soft limit on open files to the hard one: the server and the load tester hold
    a socket per connection (processes started from here inherit the limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return
    with contextlib.suppress(ValueError, OSError):  # running with the old limit beats failing
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


if __name__ == "__main__":
    sys.exit(main())
