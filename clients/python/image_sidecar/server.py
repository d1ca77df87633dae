"""One long-lived ``image-sidecar serve --stdio`` process, shared by every thread of the caller.

Requests are JSON lines ``{"id", "method", "params"}``; responses ``{"id", "result"}`` or
``{"id", "error": {"code", "message"}}`` may come back in any order, so a reader thread hands each
response to the thread waiting for its id. Several threads may have requests in flight at once.
"""
from __future__ import annotations

import collections
import itertools
import json
import os
import re
import subprocess
import threading
import time
from typing import Any, Deque, Dict, Optional, Sequence

from .errors import ImageSidecarError


# Every response starts with its request's id (src/server/responses.ts); ours are integers.
_LEADING_ID = re.compile(rb'\{"id":(\d+),')


def _json_default(o: Any) -> Any:
    """Values pipelines commonly hold besides plain JSON: numpy arrays/scalars, paths, datetimes."""
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, os.PathLike):
        return os.fspath(o)
    if isinstance(o, (set, frozenset)):
        return list(o)
    if hasattr(o, "isoformat"):
        return o.isoformat()
    raise TypeError("object of type %s is not JSON serializable" % type(o).__name__)


def encode_json(value: Any) -> str:
    """Compact JSON; NaN/Infinity are refused (they are not JSON, and a sidecar must stay readable),
    and so is data nested too deep to encode (TOO_DEEP, as the library says of what it can encode)."""
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False, default=_json_default)
    except ValueError as e:
        raise ImageSidecarError("data cannot be stored as JSON: %s" % e, code="UNREPRESENTABLE") from None
    except RecursionError:
        # Nested deeper than Python's own encoder goes (~1000): far beyond the library's limit (512).
        raise ImageSidecarError("data cannot be stored as JSON: nesting deeper than Python's json encoder goes", code="TOO_DEEP") from None
    except TypeError as e:
        raise ImageSidecarError("data cannot be stored as JSON: %s" % e, code="USAGE") from None


def error_from_response(body: Any) -> ImageSidecarError:
    if not isinstance(body, dict):
        return ImageSidecarError("malformed error response: %r" % (body,), code="BAD_OUTPUT")
    return ImageSidecarError(
        str(body.get("message", "unknown error")),
        code=str(body.get("code", "INTERNAL")),
        path=body.get("path"),
        details=body.get("details"),
    )


# How long a retired server stays idle before its input is ended (a thread that took it just before may still send).
_RETIRE_QUIET_S = 0.5
# The CLI's fatal error line: `image-sidecar: error [CODE]: message`.
_START_ERROR = re.compile(r"^image-sidecar: error \[([A-Z_]+)\]: (.*)$", re.M)


class _Slot:
    __slots__ = ("event", "response")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.response: Optional[Dict[str, Any]] = None


class ServerConnection:
    """A running ``serve --stdio`` process. Thread-safe; close() when done."""

    def __init__(self, command: Sequence[str], default_timeout: Optional[float] = None, extra_args: Sequence[str] = ()) -> None:
        self.default_timeout = default_timeout
        try:
            self._proc = subprocess.Popen(
                list(command) + ["serve", "--stdio"] + list(extra_args),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except OSError as e:
            raise ImageSidecarError("could not start %s: %s" % (command[0], e), code="IO") from e
        self._ids = itertools.count(1)
        self._pending: Dict[int, _Slot] = {}
        # Two locks, so that the reader thread never waits for a writer: a writer blocked on a full
        # pipe must not stop responses from being read (the server would block on its full stdout).
        self._state_lock = threading.Lock()  # _pending, _closed, _exit_reason
        self._write_lock = threading.Lock()  # stdin
        self._closed = False
        self._exit_reason = ""
        self._stderr_tail: Deque[str] = collections.deque(maxlen=50)
        self._reader = threading.Thread(target=self._read_responses, name="image-sidecar-server-reader", daemon=True)
        self._stderr_reader = threading.Thread(target=self._read_stderr, name="image-sidecar-server-stderr", daemon=True)
        self._reader.start()
        self._stderr_reader.start()

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def alive(self) -> bool:
        return not self._closed and self._proc.poll() is None

    def stderr_tail(self) -> str:
        return "".join(self._stderr_tail)

    def request(self, method: str, params: Optional[Dict[str, Any]] = None, timeout: Optional[float] = None) -> Any:
        """Send one request and wait for its result; raise ImageSidecarError with the server's code."""
        body = encode_json(params or {})
        slot = _Slot()
        with self._state_lock:
            if self._closed:
                raise self._exited_error()
            rid = next(self._ids)
            self._pending[rid] = slot
        data = ('{"id":%d,"method":%s,"params":%s}\n' % (rid, json.dumps(method), body)).encode("utf-8")
        try:
            with self._write_lock:
                stdin = self._proc.stdin
                assert stdin is not None
                stdin.write(data)
                stdin.flush()
        except (OSError, ValueError):
            with self._state_lock:
                self._pending.pop(rid, None)
            raise self._exited_error() from None
        wait = self.default_timeout if timeout is None else timeout
        if not slot.event.wait(wait):
            with self._state_lock:
                self._pending.pop(rid, None)
            raise ImageSidecarError("no answer to %s within %s s (the server may still finish it: a save may land)" % (method, wait), code="TIMEOUT")
        resp = slot.response
        if resp is None:
            raise self._exited_error()
        if "error" in resp:
            raise error_from_response(resp["error"])
        return resp.get("result")

    def close(self, timeout: Optional[float] = 30.0) -> Optional[int]:
        """End input (the server finishes in-flight requests and exits); kill it if it does not."""
        with self._state_lock:
            self._closed = True
            self._exit_reason = self._exit_reason or "the connection was closed"
        with self._write_lock:
            try:
                if self._proc.stdin:
                    self._proc.stdin.close()
            except OSError:
                pass
        try:
            code = self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            code = self._proc.wait()
        self._reader.join(5)
        self._stderr_reader.join(5)
        for stream in (self._proc.stdout, self._proc.stderr):
            if stream:
                stream.close()
        return code

    def retire(self) -> None:
        """Another server takes over (the client's environment changed): this one answers every request
        it was sent, those of threads that took it just before too, and its input is ended once none
        has been in flight for a moment; no time limit (one may be a long tree command)."""
        threading.Thread(target=self._retire, name="image-sidecar-retire", daemon=True).start()

    def _retire(self) -> None:
        quiet_since: Optional[float] = None
        while True:
            with self._state_lock:
                if self._closed:
                    break
                busy = bool(self._pending)
            now = time.monotonic()
            if busy:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = now
            elif now - quiet_since >= _RETIRE_QUIET_S:
                break
            time.sleep(0.05)
        self.close(timeout=None)

    def abandon(self) -> None:
        """In a forked child: close this process's copies of the pipes without touching the server
        (it belongs to the parent, which still talks to it). No waiting: it is not our child."""
        self._closed = True
        self._exit_reason = "the process forked; the server belongs to the parent"
        for stream in (self._proc.stdin, self._proc.stdout, self._proc.stderr):
            # Close the raw file, never flush: a buffer a parent thread was filling at fork time
            # must not reach the parent's server from here.
            try:
                if stream is not None:
                    getattr(stream, "raw", stream).close()
            except (OSError, ValueError):
                pass
        self._proc.returncode = 0  # not our child: Popen must never wait for it

    def _exited_error(self) -> ImageSidecarError:
        code = self._proc.poll()
        if code is None and self._exit_reason in ("", "it exited"):
            # The pipe failed before the process was reaped (a server refusing to start): its exit
            # status and its last log line are a moment away.
            try:
                code = self._proc.wait(1.0)
            except subprocess.TimeoutExpired:
                pass
        if code is not None:
            self._stderr_reader.join(1.0)
        tail = self.stderr_tail().strip()
        # A server that refused to start (a key file gone, a bad setting) says why as the CLI does:
        # that error, with its code, not "not running".
        start = _START_ERROR.search(tail) if code == 2 else None
        if start is not None:
            return ImageSidecarError("%s (the image-sidecar server could not start)" % start.group(2).strip(), code=start.group(1), stderr=tail)
        msg = "the image-sidecar server is not running (%s%s)" % (
            self._exit_reason or "it exited",
            "" if code is None else ", exit status %d" % code,
        )
        if tail:
            msg += "; its last log lines: " + tail[-1000:]
        return ImageSidecarError(msg, code="SERVER_EXITED", stderr=tail)

    def _read_responses(self) -> None:
        stdout = self._proc.stdout
        assert stdout is not None
        try:
            for raw in stdout:
                try:
                    resp = json.loads(raw)
                except (ValueError, RecursionError) as e:
                    # A response this Python cannot read (an int longer than its int_max_str_digits,
                    # e.g. PYTHONINTMAXSTRDIGITS=640) still names its request: fail that request
                    # instead of leaving its caller waiting forever.
                    m = _LEADING_ID.match(raw)
                    if m is None:
                        self._stderr_tail.append("[client] not a response: %r\n" % raw[:200])
                        continue
                    resp = {"id": int(m.group(1)), "error": {"code": "BAD_OUTPUT", "message": "the server's answer cannot be read as JSON here (%s)" % e}}
                rid = resp.get("id") if isinstance(resp, dict) else None
                if rid is None:
                    # An error about a line the server could not attribute; ours are always well formed.
                    self._stderr_tail.append("[client] unattributed response: %r\n" % raw[:200])
                    continue
                with self._state_lock:
                    slot = self._pending.pop(rid, None)
                if slot is not None:
                    slot.response = resp
                    slot.event.set()
        except (OSError, ValueError):
            pass
        finally:
            with self._state_lock:
                self._closed = True
                self._exit_reason = self._exit_reason or "it exited"
                pending = list(self._pending.values())
                self._pending.clear()
            for slot in pending:
                slot.event.set()  # response None → SERVER_EXITED

    def _read_stderr(self) -> None:
        stderr = self._proc.stderr
        assert stderr is not None
        try:
            for raw in stderr:
                self._stderr_tail.append(raw.decode("utf-8", "replace"))
        except (OSError, ValueError):
            pass
