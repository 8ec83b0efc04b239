"""How far an import got: a progress bar on a terminal (rich), plain periodic lines otherwise, and the counts."""

import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Protocol, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, ProgressColumn, Task, TextColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress
from rich.text import Text


@dataclass
class Counts:
    """The running totals of one import: ``rejected`` counts every refused row, ``api_rejected`` the API's share."""

    rows: int = 0
    to_send: int = 0
    accepted: int = 0
    replayed: int = 0
    rejected: int = 0
    api_rejected: int = 0
    not_sent: int = 0
    in_flight: int = 0  # rows whose request was on its way when the import was interrupted: stored or not
    requests: int = 0
    retries: int = 0
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def sent(self) -> int:
        """Rows whose request has ended, one way or the other."""
        return self.accepted + self.not_sent + self.api_rejected

    @property
    def seconds(self) -> float:
        """Seconds from the start of the sending to its end (to now while it goes on)."""
        return (time.monotonic() if self.finished is None else self.finished) - self.started

    @property
    def rate(self) -> float:
        """Rows per second over the sending so far."""
        return self.sent / self.seconds if self.seconds > 0 else 0.0


class Progress(Protocol):
    """Shown while chunks are sent; ``update`` is called after each request ends."""

    def update(self, counts: Counts) -> None: ...

    def close(self, counts: Counts) -> None: ...


class _RowsPerSecond(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.speed or 0:,.0f} rows/s")


class TerminalProgress:
    """A rich progress bar: rows sent of rows to send, rows/s, rejects and the time left."""

    def __init__(self, stream: TextIO, total: int) -> None:
        self._bar = RichProgress(
            TextColumn("import"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("rows"),
            _RowsPerSecond(),
            TextColumn("{task.fields[rejected]:,} rejected"),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(file=stream),
            transient=False,
        )
        self._task = self._bar.add_task("import", total=total, rejected=0)
        self._bar.start()

    def update(self, counts: Counts) -> None:
        self._bar.update(self._task, completed=counts.sent, rejected=counts.rejected)

    def close(self, counts: Counts) -> None:
        self.update(counts)
        self._bar.stop()


class PlainProgress:
    """One line every ``interval`` seconds, for logs and pipes, where a bar would be noise."""

    def __init__(self, stream: TextIO, interval: float) -> None:
        self._stream = stream
        self._interval = interval
        self._last = time.monotonic()

    def update(self, counts: Counts) -> None:
        now = time.monotonic()
        if now - self._last >= self._interval:
            self._last = now
            print(progress_line(counts), file=self._stream, flush=True)

    def close(self, counts: Counts) -> None:
        """Nothing to tidy: the report follows."""


def progress_line(counts: Counts) -> str:
    """``import: 4,000/9,900 rows (40%), 812 rows/s, 12 rejected, 50 requests, 0 retries, ETA 7 s``."""
    percent = 100 * counts.sent / counts.to_send if counts.to_send else 100.0
    rate = counts.rate
    eta = f"{(counts.to_send - counts.sent) / rate:,.0f} s" if rate > 0 else "unknown"
    return (
        f"import: {counts.sent:,}/{counts.to_send:,} rows ({percent:.0f}%), {rate:,.0f} rows/s, "
        f"{counts.rejected:,} rejected, {counts.requests:,} requests, {counts.retries:,} retries, ETA {eta}"
    )


def duration_text(seconds: float, rows: int) -> str:
    """The report's duration and rate, the rate of the duration as shown: ``12.3 s  (1,401 rows/s)``,
    ``47 ms  (85 rows/s)`` (a duration under a second in milliseconds, never a duration of zero)."""
    milliseconds = round(seconds * 1000)
    if milliseconds >= 1000:
        shown, value = f"{seconds:,.1f} s", round(seconds, 1)
    elif milliseconds >= 1:
        shown, value = f"{milliseconds} ms", milliseconds / 1000
    else:
        return "under 1 ms"
    return f"{shown}  ({rows / value:,.0f} rows/s)"


def progress_for(total: int, interval: float, stream: TextIO | None = None) -> Progress:
    """A bar when ``stream`` (standard error by default) is a terminal, periodic lines otherwise."""
    stream = stream or sys.stderr
    if stream.isatty():
        return TerminalProgress(stream, total)
    return PlainProgress(stream, interval)
