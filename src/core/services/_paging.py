"""Reading every row of a paged repository list, never the first N taken for all of them."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Final, TypeVar

T = TypeVar("T")

PAGE_SIZE: Final = 500


def every(read: Callable[[int, int], Sequence[T]], *, size: int = PAGE_SIZE) -> Iterator[T]:
    """Every row ``read(limit, offset)`` gives, a page at a time, until a page comes back
    empty (a short page is not the end: an adapter may serve fewer rows than asked).

    The offsets stay right while the caller changes rows without moving them in or out of
    what is read; a caller that does (maps the unmapped variants it reads, say) reads them
    all first: ``list(every(...))``.
    """
    offset = 0
    while True:
        page = read(size, offset)
        if not page:
            return
        yield from page
        offset += len(page)
