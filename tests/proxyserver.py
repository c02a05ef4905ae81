"""A real proxy on 127.0.0.1 for tests: pproxy (PyPI) as HTTP or SOCKS5 (issue #20).

``ProxyServer("socks5", auth="u:p")`` starts ``pproxy -l socks5://127.0.0.1:PORT#u:p
-v`` and waits for its port; ``log()`` is what it printed (one line per tunnel,
naming the target host and port), so tests see which requests went through it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class ProxyServer:
    """A pproxy subprocess listening on 127.0.0.1 (``kind``: http or socks5)."""

    def __init__(self, kind: str, *, auth: str | None = None) -> None:
        self.kind = kind
        self.port = free_port()
        self.url = f"{kind}://127.0.0.1:{self.port}"
        self._listen = self.url + (f"#{auth}" if auth else "")
        self._log = Path(os.environ.get("TMPDIR", "/tmp")) / f"pproxy-{self.port}.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ProxyServer:
        exe = Path(sys.executable).with_name("pproxy")
        with self._log.open("wb") as out:
            self._proc = subprocess.Popen(
                [str(exe), "-l", self._listen, "-v"], stdout=out, stderr=out
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.__exit__(None, None, None)
        raise RuntimeError(f"pproxy did not start: {self.log()}")

    def log(self) -> str:
        time.sleep(0.1)  # pproxy prints the tunnel line as it opens it
        return self._log.read_text(errors="replace")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(5)
        self._log.unlink(missing_ok=True)
