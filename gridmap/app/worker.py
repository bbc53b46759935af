"""Run library functions on a worker thread with progress and cancel, so the window never freezes.

Library functions take optional ``progress(fraction, message)`` and ``cancelled()``
callables (QGIS Processing style); the task passes thread-safe ones in and reports
back through Qt signals, which Qt delivers on the GUI thread.
"""

from __future__ import annotations

import inspect
import threading
import traceback

from PyQt5.QtCore import QObject, QThread, pyqtSignal

from gridmap.errors import GridMapError

__all__ = ["Task", "TaskCancelled"]


class TaskCancelled(Exception):
    """Raised inside a task when the user pressed cancel."""


class _Runner(QObject):
    progress = pyqtSignal(float, str)
    finished = pyqtSignal(object)
    failed = pyqtSignal(str)

    def __init__(self, fn, args, kwargs, cancel_event):
        super().__init__()
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.cancel_event = cancel_event

    def run(self):
        def progress(fraction, message=""):
            if self.cancel_event.is_set():
                raise TaskCancelled("cancelled")
            self.progress.emit(float(fraction), str(message))

        try:
            accepted = inspect.signature(self.fn).parameters
            extra = {}
            if "progress" in accepted:
                extra["progress"] = progress
            if "cancelled" in accepted:
                extra["cancelled"] = self.cancel_event.is_set
            result = self.fn(*self.args, **self.kwargs, **extra)
            if self.cancel_event.is_set():
                self.failed.emit("cancelled")
            else:
                self.finished.emit(result)
        except TaskCancelled:
            self.failed.emit("cancelled")
        except GridMapError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # noqa: BLE001 - shown to the user instead of killing the app
            traceback.print_exc()
            self.failed.emit(f"{type(exc).__name__}: {exc}")


class Task(QObject):
    """One background call: ``Task(fn, *args, **kwargs).start()``.

    Signals ``progress(fraction, message)``, ``finished(result)`` and ``failed(message)``
    (``"cancelled"`` after :meth:`cancel`). Library writes are atomic, so a cancelled
    task leaves the project as it was.
    """

    progress = pyqtSignal(float, str)
    finished = pyqtSignal(object)
    failed = pyqtSignal(str)

    def __init__(self, fn, *args, **kwargs):
        super().__init__()
        self._cancel = threading.Event()
        self._thread = QThread()
        self._runner = _Runner(fn, args, kwargs, self._cancel)
        self._runner.moveToThread(self._thread)
        self._thread.started.connect(self._runner.run)
        self._runner.progress.connect(self.progress)
        self._runner.finished.connect(self._done_ok)
        self._runner.failed.connect(self._done_failed)

    def start(self):
        self._thread.start()
        return self

    def cancel(self):
        self._cancel.set()

    def wait(self, ms=60_000):
        return self._thread.wait(ms)

    def is_running(self):
        return self._thread.isRunning()

    def _stop_thread(self):
        self._thread.quit()
        self._thread.wait()

    def _done_ok(self, result):
        self._stop_thread()
        self.finished.emit(result)

    def _done_failed(self, message):
        self._stop_thread()
        self.failed.emit(message)
