"""Ctrl-C and SIGTERM as a request to stop: long work (an analysis window) ends cleanly, judging what it has.

Portable: SIGINT and SIGTERM exist on every platform Python runs on; SIGBREAK (Ctrl-Break) only on Windows.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


def _stop_signals() -> list[signal.Signals]:
    names = ("SIGINT", "SIGTERM", "SIGBREAK")
    return [number for name in names if (number := getattr(signal, name, None)) is not None]


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[threading.Event]:
    """While the block runs, the first Ctrl-C or SIGTERM sets ``stop``; a second Ctrl-C interrupts at once.

    Outside the main thread (where Python delivers no signals) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {number: signal.getsignal(number) for number in _stop_signals()}

    def request_stop(number: int, _frame: FrameType | None) -> None:
        if stop.is_set() and number == signal.SIGINT:
            raise KeyboardInterrupt  # asked twice: stop waiting
        stop.set()

    for number in previous:
        signal.signal(number, request_stop)
    try:
        yield stop
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
