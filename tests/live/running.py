"""A `skyprophet live stream` process on a live set-up, and waiting for it to take everything written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.live.conftest import Live

CLI = str(Path(sys.executable).with_name("skyprophet"))


class Running:
    """The processor as its own process (stderr kept in a file, so a chatty run never blocks)."""

    def __init__(self, live: Live, log_path: Path, *args: str):
        self.live = live
        self.log_path = log_path
        env = {**os.environ, "SKYPROPHET_DATA_DIR": str(live.settings.data_dir), "REDIS_URL": live.settings.redis_url,
               "SKYPROPHET_STREAM_NAME": live.settings.stream_name}
        self._err = open(log_path, "ab")
        self.proc = subprocess.Popen([CLI, "live", "stream", *args], env=env, stderr=self._err, stdin=subprocess.DEVNULL)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def started(self, timeout_s: float = 300) -> None:
        """Wait until the state is rebuilt (the processor says where it is)."""
        deadline = time.monotonic() + timeout_s
        while "processor at" not in self.log():
            assert self.proc.poll() is None, f"the processor exited: {self.log()[-3000:]}"
            assert time.monotonic() < deadline, "the processor did not start"
            time.sleep(0.05)

    def drained(self, timeout_s: float = 120) -> None:
        """Wait until every entry written has been read and acknowledged; fails at once if the
        processor exits."""
        s = self.live.stream
        deadline = time.monotonic() + timeout_s
        while True:
            assert self.proc.poll() is None, f"the processor exited ({self.proc.returncode}): {self.log()[-3000:]}"
            if s.lag() == 0 and s.r.xpending(s.name, s.group)["pending"] == 0:
                return
            assert time.monotonic() < deadline, "the processor did not take everything written"
            time.sleep(0.02)

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self) -> str:
        """SIGTERM, a clean exit, and its log."""
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=120)
        self._err.close()
        assert self.proc.returncode == 0, self.log()[-3000:]
        return self.log()

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=60)
        self._err.close()

    def __enter__(self) -> Running:
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.proc.poll() is None:
            self.kill()


def write(live: Live, fields: dict[str, Any]) -> str:
    """XADD one entry as a producer would; its stream id."""
    sid = live.stream.r.xadd(live.stream.name, fields)
    return sid.decode() if isinstance(sid, bytes) else str(sid)
