"""``coedit cat``, ``coedit edit`` and ``coedit watch``: the Python client on the command line.

``server/cli.py`` calls ``add_commands``; each command runs its own event loop, and failures are
``CoeditError``s with one clear line, which the ``coedit`` entry point prints.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from clients.python.client import DEFAULT_URL


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``cat``, ``edit`` and ``watch`` to the ``coedit`` parser."""
    cat = _add(commands, "cat", "print a document's text", "Print the current text of DOC.")
    cat.set_defaults(run=run_cat)
    edit = _add(
        commands,
        "edit",
        "edit a document in $EDITOR",
        "Open DOC's text in $EDITOR (else $VISUAL, else vi); when the editor exits, submit the "
        "difference as one op. Edits others made meanwhile are merged, not overwritten. A "
        "document that does not exist yet starts empty.",
    )
    edit.set_defaults(run=run_edit)
    watch = _add(
        commands,
        "watch",
        "print changes to a document as they happen",
        "Follow DOC live and print one line per change, until Ctrl-C. Reconnects by itself "
        "when the server goes away.",
    )
    watch.add_argument(
        "--json",
        action="store_true",
        help="print each change as a JSON object: version, client, user, op (wire form), text",
    )
    watch.set_defaults(run=run_watch)


def _add(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    summary: str,
    description: str,
) -> argparse.ArgumentParser:
    parser = commands.add_parser(
        name,
        help=summary,
        description=description,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("doc", metavar="DOC", help="document id")
    parser.add_argument(
        "--url",
        default=os.environ.get("COEDIT_URL") or DEFAULT_URL,
        help="the server (COEDIT_URL)",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("COEDIT_TOKEN") or None,
        help="bearer token, when the server requires one (COEDIT_TOKEN)",
    )
    return parser


def run_cat(args: argparse.Namespace) -> int:
    from clients.python.commands import cat

    sys.stdout.write(asyncio.run(cat(args.url, args.doc, token=args.token)))
    sys.stdout.flush()
    return 0


def run_edit(args: argparse.Namespace) -> int:
    from clients.python.editor import edit

    message = edit(args.url, args.doc, token=args.token)
    print(f"coedit: {message}", file=sys.stderr)
    return 0


def run_watch(args: argparse.Namespace) -> int:
    from clients.python.commands import watch

    def status(line: str) -> None:
        print(f"coedit: {line}", file=sys.stderr, flush=True)

    def change(line: str) -> None:
        print(line, flush=True)

    asyncio.run(
        watch(args.url, args.doc, token=args.token, as_json=args.json, out=change, err=status)
    )
    return 0
