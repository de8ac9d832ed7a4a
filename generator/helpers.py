"""Helper processes that get the slow libraries ready while the build reads its results.

A rebuild after one new result spends most of its time starting things, not computing: importing ruptures
(which imports scipy.stats, ~2.4 s) to look for change points in the few series that gained a value, and
starting vl-convert's JavaScript runtime (~1 s) to draw their charts, each after the
results were read. Two processes forked as the build starts do that on another core while this one reads and
aggregates: the ``detector`` imports ruptures, the ``renderer`` draws a first chart; each then runs the work
it is handed. Where there is no fork (or a helper is not wanted) the work runs in the build's process.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from multiprocessing import get_context
from multiprocessing.connection import Connection
from typing import Any

from generator.errors import BuildError


def _import_detector() -> None:
    import ruptures  # noqa: F401  (imports scipy.stats too)


def _start_renderer() -> None:
    from generator.svg import warm_up

    warm_up()


def _same(item: Any) -> Any:
    return item


def _serve(ready: Callable[[], None], conn: Connection) -> None:
    """The helper's loop: get ready, then answer each (fn, items) with (True, results) or (False, exception)."""
    failed: Exception | None = None
    try:
        ready()
    except Exception as exc:  # noqa: BLE001 - reported with the first piece of work, which would fail the same way
        failed = exc
    while True:
        try:
            fn, items = conn.recv()
        except EOFError:  # the build closed its end
            return
        try:
            if failed is not None:
                raise failed
            answer: tuple[bool, Any] = (True, [fn(item) for item in items])
        except Exception as exc:  # noqa: BLE001 - raised again in the build's process
            answer = (False, exc)
        try:
            conn.send(answer)
        except Exception as exc:  # noqa: BLE001 - an exception that does not pickle: its message does
            conn.send((False, BuildError(f"{type(exc).__name__}: {exc}")))


class Helper:
    """One forked process that runs ``ready`` at once, then whatever ``map`` hands it."""

    def __init__(self, ready: Callable[[], None]) -> None:
        context = get_context("fork")
        self._conn, theirs = context.Pipe()
        self._process = context.Process(target=_serve, args=(ready, theirs), daemon=True, name=f"benchsite {ready.__name__}")
        self._process.start()
        theirs.close()

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any], timeout_s: float | None = None) -> list[Any]:
        """Return [fn(item) for item in items], computed in the helper; its exception is raised here, and a
        BuildError if the answer takes over ``timeout_s``."""
        try:
            self._conn.send((fn, list(items)))
            if timeout_s is not None and not self._conn.poll(timeout_s):
                raise BuildError(f"the build's helper process ({self._process.name}) did not answer in {timeout_s:g} s")
            ok, value = self._conn.recv()
        except (EOFError, OSError):  # the pipe closed under us: the helper is gone
            raise BuildError(f"the build's helper process ({self._process.name}) stopped with exit code {self._process.exitcode}") from None
        if not ok:
            raise value
        return value

    def wait(self) -> None:
        """Wait until the helper has run ``ready``; raise its exception here."""
        self.map(_same, ())

    def close(self) -> None:
        """Stop the helper, without waiting for a start that nothing used."""
        self._conn.close()
        self._process.terminate()
        self._process.join()


def fork_available() -> bool:
    """Whether helpers can be forked here: on Linux (elsewhere fork is not the default, nor always safe)."""
    return sys.platform.startswith("linux")


class Helpers:
    """The build's helper processes: ``detector`` and ``renderer``, each None where that work stays in this process."""

    def __init__(self, detector: bool = True, renderer: bool = True) -> None:
        fork = fork_available()
        svg = sys.modules.get("generator.svg")
        # a process that has started vl-convert's runtime cannot fork a renderer: the runtime's threads stay behind
        renderer = renderer and not (svg is not None and svg.runtime_started())
        self.detector = Helper(_import_detector) if detector and fork else None
        self.renderer = Helper(_start_renderer) if renderer and fork else None

    def close(self) -> None:
        for helper in (self.detector, self.renderer):
            if helper is not None:
                helper.close()

    def __enter__(self) -> Helpers:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
