"""Low-level helpers on raw component lists, shared by the operation algebra.

A component is an ``int`` or a ``str``: a positive int retains that many characters, a negative
int deletes ``-n`` characters, a non-empty string inserts itself. These helpers are the hot path of
apply, compose and transform, so they work on plain lists and tuples without wrapper objects.
"""

Component = int | str


def push(out: list[Component], c: Component) -> None:
    """Append ``c`` to ``out``, merging it into the last component when both are the same kind.

    Empty components (``0`` and ``""``) are dropped. Only same-kind neighbours merge: a delete next
    to an insert keeps its place, because that order decides how ties transform.
    """
    if not c:
        return
    if out:
        last = out[-1]
        if isinstance(c, str):
            if isinstance(last, str):
                out[-1] = last + c
                return
        elif isinstance(last, int) and (last > 0) == (c > 0):
            out[-1] = last + c
            return
    out.append(c)


def trimmed(out: list[Component]) -> tuple[Component, ...]:
    """Return ``out`` as a tuple without its trailing retain (retaining the rest is implicit)."""
    if out and isinstance(out[-1], int) and out[-1] > 0:
        out.pop()
    return tuple(out)
