"""Running one image-sidecar CLI command and turning its exit status into results or errors.

Exit codes: 0 clean, 1 findings (a result, not an error: e.g. validate found invalid files),
2 error with ``image-sidecar: error [CODE]: message`` on stderr.
"""
from __future__ import annotations

import json
import re
import subprocess
from typing import Any, List, Optional, Sequence

from .errors import ImageSidecarError

# Exit statuses that carry a result: 0 clean, 1 findings. 2 is a usage or fatal error.
REPORT_CODES = (0, 1)

_ERROR_LINE = re.compile(r"^image-sidecar: error \[([A-Z_]+)\]: (.*)$", re.MULTILINE)
_USAGE_LINE = re.compile(r"^(?:[\w.-]+: )?error: (.*)$", re.MULTILINE)


def error_from_stderr(stderr: str, returncode: int) -> ImageSidecarError:
    m = _ERROR_LINE.search(stderr or "")
    if m:
        return ImageSidecarError(m.group(2), code=m.group(1), returncode=returncode, stderr=stderr)
    m = _USAGE_LINE.search(stderr or "")
    if m:
        # Argument-parser messages ("image-sidecar: error: option ... is invalid") come without a code.
        return ImageSidecarError(m.group(1), code="USAGE", returncode=returncode, stderr=stderr)
    text = (stderr or "").strip() or "image-sidecar exited with status %d" % returncode
    return ImageSidecarError(text, code="INTERNAL", returncode=returncode, stderr=stderr)


def run(
    command: Sequence[str],
    args: Sequence[str],
    timeout: Optional[float] = None,
    stdin_text: Optional[str] = None,
    ok_codes: Sequence[int] = (0,),
) -> "subprocess.CompletedProcess[str]":
    """Run ``command + args``; raise ImageSidecarError unless the exit code is in ``ok_codes``."""
    argv: List[str] = list(command) + list(args)
    # A NUL cannot be passed on a command line (subprocess raises a bare ValueError): say so as the
    # library says a bad argument, USAGE. The server (``with ImageSidecarManager()``) takes such names.
    for a in argv:
        if "\0" in a:
            raise ImageSidecarError("an argument holds a NUL byte, which a command line cannot pass: %r" % a, code="USAGE")
    try:
        proc = subprocess.run(
            argv,
            input=stdin_text,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise ImageSidecarError("`%s` did not finish within %s s" % (" ".join(args[:1]), timeout), code="TIMEOUT") from None
    except OSError as e:
        raise ImageSidecarError("could not run %s: %s" % (argv[0], e), code="IO") from e
    if proc.returncode not in ok_codes:
        raise error_from_stderr(proc.stderr, proc.returncode)
    return proc


def parse_json(proc: "subprocess.CompletedProcess[str]", what: str) -> Any:
    try:
        return json.loads(proc.stdout)
    except ValueError as e:
        raise ImageSidecarError(
            "%s printed something that is not JSON (%s): %r" % (what, e, proc.stdout[:200]),
            code="BAD_OUTPUT",
            returncode=proc.returncode,
            stderr=proc.stderr,
        ) from None
