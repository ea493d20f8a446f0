"""A log sink that never makes the event loop wait: records are queued and written by a thread.

loguru's own `enqueue=True` pickles every message through a multiprocessing queue, which under
load cost more CPU than the request it logged. This queue is in-process (no pickling), and the
writer thread writes whatever has accumulated in one call, so a burst costs one syscall.

After the first record of a burst the writer waits LINGER seconds before writing: records put
meanwhile find no thread waiting to be woken, so under load a put is a plain append and the
thread (and the GIL hand-over its waking costs) runs a few dozen times a second, not per record.
"""

from __future__ import annotations

import atexit
import queue
import threading
import time
from typing import TextIO

_STOP = object()
LINGER = 0.02
"""Seconds a burst may gather before it is written: at most this stale, a log file or pipe."""


class BackgroundSink:
    """Callable loguru sink writing to `stream` from a daemon thread."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._write_forever, name="log-writer", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def __call__(self, message: str) -> None:
        # loguru hands over a `str` subclass carrying the record; keep only the text.
        self._queue.put(message if type(message) is str else str(message))

    def _write_forever(self) -> None:
        while True:
            first = self._queue.get()
            if isinstance(first, str) and not isinstance(first, _Flush):
                time.sleep(LINGER)
            batch = [first]
            while len(batch) < 10_000:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = any(item is _STOP for item in batch)
            lines = [item for item in batch if isinstance(item, str)]
            if lines:
                try:
                    self._stream.write("".join(lines))
                    self._stream.flush()
                except (OSError, ValueError):  # the stream was closed under us (interpreter exit)
                    return
            for item in batch:
                if isinstance(item, _Flush):
                    item.event.set()
            if stop:
                return

    def flush(self) -> None:
        """Wait until everything queued so far is written."""
        done = threading.Event()
        self._queue.put(_Flush(done))
        done.wait(timeout=5)

    def close(self) -> None:
        """Write what is queued, then stop the thread."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout=5)


class _Flush(str):
    """A marker that sets its event once the writer reaches it (an empty line is written)."""

    event: threading.Event

    def __new__(cls, event: threading.Event) -> _Flush:
        instance = super().__new__(cls, "")
        instance.event = event
        return instance
