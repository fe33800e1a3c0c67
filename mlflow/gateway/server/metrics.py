"""Prometheus metrics at ``GET /metrics`` (prometheus-client's text format).

Per ``endpoint`` and ``provider`` (the names the routes put in ``RequestInfo``; empty for requests
that never reached an endpoint, such as 404s and refusals before routing):

- ``mlflow_gateway_requests_total{endpoint,provider,status}``
- ``mlflow_gateway_request_duration_seconds`` (histogram, whole request, streams included)
- ``mlflow_gateway_time_to_first_byte_seconds`` (histogram, streams only)
- ``mlflow_gateway_upstream_attempts_total`` and ``mlflow_gateway_upstream_retries_total``
- ``mlflow_gateway_rate_limit_refusals_total``
- ``mlflow_gateway_in_flight_requests`` (gauge; a request counts under its endpoint as soon as
  the route names it)

Labels only ever hold endpoint and provider names from the configuration and status codes:
never a key, a header, a path or a body.

Several workers: the parent process calls :func:`prepare_multiprocess_dir` BEFORE it starts the
workers (it sets ``PROMETHEUS_MULTIPROC_DIR`` to a fresh temporary directory, which the workers
inherit); each worker's ``/metrics`` then reports the sum over all workers. When a worker exits,
the parent calls :func:`mark_worker_dead` with its pid, and :func:`cleanup_multiprocess_dir` at
the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import time

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import GaugeMetricFamily

from mlflow.gateway.server.access_log import status_of
from mlflow.gateway.server.context import REQUEST_INFO_KEY, RequestInfo
from mlflow.gateway.server.options import ServerOptions

METRICS_PATH = "/metrics"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

_LABELS = ("endpoint", "provider")
# Gateway latencies run from sub-millisecond (cached errors) to minutes (long generations).
_LATENCY_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0
)
_TTFB_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

METRICS_KEY = web.AppKey("mlflow_gateway_metrics", object)
#: Multi-process mode: seconds between a worker's writes of its in-flight counts.
PUBLISH_INTERVAL = 1.0


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or os.environ.get(MULTIPROC_ENV.lower())


def prepare_multiprocess_dir() -> str:
    """For the parent of several workers, before they start: a fresh directory for the workers'
    metric files, exported as ``PROMETHEUS_MULTIPROC_DIR``. Returns its path."""
    path = tempfile.mkdtemp(prefix="mlflow-gateway-metrics-")
    os.environ[MULTIPROC_ENV] = path
    return path


def mark_worker_dead(pid: int) -> None:
    """For the parent, when a worker exits: drop its live gauge (in-flight) files."""
    path = multiprocess_dir()
    if path:
        multiprocess.mark_process_dead(pid, path)


def cleanup_multiprocess_dir(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)
    if os.environ.get(MULTIPROC_ENV) == path:
        del os.environ[MULTIPROC_ENV]


class GatewayMetrics:
    """The gateway's metric families, with label children cached per (endpoint, provider)."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.requests = Counter(
            "mlflow_gateway_requests",
            "Requests answered, by endpoint, provider and HTTP status.",
            (*_LABELS, "status"),
            registry=registry,
        )
        self.duration = Histogram(
            "mlflow_gateway_request_duration_seconds",
            "Time to answer a request in full (to the end of a stream).",
            _LABELS,
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.first_byte = Histogram(
            "mlflow_gateway_time_to_first_byte_seconds",
            "Streams: time until the first chunk was sent to the caller.",
            _LABELS,
            buckets=_TTFB_BUCKETS,
            registry=registry,
        )
        self.attempts = Counter(
            "mlflow_gateway_upstream_attempts",
            "Requests sent to providers (first attempts and retries).",
            _LABELS,
            registry=registry,
        )
        self.retries = Counter(
            "mlflow_gateway_upstream_retries",
            "Upstream retries (attempts after the first).",
            _LABELS,
            registry=registry,
        )
        self.refusals = Counter(
            "mlflow_gateway_rate_limit_refusals",
            "Requests refused by the gateway's own rate limits (429).",
            _LABELS,
            registry=registry,
        )
        self._children: dict[tuple[str, str], tuple] = {}
        self._status_children: dict[tuple[str, str, int], object] = {}

    def _for(self, endpoint: str, provider: str) -> tuple:
        key = (endpoint, provider)
        children = self._children.get(key)
        if children is None:
            children = (
                self.duration.labels(endpoint, provider),
                self.first_byte.labels(endpoint, provider),
                self.attempts.labels(endpoint, provider),
                self.retries.labels(endpoint, provider),
                self.refusals.labels(endpoint, provider),
            )
            self._children[key] = children
        return children

    def record(self, info: RequestInfo, status: int, seconds: float) -> None:
        endpoint, provider = info.endpoint or "", info.provider or ""
        duration, first_byte, attempts, retries, refusals = self._for(endpoint, provider)
        key = (endpoint, provider, status)
        counter = self._status_children.get(key)
        if counter is None:
            counter = self._status_children[key] = self.requests.labels(
                endpoint, provider, str(status)
            )
        counter.inc()
        duration.observe(seconds)
        if info.first_byte_seconds is not None:
            first_byte.observe(info.first_byte_seconds)
        if info.upstream_attempts:
            attempts.inc(info.upstream_attempts)
        if info.upstream_retries:
            retries.inc(info.upstream_retries)
        if info.rate_limited:
            refusals.inc()


class InFlight:
    """The requests being served by this process, counted per (endpoint, provider) when asked.

    A request costs one set insertion and one removal; the count reads each live RequestInfo's
    current endpoint, so a request moves to its endpoint as soon as the route names it. Several
    workers: each worker writes its own counts into the multi-process gauge (livesum) at every
    scrape it answers and every ``refresh_interval`` seconds, so other workers' counts are at
    most that old."""

    def __init__(self, gauge: Gauge | None) -> None:
        # RequestInfo is an unhashable dataclass: held by identity.
        self.live: dict[int, RequestInfo] = {}
        self._gauge = gauge
        self._published: set[tuple[str, str]] = set()

    def counts(self) -> dict[tuple[str, str], int]:
        """Live requests per (endpoint, provider), with 0 for label sets seen before."""
        counts = dict.fromkeys(self._published, 0)
        for info in list(self.live.values()):
            key = (info.endpoint or "", info.provider or "")
            counts[key] = counts.get(key, 0) + 1
        self._published.update(counts)
        return counts

    def publish(self) -> None:
        """Multi-process mode: write this worker's counts into the livesum gauge."""
        for key, count in self.counts().items():
            self._gauge.labels(*key).set(count)


class _InFlightCollector:
    """Single-process mode: the in-flight gauge, computed at scrape time."""

    def __init__(self, in_flight: InFlight) -> None:
        self._in_flight = in_flight

    def collect(self):
        family = GaugeMetricFamily(
            "mlflow_gateway_in_flight_requests", "Requests being served now.", labels=_LABELS
        )
        for (endpoint, provider), count in sorted(self._in_flight.counts().items()):
            family.add_metric([endpoint, provider], count)
        yield family


def _build_middleware(metrics: GatewayMetrics, in_flight: InFlight):
    live = in_flight.live
    record = metrics.record

    @web.middleware
    async def metrics_middleware(request: web.Request, handler):
        info = request.get(REQUEST_INFO_KEY)
        if info is None:
            info = RequestInfo()
            request[REQUEST_INFO_KEY] = info
        key = id(info)
        live[key] = info
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except BaseException as e:
            status = status_of(e)
            raise
        finally:
            del live[key]
            record(info, status, time.perf_counter() - started)

    return metrics_middleware


def _build_handler(registry: CollectorRegistry | None, in_flight: InFlight):
    async def scrape(request: web.Request) -> web.Response:
        if registry is None:  # several workers: sum every worker's files at each scrape
            in_flight.publish()
            target = CollectorRegistry()
            multiprocess.MultiProcessCollector(target, path=multiprocess_dir())
        else:
            target = registry
        body = generate_latest(target)
        response = web.Response(body=body)
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    return scrape


def _publisher(in_flight: InFlight, interval: float):
    async def publish_periodically(app: web.Application):
        async def loop() -> None:
            while True:
                in_flight.publish()
                await asyncio.sleep(interval)

        task = asyncio.get_running_loop().create_task(loop())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        in_flight.live.clear()
        in_flight.publish()

    return publish_periodically


def install(app: web.Application, options: ServerOptions) -> None:
    """Add ``GET /metrics`` and the middleware that records every request (if options.metrics)."""
    if not options.metrics:
        return
    if multiprocess_dir():
        # prometheus-client picks its value store when first imported; the directory may have
        # been set after that (by our parent): pick again now, before creating any metric.
        if values.ValueClass is values.MutexValue:
            values.ValueClass = values.get_value_class()
        registry = None
        metrics = GatewayMetrics(registry=None)
        gauge = Gauge(
            "mlflow_gateway_in_flight_requests",
            "Requests being served now.",
            _LABELS,
            registry=None,
            multiprocess_mode="livesum",
        )
        in_flight = InFlight(gauge)
        app.cleanup_ctx.append(_publisher(in_flight, PUBLISH_INTERVAL))
    else:
        registry = CollectorRegistry()
        metrics = GatewayMetrics(registry=registry)
        in_flight = InFlight(None)
        registry.register(_InFlightCollector(in_flight))
    app[METRICS_KEY] = metrics
    # Record every request, refusals by security, auth and rate limits included: sit just inside
    # the access log (outside those layers), wherever the app factory calls this install.
    position = len(app.middlewares)
    for index, middleware in enumerate(app.middlewares):
        if getattr(middleware, "__name__", "") == "access_log_middleware":
            position = index + 1
    app.middlewares.insert(position, _build_middleware(metrics, in_flight))
    app.router.add_get(METRICS_PATH, _build_handler(registry, in_flight))
