"""``TextOperation``: an immutable, normalized edit of plain text, and its algebra (apply, compose,
invert). Transform lives in ``ot.transform``. Pure Python; no I/O.

Positions and lengths count Unicode code points, exactly like Python ``str`` indices — never
UTF-16 code units or bytes.
"""

from __future__ import annotations

import re
import reprlib
from collections.abc import Iterable, Sequence
from typing import Any

from ot.components import Component, push, trimmed
from ot.errors import InvalidOperation, LengthMismatch
from ot.regions import Region, components_of, region_of

# The largest length an operation may carry: JavaScript's largest exact integer, so that every
# valid operation survives a round trip through a browser.
MAX_LENGTH = 2**53 - 1

_SURROGATE = re.compile("[\ud800-\udfff]")

_new = object.__new__
_set_attr = object.__setattr__
_NOT_YET: Region = (-1, -1, "")  # a new op's region, until ``region`` first computes it


class TextOperation:
    """A sequence of retain / insert / delete components in normal form.

    Normal form: adjacent components of one kind are merged, no component is empty and there is
    no trailing retain — whatever follows the last component is kept unchanged (an implicit
    trailing retain), so an op need not span the whole text. A delete next to an insert keeps the
    order it was given in, because that order decides how ties transform.

    The wire form is the ot.js convention: a positive int retains, a non-empty string inserts, a
    negative int deletes, e.g. ``[5, "hi", -3]``. Equality and hashing follow the normal form.
    """

    __slots__ = ("_components", "_region")

    _components: tuple[Component, ...]
    _region: Region | None

    def __init__(self, components: Iterable[Component] = ()) -> None:
        """Build an operation from components in wire form, normalizing them."""
        out: list[Component] = []
        for index, c in enumerate(components):
            _check_component(c, index)
            push(out, c)
            last = out[-1]
            if isinstance(last, int) and not -MAX_LENGTH <= last <= MAX_LENGTH:
                raise InvalidOperation(
                    f"item {index}: with the lengths before it, it makes a run of {last}, "
                    f"beyond the maximum {MAX_LENGTH}"
                )
        # Past the immutability guard: its ``hasattr`` on the unset slot raises and catches an
        # AttributeError, which made building an op cost six times what it does this way.
        _set_attr(self, "_components", trimmed(out))
        _set_attr(self, "_region", _NOT_YET)

    @classmethod
    def _of(cls, components: tuple[Component, ...]) -> TextOperation:
        """Wrap components already in normal form, skipping validation (internal hot path)."""
        op = _new(cls)
        _set_attr(op, "_components", components)
        _set_attr(op, "_region", _NOT_YET)
        return op

    @classmethod
    def _of_region(cls, region: Region) -> TextOperation:
        """The op of a region (which must change something), its region already known."""
        op = _new(cls)
        _set_attr(op, "_components", components_of(*region))
        _set_attr(op, "_region", region)
        return op

    # -- constructors -------------------------------------------------------------------------

    @classmethod
    def from_json(cls, value: Any) -> TextOperation:
        """Parse the wire form, raising ``InvalidOperation`` that names the offending item."""
        if not isinstance(value, list):
            raise InvalidOperation(f"an operation must be a JSON array, not {type(value).__name__}")
        return cls(value)

    @classmethod
    def from_edit(cls, position: int, delete_count: int, insert_text: str) -> TextOperation:
        """The op that deletes ``delete_count`` characters at ``position`` and inserts there."""
        for name, number in (("position", position), ("delete_count", delete_count)):
            if type(number) is not int or not 0 <= number <= MAX_LENGTH:
                raise InvalidOperation(f"{name} must be a non-negative int, got {number!r}")
        if not isinstance(insert_text, str):
            raise InvalidOperation(f"insert_text must be a str, got {type(insert_text).__name__}")
        if not delete_count and not insert_text:
            return cls._of(())
        if insert_text and not insert_text.isascii() and _SURROGATE.search(insert_text):
            raise InvalidOperation("insert_text contains a lone surrogate code point")
        out: list[Component] = [position] if position else []
        if delete_count:
            out.append(-delete_count)
        if insert_text:
            out.append(insert_text)
        return cls._of(tuple(out))

    @classmethod
    def from_diff(cls, old: str, new: str) -> TextOperation:
        """The minimal single-region edit turning ``old`` into ``new`` (common prefix/suffix)."""
        prefix = _common_prefix_length(old, new)
        limit = min(len(old), len(new)) - prefix
        suffix = _common_suffix_length(old, new, limit)
        return cls.from_edit(prefix, len(old) - prefix - suffix, new[prefix : len(new) - suffix])

    @classmethod
    def from_normal_json(cls, value: list[Component]) -> TextOperation:
        """Wrap a wire form known to be valid and in normal form, without checking it: for ops
        from a trusted source, such as the committed ops a server sends. Anything else gives
        wrong results instead of ``InvalidOperation``; use ``from_json`` for untrusted input."""
        return cls._of(tuple(value))

    # -- queries ------------------------------------------------------------------------------

    @property
    def components(self) -> tuple[Component, ...]:
        """The components in normal form (wire convention), as an immutable tuple."""
        return self._components

    def to_json(self) -> list[Component]:
        """The wire form: a list of ints and strings in normal form."""
        return list(self._components)

    @property
    def region(self) -> Region | None:
        """``(position, deleted, inserted)`` when the op changes one stretch of text (a keystroke,
        a paste), else None. Computed once: transform's fast path reads it at every rebase."""
        region = self._region
        if region is _NOT_YET:
            region = region_of(self._components)
            _set_attr(self, "_region", region)
        return region

    @property
    def base_length(self) -> int:
        """How many characters the op reads: the shortest text it can be applied to."""
        region = self.region
        if region is not None:
            return region[0] + region[1]
        n = 0
        for c in self._components:
            if isinstance(c, int):
                n += c if c > 0 else -c
        return n

    @property
    def length_delta(self) -> int:
        """How much the op changes the length of a text: inserted minus deleted characters."""
        region = self.region
        if region is not None:
            return len(region[2]) - region[1]
        n = 0
        for c in self._components:
            if isinstance(c, str):
                n += len(c)
            elif c < 0:
                n += c
        return n

    @property
    def is_noop(self) -> bool:
        """True when applying the op changes nothing."""
        return not self._components

    # -- algebra ------------------------------------------------------------------------------

    def apply(self, text: str) -> str:
        """Return ``text`` with the op applied; ``LengthMismatch`` if the op reads past its end."""
        parts: list[str] = []
        pos = 0
        for c in self._components:
            if isinstance(c, str):
                parts.append(c)
            elif c > 0:
                parts.append(text[pos : pos + c])
                pos += c
            else:
                pos -= c
        if pos > len(text):
            raise LengthMismatch(self.base_length, len(text))
        parts.append(text[pos:])
        return "".join(parts)

    def compose(self, other: TextOperation) -> TextOperation:
        """One op with the effect of ``self`` then ``other``.

        Law: ``other.apply(self.apply(s)) == self.compose(other).apply(s)`` for every text ``s``
        that ``self`` fits.
        """
        return TextOperation._of(_compose(self._components, other._components))

    def invert(self, text: str) -> TextOperation:
        """The op that undoes ``self``, given the ``text`` that ``self`` was applied to.

        Law: ``self.invert(s).apply(self.apply(s)) == s``.
        """
        out: list[Component] = []
        pos = 0
        for c in self._components:
            if isinstance(c, str):
                push(out, -len(c))
            elif c > 0:
                push(out, c)
                pos += c
            else:
                push(out, text[pos : pos - c])
                pos -= c
        if pos > len(text):
            raise LengthMismatch(pos, len(text))
        return TextOperation._of(trimmed(out))

    # -- value semantics ----------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TextOperation):
            return NotImplemented
        return self._components == other._components

    def __hash__(self) -> int:
        return hash(self._components)

    def __repr__(self) -> str:
        return f"TextOperation({list(self._components)!r})"

    def __reduce__(self) -> tuple[type[TextOperation], tuple[list[Component]]]:
        # copy and pickle rebuild the op from its wire form, never slot by slot past the guard
        return (TextOperation, (list(self._components),))

    def __setattr__(self, name: str, value: object) -> None:
        if hasattr(self, "_components"):
            raise AttributeError("TextOperation is immutable")
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        raise AttributeError("TextOperation is immutable")


def compose_all(ops: Iterable[TextOperation]) -> TextOperation:
    """Compose a run of consecutive ops into one (the identity op for an empty run)."""
    components: tuple[Component, ...] = ()
    for op in ops:
        components = _compose(components, op._components) if components else op._components
    return TextOperation._of(components)


def _check_component(c: object, index: int) -> None:
    if isinstance(c, int) and not isinstance(c, bool):
        if c == 0:
            raise InvalidOperation(f"item {index}: 0 is neither a retain nor a delete")
        if not -MAX_LENGTH <= c <= MAX_LENGTH:
            raise InvalidOperation(f"item {index}: length {c} exceeds the maximum {MAX_LENGTH}")
    elif isinstance(c, str):
        if not c:
            raise InvalidOperation(f"item {index}: an insert must not be empty")
        if not c.isascii() and _SURROGATE.search(c):
            raise InvalidOperation(f"item {index}: insert contains a lone surrogate code point")
    else:
        shown = reprlib.repr(c)  # bounded: repr() of deeply nested junk raises RecursionError
        if len(shown) > 40:
            shown = shown[:37] + "..."
        raise InvalidOperation(
            f"item {index}: expected a non-zero int or a non-empty string, "
            f"got {type(c).__name__} {shown}"
        )


def _compose(a: Sequence[Component], b: Sequence[Component]) -> tuple[Component, ...]:
    """Compose raw components: ``a`` then ``b``.

    Walks ``b`` and consumes ``a`` as ``b`` reads the text ``a`` produced. A delete in ``a`` reads
    nothing of that text, so it passes through whole, before whatever ``b`` does at that point.
    """
    out: list[Component] = []
    n = len(a)
    i = 0
    off = 0  # how much of a[i] is consumed (a retain's or an insert's length)
    for c2 in b:
        if isinstance(c2, str):
            push(out, c2)
            continue
        length = c2 if c2 > 0 else -c2
        keep = c2 > 0
        while length > 0:
            if i == n:
                push(out, length if keep else -length)  # past a's end: a retains implicitly
                break
            c = a[i]
            if isinstance(c, int) and c < 0:
                push(out, c)  # a's delete reads none of b's input
                i += 1
                continue
            rem = (len(c) if isinstance(c, str) else c) - off
            take = rem if rem <= length else length
            if keep:
                push(out, c[off : off + take] if isinstance(c, str) else take)
            elif isinstance(c, int):
                push(out, -take)  # b deletes what a retained; b deleting a's insert cancels out
            length -= take
            if take == rem:
                i += 1
                off = 0
            else:
                off += take
    if i < n:
        c = a[i]
        if off:
            c = c[off:] if isinstance(c, str) else c - off
        push(out, c)
        for c in a[i + 1 :]:
            push(out, c)
    return trimmed(out)


def _common_prefix_length(a: str, b: str) -> int:
    lo, hi = 0, min(len(a), len(b))
    if a[:hi] == b[:hi]:
        return hi
    while lo < hi:  # invariant: a[:lo] == b[:lo] and a[:hi+1] != b[:hi+1]
        mid = (lo + hi + 1) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _common_suffix_length(a: str, b: str, limit: int) -> int:
    lo, hi = 0, limit
    la, lb = len(a), len(b)
    if a[la - hi :] == b[lb - hi :]:
        return hi
    while lo < hi:  # invariant: the last lo characters match, the last hi+1 do not
        mid = (lo + hi + 1) // 2
        if a[la - mid : la - lo] == b[lb - mid : lb - lo]:
            lo = mid
        else:
            hi = mid - 1
    return lo
