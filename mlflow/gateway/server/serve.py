"""Running the server: one process, or a supervisor over N worker processes sharing one socket.

The supervisor binds the listening socket once and starts N workers that inherit it (the kernel
spreads accepted connections among them). It forwards SIGTERM/SIGINT to every worker and
restarts a worker that dies on its own. Each worker drains on SIGTERM: it stops accepting, marks
the state draining (readiness answers 503), lets in-flight requests and streams finish within
``grace_period``, then closes its upstream pools."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable

from aiohttp import web

from mlflow.gateway.server.options import ServerOptions
from mlflow.gateway.server.state import STATE_KEY

_logger = logging.getLogger("mlflow.gateway.server")

#: Environment variable carrying the options (JSON) from the supervisor to its workers.
OPTIONS_ENV = "_MLFLOW_GATEWAY_SERVER_OPTIONS"
#: MLflow's switches for resolving ``$VAR`` and file API keys in a gateway config.
RESOLVE_ENV = (
    "MLFLOW_GATEWAY_RESOLVE_API_KEY_FROM_ENV",
    "MLFLOW_GATEWAY_RESOLVE_API_KEY_FROM_FILE",
)


def enable_key_resolution() -> None:
    # As `mlflow gateway start` does: a YAML config may name keys by $VAR or file path.
    for name in RESOLVE_ENV:
        os.environ[name] = "true"


def options_to_json(options: ServerOptions) -> str:
    return json.dumps(dataclasses.asdict(options))


def options_from_json(text: str) -> ServerOptions:
    data = json.loads(text)
    for name in ("allowed_hosts", "cors_allowed_origins"):
        if data.get(name) is not None:
            data[name] = tuple(data[name])
    return ServerOptions(**data)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop when it is installed, else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


async def serve(
    options: ServerOptions,
    sock: socket.socket | None = None,
    *,
    app: web.Application | None = None,
    on_ready: Callable[[int], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT (or ``stop``), then drain gracefully."""
    if app is None:
        from mlflow.gateway.server.app import create_app

        app = create_app(options)
    runner = web.AppRunner(
        app,
        handler_cancellation=True,  # a caller that leaves cancels its upstream request
        shutdown_timeout=options.grace_period,
        access_log=None,  # the access_log layer writes one line per request
    )
    await runner.setup()
    if sock is not None:
        site: web.BaseSite = web.SockSite(runner, sock)
    else:
        site = web.TCPSite(runner, options.host, options.port, reuse_address=True, backlog=2048)
    await site.start()
    port = runner.addresses[0][1] if runner.addresses else options.port
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    if on_ready is not None:
        on_ready(port)
    try:
        await stop.wait()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        state = app[STATE_KEY]
        state.draining = True
        _logger.info("Draining: %d request(s) in flight", state.in_flight)
        # Stops accepting, waits for in-flight handlers (streams included) up to the grace
        # period, then runs cleanup (the upstream client is closed last).
        await runner.cleanup()


def run_worker(options: ServerOptions, sock: socket.socket | None = None) -> None:
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        runner.run(serve(options, sock))


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


class Supervisor:
    """N worker processes serving one inherited socket."""

    def __init__(self, options: ServerOptions, sock: socket.socket) -> None:
        self.options = options
        self.sock = sock
        self.workers: list[subprocess.Popen] = []
        self.stopping = False
        self.quick_deaths = 0  # workers in a row that died within 2 s of starting
        self.started: dict[int, float] = {}

    def _spawn(self) -> subprocess.Popen:
        env = {**os.environ, OPTIONS_ENV: options_to_json(self.options)}
        fd = self.sock.fileno()
        worker = subprocess.Popen(
            [sys.executable, "-m", "mlflow.gateway.server.serve", "--fd", str(fd)],
            env=env,
            pass_fds=(fd,),
        )
        self.started[worker.pid] = time.monotonic()
        return worker

    def _forward(self, signum, frame) -> None:
        self.stopping = True
        # The workers stop accepting on their copies; ours must close too, or new connections
        # would wait in the backlog of a socket nobody serves.
        self.sock.close()
        for worker in self.workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._forward)
        signal.signal(signal.SIGINT, self._forward)
        self.workers = [self._spawn() for _ in range(self.options.workers)]
        deadline = None
        while True:
            alive = [w for w in self.workers if w.poll() is None]
            if self.stopping:
                if not alive:
                    break
                deadline = deadline or time.monotonic() + self.options.grace_period + 10
                if time.monotonic() > deadline:
                    for worker in alive:
                        worker.kill()
            else:
                for index, worker in enumerate(self.workers):
                    if worker.poll() is None:
                        continue
                    _logger.error("Gateway worker %d exited with %s; starting a new one",
                                  worker.pid, worker.returncode)
                    lived = time.monotonic() - self.started.get(worker.pid, 0.0)
                    self.quick_deaths = self.quick_deaths + 1 if lived < 2.0 else 0
                    if self.quick_deaths >= 5:
                        _logger.error("Gateway workers keep exiting at start-up; stopping")
                        self._forward(signal.SIGTERM, None)
                        break
                    time.sleep(min(5.0, 0.2 * self.quick_deaths))
                    self.workers[index] = self._spawn()
            time.sleep(0.1)
        self.sock.close()  # idempotent
        return max((w.returncode or 0) for w in self.workers) if self.workers else 0


class _SecondCachedFormatter(logging.Formatter):
    """``logging.Formatter``'s default time format, with the local-time conversion and strftime
    done once per second instead of once per line (the access log writes a line per request)."""

    _second: int | None = None
    _text = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        second = int(record.created)
        if second != self._second:
            self._text = time.strftime(self.default_time_format, self.converter(second))
            self._second = second
        return self.default_msec_format % (self._text, record.msecs)


def _configure_logging() -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
        for handler in logging.getLogger().handlers:
            handler.setFormatter(_SecondCachedFormatter("%(asctime)s %(levelname)s %(message)s"))
    logging.getLogger("mlflow.gateway.server").setLevel(logging.INFO)


def run(options: ServerOptions) -> int:
    """Serve ``options`` in this process (1 worker) or under a supervisor (N workers)."""
    enable_key_resolution()
    _configure_logging()
    where = f"http://{options.host}:{options.port}"
    if options.workers <= 1:
        _logger.info("MLflow AI gateway serving %s (1 worker, pid %d)", where, os.getpid())
        run_worker(options)
        return 0
    # Build the app once here, so a configuration the workers cannot serve fails now, with its
    # message, instead of in a restart loop.
    from mlflow.gateway.server.app import create_app

    create_app(options)
    sock = bind(options.host, options.port)
    _logger.info("MLflow AI gateway serving %s (%d workers, supervisor pid %d)", where,
                 options.workers, os.getpid())
    return Supervisor(options, sock).run()


def _worker_main(argv: list[str]) -> None:
    fd = int(argv[argv.index("--fd") + 1])
    options = options_from_json(os.environ[OPTIONS_ENV])
    _configure_logging()
    sock = socket.socket(fileno=fd)
    run_worker(options, sock)


if __name__ == "__main__":
    _worker_main(sys.argv)
