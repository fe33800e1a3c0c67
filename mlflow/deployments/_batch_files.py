"""JSON-lines files of ``mlflow deployments predict-batch``: inputs, and resumable outputs.

The output file is appended to, one line per finished input, flushed at once, so a killed run
loses nothing it finished. Each line names its input's index, a hash of the input
(``input_sha256``) and the endpoint (or deployment) it went to, so a rerun resumes only the run
it belongs to: it skips the indices the file holds, refuses a file made from other inputs or for
another endpoint, and drops a last line cut short by a kill (its input runs again).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

from mlflow.deployments.batch import BatchResult, describe_error
from mlflow.exceptions import INVALID_PARAMETER_VALUE, MlflowException


def _bad_input(message: str) -> MlflowException:
    return MlflowException(message, error_code=INVALID_PARAMETER_VALUE)


def read_inputs(path: str) -> list[Any]:
    """The inputs of a JSON-lines file (``-``: stdin), one per non-blank line; the index of an
    input is its position among those lines."""
    try:
        if path == "-":
            lines = sys.stdin.read().splitlines()
        else:
            with open(path, encoding="utf-8") as f:
                lines = f.read().splitlines()
    except OSError as e:
        raise _bad_input(f"Cannot read the input file {path!r}: {e}") from e
    inputs = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            inputs.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise _bad_input(
                f"Line {number} of the input file {path!r} is not valid JSON ({e}): the input "
                "must hold one JSON value per line (JSON lines)."
            ) from e
    return inputs


def input_hash(value: Any) -> str:
    """A short, stable hash of one input (its JSON with sorted keys)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _record_of(line: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if (
        isinstance(record, dict)
        and isinstance(record.get("index"), int)
        and not isinstance(record.get("index"), bool)
        and ("result" in record) != ("error" in record)
    ):
        return record
    return None


class OutputFile:
    """What an output file already holds; :meth:`prepare` makes it ready to append to."""

    def __init__(self, path: str, target: str | None = None) -> None:
        self.path = path
        self.target = target  # the endpoint (or deployment) this run predicts with
        self.done: set[int] = set()
        self.errors: set[int] = set()
        self.dropped_tail = False
        self.unreadable_lines = 0

    def prepare(
        self, total: int, retry_errors: bool, hashes: list[str] | None = None
    ) -> None:
        """Read the file; drop a cut-short last line; with ``retry_errors``, drop the error
        records too (their inputs run again). ``hashes`` (one per input) and ``target`` must
        match what each record holds: a file of another run is refused, nothing is sent."""
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return
        except OSError as e:
            raise _bad_input(f"Cannot read the output file {self.path!r}: {e}") from e
        complete = data[: data.rfind(b"\n") + 1]
        self.dropped_tail = len(complete) != len(data)
        kept: list[bytes] = []
        for line in complete.splitlines(keepends=True):
            if not line.strip():
                continue
            record = _record_of(line)
            if record is None:
                self.unreadable_lines += 1
                kept.append(line)
                continue
            index = record["index"]
            if index < 0 or index >= total:
                raise _bad_input(
                    f"The output file {self.path!r} holds a result for input {index}, but the "
                    f"input file has {total} inputs: is it the output of another input file? "
                    "Pass a new output path."
                )
            self._check_same_run(record, hashes)
            if "error" in record:
                if retry_errors:
                    continue
                self.errors.add(index)
            else:
                self.errors.discard(index)
            self.done.add(index)
            kept.append(line)
        if retry_errors or self.dropped_tail:
            self._rewrite(b"".join(kept))

    def _check_same_run(self, record: dict[str, Any], hashes: list[str] | None) -> None:
        index = record["index"]
        stored = record.get("input_sha256")
        if hashes is not None and stored is not None and stored != hashes[index]:
            raise _bad_input(
                f"The output file {self.path!r} holds a result for input {index} made from a "
                f"different input (input_sha256 {str(stored)[:16]!r}, this input's is "
                f"{hashes[index]!r}): it is the output of another input file. Rerun with the "
                "same input file to resume, or pass a new output path."
            )
        target = record.get("endpoint")
        if self.target is not None and target is not None and target != self.target:
            raise _bad_input(
                f"The output file {self.path!r} holds results predicted with {str(target)[:200]!r}"
                f", not {self.target!r}: rerun with the same endpoint to resume, or pass a new "
                "output path."
            )

    def _rewrite(self, data: bytes) -> None:
        # Atomically: a kill during the rewrite leaves the old file, never half of one.
        folder = os.path.dirname(os.path.abspath(self.path))
        fd, temp = tempfile.mkstemp(dir=folder, prefix=".predict-batch-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temp, self.path)
        except BaseException:
            try:
                os.unlink(temp)
            except OSError:
                pass
            raise

    @contextlib.contextmanager
    def appending(
        self,
        original_index: Callable[[int], int],
        dumps: Callable[[Any], str],
        hashes: list[str] | None = None,
    ) -> Iterator[Callable[[BatchResult], None]]:
        """An ``on_result`` callback that appends each result as a line, flushed at once."""
        with open(self.path, "a", encoding="utf-8") as f:

            def write(result: BatchResult) -> None:
                index = original_index(result.index)
                record: dict[str, Any] = {"index": index}
                if hashes is not None:
                    record["input_sha256"] = hashes[index]
                if self.target is not None:
                    record["endpoint"] = self.target
                if result.error is None:
                    record["result"] = result.result
                else:
                    record["error"] = describe_error(result.error)
                    self.errors.add(index)
                # One write of the whole line, then flush: a kill cuts at most this line short.
                f.write(dumps(record) + "\n")
                f.flush()
                self.done.add(index)

            yield write
