"""The local read path: an image's sidecar read in-process (no server round trip), with exactly the
library's pairing rules and decoders, or :class:`NotLocal` when the library must answer.

``read_local(image)`` returns the data when there is exactly one candidate sidecar (or none: ``{}``)
and it is plainly valid. Several candidates (the library picks the first *valid* one and reports
the group as ambiguous), files over the size limit, special files and everything the decoder is
unsure of go to the library, so errors and findings stay the library's.
"""
from __future__ import annotations

import os
import stat
from typing import Any, Dict

from .decode import NotLocal, decode_sidecar
from .pairing import locate_candidates

# The library's default size limit (src/formats/value.ts DEFAULT_MAX_FILE_SIZE).
DEFAULT_MAX_FILE_SIZE = 64 * 1024 * 1024
ENV_LOCAL_READ = "IMAGE_SIDECAR_LOCAL_READ"

_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def local_reads_enabled() -> bool:
    """The kill switch: IMAGE_SIDECAR_LOCAL_READ=0 sends every read to the library."""
    return os.environ.get(ENV_LOCAL_READ, "1").strip().lower() not in ("0", "false", "no", "off")


def read_file_limited(path: str, max_size: int = DEFAULT_MAX_FILE_SIZE) -> bytes:
    """A regular file's bytes, refusing (NotLocal) anything else or anything over ``max_size``."""
    try:
        fd = os.open(path, _FLAGS)  # O_NONBLOCK: a FIFO planted as a sidecar must not block us
    except OSError as e:
        raise NotLocal("cannot open %s: %s" % (path, e)) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotLocal("not a regular file")
        if st.st_size > max_size:
            raise NotLocal("over the size limit")
        want = st.st_size + 1  # one more byte shows a file that grew meanwhile
        first = os.read(fd, want)
        if len(first) < want and first:
            return first  # a short read of a regular file is its end: no second read for the EOF
        chunks = [first]
        total = len(first)
        while first:
            first = os.read(fd, want - total if want > total else 65536)
            chunks.append(first)
            total += len(first)
            if total > max_size:
                raise NotLocal("over the size limit")
        return b"".join(chunks)
    except OSError as e:
        raise NotLocal("cannot read %s: %s" % (path, e)) from None
    finally:
        os.close(fd)


def _check_utf8(path: str) -> None:
    # A name that is not UTF-8 (Python holds it with surrogate escapes) cannot be named to the
    # library; reading it here would answer what the library cannot.
    if not path.isascii():
        try:
            path.encode("utf-8")
        except UnicodeEncodeError:
            raise NotLocal("a name that is not valid UTF-8") from None


def read_local(image_path: str, max_file_size: int = DEFAULT_MAX_FILE_SIZE) -> Dict[str, Any]:
    _check_utf8(image_path)
    candidates = locate_candidates(image_path)
    if not candidates:
        return {}
    if len(candidates) > 1:
        # (A directory or FIFO in a sidecar's name counts here too: the library decides.)
        raise NotLocal("several candidate sidecars")
    _check_utf8(candidates[0].path)
    raw = read_file_limited(candidates[0].path, max_file_size)
    return decode_sidecar(raw)[0]
