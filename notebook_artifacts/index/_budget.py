"""A time budget for one extraction, so hostile content cannot stall the indexer.

:func:`run_with_budget` runs ``fn`` on the calling thread; if it is still running when the
budget is spent, a watchdog raises :class:`BudgetExceeded` inside that thread (CPython's
``PyThreadState_SetAsyncExc``), which lands at the next Python bytecode. Extractors are Python
(html.parser, pypdf, csv, ast, json), so this stops them; a single long call into C code is
stopped when it returns. The exception derives from ``BaseException`` so an extractor's own
``except Exception`` cannot swallow it.
"""

from __future__ import annotations

import ctypes
import os
import threading
from typing import Callable, TypeVar

from ..errors import InvalidInputError
from .extract import Extracted, ExtractionError, extract

__all__ = ["BudgetExceeded", "run_with_budget", "extract_within_budget", "EXTRACT_BUDGET_SECONDS",
           "default_extract_budget"]

T = TypeVar("T")


class BudgetExceeded(BaseException):
    """Raised inside the running extraction when its time budget is spent."""


def _raise_in(thread_id: int, exc: type[BaseException] | None) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exc) if exc is not None else ctypes.c_void_p(0))


def run_with_budget(fn: Callable[[], T], seconds: float | None) -> T:
    """``fn()``, or :class:`BudgetExceeded` once it has run ``seconds`` (None: no budget)."""
    if seconds is None or seconds <= 0:
        return fn()
    tid = threading.get_ident()
    lock = threading.Lock()
    state = {"done": False, "fired": False}

    def fire() -> None:
        with lock:
            if not state["done"]:
                state["fired"] = True
                _raise_in(tid, BudgetExceeded)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    try:
        return fn()
    finally:
        with lock:
            state["done"] = True
            if state["fired"]:
                _raise_in(tid, None)  # fn finished first: drop a still-pending exception
        timer.cancel()


#: Seconds one version's extraction may take before it is ``failed`` (the indexer's
#: ``IndexService.extract_budget``; set ``$NOTEBOOK_ARTIFACTS_EXTRACT_BUDGET`` to change it).
EXTRACT_BUDGET_SECONDS = 120.0


def default_extract_budget() -> float:
    """``$NOTEBOOK_ARTIFACTS_EXTRACT_BUDGET`` (seconds) or :data:`EXTRACT_BUDGET_SECONDS`."""
    raw = os.environ.get("NOTEBOOK_ARTIFACTS_EXTRACT_BUDGET", "").strip()
    try:
        value = float(raw) if raw else EXTRACT_BUDGET_SECONDS
    except ValueError:
        raise InvalidInputError(
            f"$NOTEBOOK_ARTIFACTS_EXTRACT_BUDGET={raw!r} is not a number of seconds") from None
    if not value > 0:
        raise InvalidInputError(f"$NOTEBOOK_ARTIFACTS_EXTRACT_BUDGET={raw!r} must be above 0")
    return value


def extract_within_budget(data: bytes, mime_type: str | None, file_name: str | None,
                          seconds: float | None) -> Extracted:
    """:func:`extract`, or :class:`ExtractionError` (permanent: that version ends ``failed``)
    once it has run ``seconds``."""
    try:
        return run_with_budget(lambda: extract(data, mime_type, file_name), seconds)
    except BudgetExceeded:
        raise ExtractionError(
            f"text extraction stopped after its time budget of {seconds:g} s (hostile or very "
            "large content); the file is stored but not searchable. Raise "
            "$NOTEBOOK_ARTIFACTS_EXTRACT_BUDGET and reindex() it if it is legitimate") from None
