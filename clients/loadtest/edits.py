"""The edits simulated editors make, and the timestamp each one carries.

Every edit inserts a token ``{<hex>}``: its intended send time in µs since the run's epoch (the
wall clock, shared by every process on the machine). A receiver reads it back from the op it
receives, whoever sent it and however the server rebased it (transform never splits an insert),
and so measures submit-to-receipt latency from the intended send time.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ot import TextOperation

FILLER = "abcdefghijklmnopqrstuvwxyz      \n"


def starting_text(size: int, seed: str) -> str:
    """A deterministic text of ``size`` characters for seeding a document."""
    rnd = random.Random(seed)
    return "".join(rnd.choices(FILLER, k=size))


def encode_token(micros: int) -> str:
    return f"{{{micros:x}}}"


def token_micros(inserted: str) -> int | None:
    """The earliest timestamp among the tokens in an inserted string (None if it has none)."""
    earliest: int | None = None
    start = inserted.find("{")
    while start != -1:
        end = inserted.find("}", start + 1)
        if end == -1:
            break
        try:
            micros = int(inserted[start + 1 : end], 16)
        except ValueError:  # a token cut by a composed delete: skip it
            micros = None
        if micros is not None and (earliest is None or micros < earliest):
            earliest = micros
        start = inserted.find("{", end + 1)
    return earliest


def op_micros(components: list[int | str]) -> int | None:
    """The earliest token timestamp of an op in wire form."""
    earliest: int | None = None
    for component in components:
        if type(component) is str:
            micros = token_micros(component)
            if micros is not None and (earliest is None or micros < earliest):
                earliest = micros
    return earliest


@dataclass(slots=True)
class EditMaker:
    """Random typing that keeps a document near ``target_size``: insert a token at a random
    place, deleting as many characters there once the text has reached its size."""

    rnd: random.Random
    target_size: int

    def edit(self, text_length: int, micros: int) -> TextOperation:
        token = encode_token(micros)
        position = self.rnd.randint(0, text_length)
        delete = 0
        if text_length >= self.target_size:
            delete = min(len(token), text_length - position)
        return TextOperation.from_edit(position, delete, token)
