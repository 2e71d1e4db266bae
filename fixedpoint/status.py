"""A status line with elapsed time for long work that has no natural progress count (stdlib only, every layer).

    with status("building the Verilator model") as st:
        ...                       # st.update("linking") changes the text; the line ticks while the block runs

On a terminal the line is rewritten in place every second ("building the Verilator model ... 42 s"); in a
log or a notebook cell (not a TTY) one line is printed at the start, one every `every` seconds (default 30),
and one at the end ("... done in 61.3 s" or "... failed after 3.2 s"). Where steps can be counted, use tqdm.
"""
from __future__ import annotations

import contextlib
import sys
import threading
import time


class Status:
    def __init__(self, what: str, stream, every: float | None):
        self.what = what
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every = every if every is not None else (1.0 if self.tty else 30.0)
        self.t0 = time.monotonic()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._tick, daemon=True)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def update(self, what: str) -> None:
        """Change the text (e.g. the current stage); shown at the next tick."""
        with self._lock:
            self.what = what

    def _write(self, text: str, final: bool = False) -> None:
        with self._lock:
            if self.tty:
                self.stream.write("\r\x1b[2K" + text + ("\n" if final else ""))
            else:
                self.stream.write(text + "\n")
            self.stream.flush()

    def _tick(self) -> None:
        while not self._stop.wait(self.every):
            self._write(f"{self.what} ... {self.elapsed:.0f} s")

    def start(self) -> "Status":
        self._write(f"{self.what} ...")
        self._thread.start()
        return self

    def finish(self, ok: bool) -> None:
        self._stop.set()
        self._thread.join()
        self._write(f"{self.what} ... {'done in' if ok else 'failed after'} {self.elapsed:.1f} s", final=True)


@contextlib.contextmanager
def status(what: str, stream=None, every: float | None = None):
    """Context manager: a ticking status line for the block (see the module docstring); yields a Status."""
    st = Status(what, stream, every).start()
    try:
        yield st
    except BaseException:
        st.finish(False)
        raise
    st.finish(True)
