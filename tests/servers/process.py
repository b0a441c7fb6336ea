"""What the real servers the fixtures start share: a child process in its own directory,
stopped (politely, then by force) and cleaned up when the fixture ends."""

from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path
from typing import Self


class ServerProcess:
    """A server run as ``self._process`` with its files under ``self.directory``.

    Subclasses start it in ``start()`` (returning ``self``); ``STOP_SIGNAL`` and
    ``STOP_TIMEOUT`` say how it is asked to stop before it is killed.
    """

    STOP_SIGNAL = signal.SIGTERM
    STOP_TIMEOUT = 10.0
    directory: Path
    _process: subprocess.Popen | None

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(self.STOP_SIGNAL)
            try:
                self._process.wait(timeout=self.STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
