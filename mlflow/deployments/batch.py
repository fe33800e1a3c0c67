"""Batch prediction: many inputs to one endpoint, each answered by a result or by an error.

``client.predict_batch(endpoint, inputs, concurrency=16)`` (blocking) and
``await client.apredict_batch(endpoint, inputs, concurrency=16)`` exist on every deployment
client. They return one :class:`BatchResult` per input, in input order::

    results = client.predict_batch("chat", [{"messages": [...]}, ...], concurrency=16)
    answers = [r.result for r in results if r.ok]
    failures = {r.index: r.error for r in results if not r.ok}

- One failure never sinks the batch: an input whose prediction raises gets a ``BatchResult``
  with that exception as ``error`` (after the client's own retries).
- At most ``concurrency`` predictions are in flight, and each request still goes through the
  endpoint's rate limit (advertised, or set with ``client.set_limit``) and any active
  ``mlflow.utils.throttling.throttle`` block.
- Cancelling the batch (``task.cancel()``, Ctrl-C in blocking code) cancels the predictions in
  flight, waits for them to unwind (their rate-limit slots are given back), and re-raises.
- ``progress=None`` shows a tqdm bar when stderr is a terminal and tqdm is installed; ``True``
  asks for one whenever tqdm is installed, ``False`` never shows one.
- ``on_result(result)`` is called as each input finishes (in completion order, on the event
  loop running the batch); an exception it raises stops the batch.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from mlflow.exceptions import INVALID_PARAMETER_VALUE, MlflowException

__all__ = ["DEFAULT_CONCURRENCY", "BatchResult", "describe_error", "run_batch"]

_logger = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 16


@dataclass(frozen=True, slots=True)
class BatchResult:
    """The outcome of one input of a batch: exactly one of ``result`` and ``error`` is set.

    Attributes:
        index: The input's position in the batch (0-based).
        result: The prediction (what ``predict`` returns), or None if it failed.
        error: The exception the prediction raised, or None if it succeeded.
    """

    index: int
    result: Any = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        """True if the prediction succeeded."""
        return self.error is None

    def unwrap(self) -> Any:
        """The result, or raise the error."""
        if self.error is not None:
            raise self.error
        return self.result

    def to_dict(self) -> dict[str, Any]:
        """``{"index": i, "result": ...}`` or ``{"index": i, "error": {...}}`` (JSON-ready for
        a JSON result; see :func:`describe_error`)."""
        if self.error is None:
            return {"index": self.index, "result": self.result}
        return {"index": self.index, "error": describe_error(self.error)}


def describe_error(error: BaseException) -> dict[str, Any]:
    """``{"type", "message"}``, plus ``error_code`` (MlflowException) or ``status_code`` (HTTP
    error) when known. The message is one line: exception texts here carry no secrets."""
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    described: dict[str, Any] = {
        "type": type(error).__name__,
        "message": " ".join(str(message).split()),
    }
    error_code = getattr(error, "error_code", None)
    if isinstance(error_code, str):
        described["error_code"] = error_code
    status = getattr(getattr(error, "response", None), "status_code", None)
    if isinstance(status, int):
        described["status_code"] = status
    return described


def check_concurrency(concurrency: Any) -> int:
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise MlflowException(
            f"Invalid concurrency={concurrency!r}: use a positive whole number, the most "
            f"predictions in flight at once (default {DEFAULT_CONCURRENCY}).",
            error_code=INVALID_PARAMETER_VALUE,
        )
    return concurrency


def _open_bar(total: int | None, progress: bool | None, desc: str, initial: int = 0) -> Any:
    if progress is False:
        return None
    if progress is None:
        stream = sys.stderr
        if stream is None or not getattr(stream, "isatty", lambda: False)():
            return None
    try:  # tqdm is optional
        from tqdm import tqdm
    except ImportError:
        if progress:
            _logger.info("No progress bar for the batch: install tqdm to get one.")
        return None
    return tqdm(total=total, desc=desc, unit="pred", dynamic_ncols=True, initial=initial)


async def run_batch(
    predict: Callable[[Any], Awaitable[Any]],
    inputs: Iterable[Any],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    gate: Any = None,
    progress: bool | None = None,
    on_result: Callable[[BatchResult], Any] | None = None,
    desc: str = "predict",
) -> list[BatchResult]:
    """Run ``predict(input)`` for every input, at most ``concurrency`` at a time.

    ``gate``, if given, is an admission whose slot each input takes before ``predict`` runs
    (for clients whose predict path does not apply rate limits itself).
    """
    concurrency = check_concurrency(concurrency)
    if progress is not None and not isinstance(progress, bool):
        raise MlflowException(
            f"Invalid progress={progress!r}: use True, False, or None (a bar on a terminal).",
            error_code=INVALID_PARAMETER_VALUE,
        )
    total = len(inputs) if hasattr(inputs, "__len__") else None  # type: ignore[arg-type]
    # One iterator shared by the workers: each takes the next input when it is free, so a
    # generator of inputs is consumed lazily.
    items = enumerate(inputs)
    done: list[BatchResult] = []
    failures = 0
    bar = _open_bar(total, progress, desc)

    async def one(index: int, item: Any) -> BatchResult:
        try:
            if gate is not None:
                await gate.acquire()
            return BatchResult(index, await predict(item))
        except Exception as e:  # the batch goes on; CancelledError and the like do not stop here
            _logger.debug("Batch input %d failed: %r", index, e)
            return BatchResult(index, error=e)

    async def worker() -> None:
        nonlocal failures
        for index, item in items:
            result = await one(index, item)
            done.append(result)
            if on_result is not None:
                on_result(result)
            if bar is not None:
                if result.error is not None:
                    failures += 1
                    bar.set_postfix(errors=failures, refresh=False)
                bar.update(1)

    count = concurrency if total is None else min(concurrency, total)
    tasks = [asyncio.ensure_future(worker()) for _ in range(count)]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        # Cancelled, or on_result / the inputs raised: stop every prediction in flight and let
        # it unwind (its rate-limit slot is given back) before reporting.
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    finally:
        if bar is not None:
            bar.close()
    done.sort(key=lambda r: r.index)
    return done
