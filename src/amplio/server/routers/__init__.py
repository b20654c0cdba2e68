"""One APIRouter per area: rows and the map, augmentation and jobs, review and export, gaps and reports.

Also the request field types they share.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator

#: The largest seed a request may give: the methods add offsets to it and llama.cpp takes a uint32.
SEED_MAX = 2**31 - 1


def _encodable(value: object) -> object:
    # JSON may spell a lone surrogate (\ud800) that no UTF-8 store can hold; refuse it here, by
    # name, rather than fail in DuckDB. Before the type check: for ``str | None`` pydantic lets it by.
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            bad = value[exc.start]
            raise ValueError(f"text must be valid Unicode; it holds a lone surrogate U+{ord(bad):04X} "
                             f"at position {exc.start}") from None
    return value


#: A string field of a request body: any Unicode text that UTF-8 can encode.
UnicodeText = Annotated[str, BeforeValidator(_encodable)]
