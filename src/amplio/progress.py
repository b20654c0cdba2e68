"""Progress reporting shared by the CLI (a terminal bar) and the server (UI events).

Long stages take a ``Progress`` callback; it receives the stage name, the units done and the total.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# ``progress(stage, done, total)``: ``done`` of ``total`` units of ``stage`` are finished.
Progress = Callable[[str, int, int], None]


def silent(stage: str, done: int, total: int) -> None:
    """A progress callback that reports nothing."""


class TqdmProgress:
    """Terminal progress bars, one per stage, written to stderr so stdout stays machine-readable."""

    def __init__(self, *, disable: bool | None = None) -> None:
        self._bars: dict[str, object] = {}
        self._disable = (not sys.stderr.isatty()) if disable is None else disable

    def __call__(self, stage: str, done: int, total: int) -> None:
        from tqdm.auto import tqdm

        bar = self._bars.get(stage)
        if bar is None:
            bar = tqdm(total=total, desc=stage, unit="row", disable=self._disable, leave=False)
            self._bars[stage] = bar
        bar.total = total  # type: ignore[attr-defined]
        bar.n = done  # type: ignore[attr-defined]
        bar.refresh()  # type: ignore[attr-defined]
        if done >= total:
            bar.close()  # type: ignore[attr-defined]
            del self._bars[stage]


@contextmanager
def stage(progress: Progress, name: str, total: int) -> Iterator[Callable[[int], None]]:
    """Report ``name`` from 0 to ``total``; yields a function taking the units done so far."""
    progress(name, 0, total)
    yield lambda done: progress(name, min(done, total), total)
    progress(name, total, total)
