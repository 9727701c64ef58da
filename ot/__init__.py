"""coedit's operational transformation core for plain text: pure Python, no I/O.

Positions and lengths count Unicode code points (Python ``str`` indices).
"""

from ot.client import AwaitingConfirm, AwaitingWithBuffer, Client, Submission, Synchronized
from ot.errors import InvalidOperation, LengthMismatch, OTError
from ot.operation import MAX_LENGTH, TextOperation, compose_all
from ot.transform import (
    transform,
    transform_against,
    transform_index,
    transform_selection,
    transform_side,
)

__all__ = [
    "MAX_LENGTH",
    "AwaitingConfirm",
    "AwaitingWithBuffer",
    "Client",
    "InvalidOperation",
    "LengthMismatch",
    "OTError",
    "Submission",
    "Synchronized",
    "TextOperation",
    "compose_all",
    "transform",
    "transform_against",
    "transform_index",
    "transform_selection",
    "transform_side",
]
