"""Errors raised by the OT core.

OTError
├── InvalidOperation   — a value is not a well-formed operation (bad JSON item, bad argument)
└── LengthMismatch     — a well-formed operation does not fit the text it is applied to
"""


class OTError(ValueError):
    """Base class of every error the OT core raises."""


class InvalidOperation(OTError):
    """The value is not a well-formed operation; the message names the offending item."""


class LengthMismatch(OTError):
    """The operation reads past the end of the text it is applied to (or inverted against)."""

    def __init__(self, base_length: int, text_length: int) -> None:
        super().__init__(
            f"operation reads {base_length} characters but the text has only {text_length}"
        )
        self.base_length = base_length
        self.text_length = text_length
