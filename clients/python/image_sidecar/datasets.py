"""Reading what ``image-sidecar export --format embeddings`` writes (docs/EXPORT.md): the N × dim
float32 ``.npy`` matrix and its ``.jsonl`` rows, one row per matrix row.

    vectors, rows = load_embeddings("faces.npy")   # numpy.ndarray (N, 512), memory-mapped, when
                                                   # NumPy is installed; else array('f'), row after row

Standard library only: without NumPy the matrix is read by this module's own .npy reader (format
versions 1.0 to 3.0, little- or big-endian float32, C order).
"""
from __future__ import annotations

import ast
import json
import os
import struct
import sys
from array import array
from typing import Any, Dict, List, Tuple, Union

from .errors import ImageSidecarError

PathLike = Union[str, "os.PathLike[str]"]

_MAGIC = b"\x93NUMPY"


def rows_path(npy: PathLike) -> str:
    """The rows file beside a matrix: ``faces.npy`` → ``faces.jsonl`` (as the export names it)."""
    p = os.fspath(npy)
    return (p[:-4] if p.lower().endswith(".npy") else p) + ".jsonl"


def _bad(path: str, why: str) -> ImageSidecarError:
    return ImageSidecarError("%s: %s" % (path, why), code="BAD_OUTPUT")


def read_npy_header(f: Any, path: str) -> Tuple[Tuple[int, int], bool, int]:
    """``(shape, little_endian, data_offset)`` of a 2-D float32 C-order .npy file."""
    head = f.read(8)
    if len(head) < 8 or head[:6] != _MAGIC:
        raise _bad(path, "not a .npy file")
    major = head[6]
    if major == 1:
        (n,) = struct.unpack("<H", f.read(2))
        offset = 10 + n
    elif major in (2, 3):
        (n,) = struct.unpack("<I", f.read(4))
        offset = 12 + n
    else:
        raise _bad(path, ".npy format version %d is not known" % major)
    try:
        header = ast.literal_eval(f.read(n).decode("latin1" if major < 3 else "utf-8"))
        descr, fortran, shape = header["descr"], header["fortran_order"], tuple(header["shape"])
    except (ValueError, SyntaxError, KeyError, TypeError):
        raise _bad(path, "the .npy header cannot be read") from None
    if descr not in ("<f4", ">f4") or fortran or len(shape) != 2:
        raise _bad(path, "expected a C-order 2-D float32 matrix, found %r" % (header,))
    return (int(shape[0]), int(shape[1])), descr == "<f4", offset


def load_embeddings(path: PathLike, mmap: bool = True) -> Tuple[Any, List[Dict[str, Any]]]:
    """The matrix and its rows. ``vectors`` is a ``numpy.ndarray`` of shape (N, dim), float32
    (memory-mapped when ``mmap``), when NumPy can be imported; otherwise an ``array('f')`` of N × dim
    floats, row after row. ``rows[i]`` (``image, sidecar, operation, backend, face, bbox,
    confidence``) describes row ``i``. A matrix and rows that disagree on N raise ``BAD_OUTPUT``."""
    p = os.fspath(path)
    rp = rows_path(p)
    try:
        with open(rp, encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
        with open(p, "rb") as f:
            shape, little, offset = read_npy_header(f, p)
            try:
                import numpy  # noqa: F401  (optional)
            except ImportError:
                numpy = None  # type: ignore[assignment]
            if numpy is not None:
                if mmap and shape[0] > 0:
                    vectors = numpy.load(p, mmap_mode="r")
                else:
                    vectors = numpy.load(p)
            else:
                f.seek(offset)
                vectors = array("f")
                data = f.read(shape[0] * shape[1] * 4)
                if len(data) != shape[0] * shape[1] * 4:
                    raise _bad(p, "the file is shorter than its shape %r says" % (shape,))
                vectors.frombytes(data)
                if little != (sys.byteorder == "little"):
                    vectors.byteswap()
    except OSError as e:
        raise ImageSidecarError("cannot read %s: %s" % (getattr(e, "filename", p), e.strerror or e), code="IO") from e
    if len(rows) != shape[0]:
        raise _bad(p, "%d matrix rows but %d lines in %s (written by different runs?)" % (shape[0], len(rows), rp))
    return vectors, rows
