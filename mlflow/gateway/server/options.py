"""Everything an operator can set for one gateway server process, from flags or environment."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ServerOptions:
    config_path: str | None = None
    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = 2  # MLflow's default
    # Request handling
    max_body_bytes: int = 10 * 1024 * 1024
    retry_budget_seconds: float = 10.0  # default upstream retry budget per request
    reload_interval: float = 1.0  # seconds between config-file checks (0 disables hot reload)
    grace_period: float = 30.0  # seconds in-flight requests get after SIGTERM
    # Traffic routes: a destination failing this many times in a row is skipped for a while
    fallback_failure_threshold: int = 3
    fallback_cooldown_seconds: float = 5.0
    # Seconds per upstream attempt (connect, then between bytes); None: the providers' default
    upstream_timeout: float | None = None
    # Security middleware (seed 002)
    allowed_hosts: tuple[str, ...] | None = None  # None: the seed's defaults
    cors_allowed_origins: tuple[str, ...] | None = None
    x_frame_options: str = "SAMEORIGIN"
    disable_security_middleware: bool = False
    # Caller authentication (off unless keys are given)
    api_keys_env: str | None = None  # name of an environment variable holding keys
    api_keys_file: str | None = None
    ssrf_guard: bool = False
    # Health, metrics and access log (security engineer)
    readiness_timeout: float = 2.0  # seconds each readiness check may take
    access_log: bool = True  # one line per request on the "mlflow.gateway.access" logger
    # Rate limits
    rate_limits_storage_uri: str | None = None  # MLFLOW_GATEWAY_RATE_LIMITS_STORAGE_URI
    rate_limit_fail_open: bool = True
    trust_forwarded_for: bool = False
    # Metrics
    metrics: bool = True
    # Database-backed endpoints
    backend_store_uri: str | None = None
    extra: dict = field(default_factory=dict)
