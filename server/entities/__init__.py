"""Delta sync for records (non-text entities): collections of JSON records, a cursor-based
changes feed, conditional and idempotent writes with per-field merge policies, outbox batches and
push-invalidate hints. Documented in ``docs/entities.md``.

Pure logic (``config``, ``jsonmerge``, ``policies``, ``decide``, ``cursor``, ``idempotency``)
imports no I/O library; ``store`` holds the storage adapters and ``web`` the aiohttp routes.
"""
