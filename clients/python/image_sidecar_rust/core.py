"""``ImageSidecar``: the earlier package's class, on top of our client.

One :class:`image_sidecar.ImageSidecarManager` per Python process, shared by every
``ImageSidecar()``: creating one per image costs an attribute or two. Its ``serve --stdio`` server
starts on the first call that needs it and lives as long as the process (a forked child starts its
own). Reads are answered in-process whenever the local reader is sure (see image_sidecar.local);
saves and tree operations go through the server, which locks, merges and writes atomically.
"""
from __future__ import annotations

import atexit
import datetime
import json
import os
import pickle
import threading
import unicodedata
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Type, Union

from image_sidecar import ImageSidecarError, ImageSidecarManager
from image_sidecar.client import _abs
from image_sidecar.errors import ImageSidecarNotFound
from image_sidecar.decode import KnownCorrupt, NotLocal, OtherJson, decode_sidecar
from image_sidecar.local import read_file_limited, recorded_image_name, sidecar_shaped

from .exceptions import FormatError, SidecarError, StatisticsError, ValidationError
from .constants import OperationType, SidecarFormat

PathLike = Union[str, "os.PathLike[str]"]

_shared: Optional[ImageSidecarManager] = None
_shared_lock = threading.Lock()


def _manager() -> ImageSidecarManager:
    """The process's manager (created on first use; its server starts on first server call)."""
    global _shared
    m = _shared
    if m is None:
        with _shared_lock:
            if _shared is None:
                _shared = ImageSidecarManager(persistent=True)
            m = _shared
    return m


def _close_shared() -> None:
    m = _shared
    if m is not None:
        m.close()


# What each thread of this process last read of each image, for a whole document's three-way
# merge: the pipeline reads a sidecar, sets one operation and sends the whole document back; with
# the read it was built from beside it, the server keeps what other workers saved since in every
# entry sent back as read (without it, a worker's stale copy of another operation overwrote that
# worker's newer result). The document comes back as a JSON string, so it is taken to be built from
# the thread's last view of the image when it differs from it in one operation at most (the one the
# caller set); otherwise (a document built from elsewhere, the pipeline's own `<stem>.json` load)
# no base is sent and it merges as without one. A save sent with a base becomes the thread's view;
# any other save of the image by this thread ends it (a retry that sets the result back to the
# read value, after a failure saved since, is a change: against a stale view it was kept out).
# Thread-local: another thread's reads and saves are not this thread's view, and a thread's views
# go with it (a new thread, even under a reused id, starts with none); a forked child starts with
# none too. Snapshots (pickle: a caller mutates the dict it got) of a thread's last
# _VIEWS_PER_THREAD images. When in doubt no base is sent: the merge is then the earlier one.
_VIEWS_PER_THREAD = 256
_views = threading.local()


def _thread_views() -> "OrderedDict[str, bytes]":
    views = getattr(_views, "by_image", None)
    if views is None:
        views = _views.by_image = OrderedDict()
    return views


def _forget_view(image: str) -> None:
    _thread_views().pop(image, None)


def _remember_view(image: str, doc: Dict[str, Any]) -> None:
    views = _thread_views()
    views.pop(image, None)
    try:
        views[image] = pickle.dumps(doc, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # not picklable: nothing to remember (the save merges as without a base)
        return
    while len(views) > _VIEWS_PER_THREAD:
        views.popitem(last=False)


def _read_base(image: str, doc: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """This thread's last view of the image when ``doc`` differs from it in one entry at most
    (``sidecar_info`` aside: every save stamps it); else None."""
    snapshot = _thread_views().get(image)
    if snapshot is None:
        return None
    read = pickle.loads(snapshot)
    diffs = sum(1 for k, v in doc.items() if k != "sidecar_info" and (k not in read or read[k] != v))
    return read if diffs <= 1 else None


def _reset_after_fork() -> None:
    # The child's manager forgets the parent's server itself (ImageSidecarManager is fork-aware);
    # this lock may have been held by a parent thread at fork time. The forking thread's views are
    # the parent's: what the parent's other children save meanwhile is not in them.
    global _shared_lock, _views
    _shared_lock = threading.Lock()
    _views = threading.local()


atexit.register(_close_shared)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def _wrap(e: ImageSidecarError, kind: Type[SidecarError] = SidecarError) -> SidecarError:
    err = kind(e.message, e.code)
    err.path = e.path  # type: ignore[attr-defined]
    return err


def _read_without_image(image: str, missing: ImageSidecarError) -> Dict[str, Any]:
    """What the earlier package read for an image path with nothing there (a deleted or moved
    photo): the first of ``<stem>.bin``, ``.rkyv``, ``.json`` that exists, ``{}`` when none does
    (sportball's checks read a missing image's results so). One that cannot be read here (an
    encrypted file, a defect) raises the image's NOT_FOUND, naming it."""
    stem = os.path.splitext(image)[0]
    name = unicodedata.normalize("NFC", os.path.basename(image))
    for ext in (".bin", ".rkyv", ".json"):
        path = stem + ext
        if not os.path.isfile(path):
            continue
        try:
            data, _fmt = decode_sidecar(read_file_limited(path))
        except OtherJson:
            continue  # another tool's file (an array: exiftool's dump), never this image's
        except KnownCorrupt as e:
            raise SidecarError("%s: %s" % (path, e), "CORRUPT") from None
        except (NotLocal, OSError) as e:
            raise SidecarError("%s (its sidecar %s cannot be read without it: %s)" % (missing.message, path, e), missing.code) from None
        # Not another tool's file, nor the sidecar of another image of the stem (IMG.png's IMG.json
        # once IMG.jpg is gone): read as this image's only when it records this image, or none.
        if not sidecar_shaped(data, os.path.basename(path)):
            continue
        recorded = recorded_image_name(data)
        if recorded is not None and recorded != name:
            continue
        return data
    return {}


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


# Keys a whole set of operations may hold (the earlier package's operations, their detector spellings,
# and the block every sidecar carries).
_OPERATION_KEYS = frozenset(v for k, v in vars(OperationType).items() if k.isupper()) | frozenset(
    ("Face_detector", "Object_detector", "Ball_detector", "Quality_assessor", "Game_detector", "pose_detection", "sidecar_info"))


def _is_operation_key(key: Any) -> bool:
    return isinstance(key, str) and key in _OPERATION_KEYS and key != OperationType.UNIFIED


def _path(p: PathLike, kind: "Type[SidecarError]" = SidecarError) -> str:
    # A name that is not UTF-8 is refused (USAGE, as the method's own error kind), never sent as another file's name.
    try:
        return _abs(p)
    except ImageSidecarError as e:
        raise _wrap(e, kind) from None


def _json_object(pairs: List[Any]) -> Dict[str, Any]:
    """A JSON object with each key once: a repeated key is refused, never resolved silently (as the
    library's CLI and server refuse it; ``json.loads`` alone keeps the last)."""
    out: Dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError("repeated key %r in an object" % k)
        out[k] = v
    return out


def _loads(text: Union[str, bytes, bytearray]) -> Any:
    return json.loads(bytes(text).decode("utf-8") if not isinstance(text, str) else text, object_pairs_hook=_json_object)


class ImageSidecar:
    """``ImageSidecar(max_workers=None)``: cheap to create, safe in threads and forked workers."""

    rust_available = True  # what callers of the earlier package check; the library is always there

    def __init__(self, max_workers: Optional[int] = None) -> None:
        try:
            m = _manager()
        except ImageSidecarError as e:  # a bad IMAGE_SIDECAR_WORKERS / _TIMEOUT: this package's error class
            raise _wrap(e) from None
        if not m.available:
            # The earlier package raised ImportError here without its native part; callers catch it.
            raise SidecarError(ImageSidecarNotFound(m._not_found_reason).message, "NOT_INSTALLED")
        self.max_workers = max_workers
        self._default_format: Optional[str] = None

    # ------------------------------------------------------------------ per image

    def read_data(self, image_path: PathLike) -> Dict[str, Any]:
        """The whole sidecar (operations at the top level); ``{}`` when there is none.
        Raises SidecarError (``error_code`` CORRUPT, NOT_FOUND, ...) when it cannot be read.
        An image that is not there reads as the earlier package read it: the first of its
        ``.bin``, ``.rkyv``, ``.json`` (its suffix replaced), ``{}`` when none is there."""
        image = _path(image_path)
        try:
            doc = _manager().read_data(image)
        except ImageSidecarError as e:
            if e.code == "NOT_FOUND" and not os.path.lexists(image):
                return _read_without_image(image, e)
            raise _wrap(e) from None
        _remember_view(image, doc)
        return doc

    def save_data(self, image_path: PathLike, operation: Any, data: Any, backend: Optional[str] = None) -> Dict[str, Any]:
        """Merge ``data`` into the image's sidecar under ``operation``; ``data`` is a dict or a JSON
        string. A payload holding ``sidecar_info`` is a whole document: its top-level keys are
        merged key by key (not nested under ``doc[operation]``): an entry sent back as this thread's
        last ``read_data`` (or last such save) of the image held it (the document differing from
        that view in one operation at most), or unchanged from the image's JSON copy, does not
        overwrite what another worker saved since. ``backend``: store
        ``data`` as ``doc[operation][backend]``, keeping the other backends (a map of backend
        results is merged backend by backend anyway). Writes ``.bin`` as the earlier package did,
        unless ``set_default_format``, ``IMAGE_SIDECAR_FORMAT`` or the folder's
        ``.image-sidecar.json`` say otherwise; an existing JSON sidecar is kept untouched beside it.
        Returns the info dict."""
        return self._save(image_path, operation, data, backend=backend)

    def _save(self, image_path: PathLike, operation: Any, data: Any, backend: Optional[str] = None, document: Optional[bool] = None) -> Dict[str, Any]:
        try:
            op = OperationType(str(operation))
        except ValueError as e:
            raise SidecarError(str(e), "USAGE") from None
        if isinstance(data, (str, bytes, bytearray)):
            try:
                # Bytes as UTF-8 (a UnicodeDecodeError is a ValueError: the same USAGE answer).
                data = _loads(data)
            except ValueError as e:
                raise SidecarError("data is a string but not JSON: %s" % e, "USAGE") from None
        if not isinstance(data, dict):
            # The earlier package took a dict only; a None (or a list, a number) saved as the whole
            # result replaced the operation's result: a detector's failure path wiped what it had.
            raise SidecarError("data must be a dict, or a JSON object as a string (got %s)" % type(data).__name__, "USAGE")
        if document is None:
            document = "sidecar_info" in data
        image = _path(image_path)
        m = _manager()
        try:
            server = m._connection()
            assert server is not None  # a persistent manager always has one
            params: Dict[str, Any] = {"image": image, "operation": str(op), "data": data, "defaultFormat": "bin"}
            if document:
                params["merge"] = "document"
                base = _read_base(image, data)
                if base is not None:
                    params["base"] = base
            if backend is not None:
                params["backend"] = str(backend)
            if self._default_format is not None:
                params["format"] = self._default_format
            result = server.request("save", params)
        except ImageSidecarError as e:
            raise _wrap(e) from None
        if document and params.get("base") is not None:
            _remember_view(image, data)  # what this thread now holds the image to be
        else:
            _forget_view(image)
        path = result.get("path")
        try:
            size = os.stat(path).st_size if path else 0
        except OSError:
            size = 0
        info = {
            "image_path": image,
            "sidecar_path": path,
            "operation": str(op),
            "data_size": size,
            "created_at": _now(),
            "is_valid": True,
            "format": result.get("format"),
            "created": result.get("created"),
            "written": result.get("written"),
        }
        if result.get("kept"):
            info["kept"] = result["kept"]
        return info

    def create_sidecar(self, image_path: PathLike, operation: Any, data: Any) -> Dict[str, Any]:
        """The earlier package overwrote the whole sidecar with ``{"sidecar_info", "data"}``, losing
        every other operation; here it is a merging save, the same as :meth:`save_data`. With
        ``OperationType.UNIFIED`` and a dict whose keys are all operation names
        (``{"face_detection": ..., "yolov8": ...}``), those operations are stored at the top level,
        where every reader looks, not nested under ``unified``."""
        if isinstance(data, (str, bytes, bytearray)):
            try:
                data = _loads(data)
            except ValueError as e:
                raise SidecarError("data is a string but not JSON: %s" % e, "USAGE") from None
        unified = str(operation).strip().lower() == OperationType.UNIFIED
        if unified and isinstance(data, dict) and data and all(_is_operation_key(k) for k in data):
            return self._save(image_path, operation, data, document=True)
        return self._save(image_path, operation, data)

    # ------------------------------------------------------------------ trees

    def validate_sidecars(self, directory: PathLike) -> List[Dict[str, Any]]:
        """One result per sidecar file: ``file_path, is_valid, error, processing_time, file_size``
        (plus our keys). Invalid files are results; a missing directory gives ``[]``."""
        d = _path(directory, ValidationError)
        if not os.path.isdir(d):
            return []
        try:
            return _manager().validate_sidecars(d, workers=self.max_workers)["results"]
        except ImageSidecarError as e:
            raise _wrap(e, ValidationError) from None

    def get_statistics(self, directory: PathLike) -> Dict[str, Any]:
        """``total_images, total_sidecars, coverage_percentage, operation_counts,
        avg_processing_times, success_rate_percentages, avg_data_sizes`` (plus our keys)."""
        d = _path(directory, StatisticsError)
        if not os.path.isdir(d):
            return {"total_images": 0, "total_sidecars": 0, "coverage_percentage": 0.0, "operation_counts": {},
                    "avg_processing_times": {}, "success_rate_percentages": {}, "avg_data_sizes": {}}
        try:
            stats = _manager().get_statistics(d)
        except ImageSidecarError as e:
            raise _wrap(e, StatisticsError) from None
        # Floats, as the earlier package's f64 (JSON writes a whole 100.0 as 100: a Python int).
        if isinstance(stats.get("coverage_percentage"), int):
            stats["coverage_percentage"] = float(stats["coverage_percentage"])
        for key in ("avg_processing_times", "success_rate_percentages", "avg_data_sizes"):
            table = stats.get(key)
            if isinstance(table, dict):
                stats[key] = {k: float(v) if isinstance(v, int) and not isinstance(v, bool) else v for k, v in table.items()}
        return stats

    def find_sidecars(self, directory: PathLike, operation: Any = None) -> List[Dict[str, Any]]:
        """Info dicts of every sidecar in the tree: ``image_path, sidecar_path, operation, data_size,
        created_at, is_valid``, and ``operations``: every operation the file holds. ``operation``
        (optional): only the files holding it; each dict's ``operation`` is then that one, otherwise
        the file's first (``"unknown"`` when it holds none)."""
        want: Optional[str] = None
        if operation is not None:
            want = str(operation).strip()
            if want == "":
                raise SidecarError("operation must not be empty", "USAGE")
        d = _path(directory)
        if not os.path.isdir(d):
            return []
        m = _manager()
        try:
            report = m._request(m._connection(), "stats", {"dir": d, "list": True, "workers": self.max_workers})
        except ImageSidecarError as e:
            raise _wrap(e) from None
        out = []
        for s in report.get("sidecars", []):
            ops = list(s.get("operations") or [])
            if want is not None and want not in ops:
                continue
            path = os.path.join(d, s["path"])
            try:
                created = datetime.datetime.fromtimestamp(os.stat(path).st_mtime, datetime.timezone.utc).isoformat()
            except OSError:
                created = None
            out.append({
                "image_path": os.path.join(d, s["image"]) if s.get("image") else None,
                "sidecar_path": path,
                "operation": want if want is not None else (ops[0] if ops else "unknown"),
                "operations": ops,
                "data_size": s.get("size", 0),
                "created_at": created,
                "is_valid": True,
                "format": s.get("format"),
            })
        return out

    def cleanup_orphaned(self, directory: PathLike) -> int:
        """Moves orphaned sidecars to a quarantine folder (``image-sidecar restore DIR`` undoes it)
        and returns how many. The earlier package deleted valid sidecars; this uses the library's
        pairing rules and guard."""
        d = _path(directory)
        if not os.path.isdir(d):
            return 0
        try:
            return int(_manager().cleanup(d, dry_run=False).get("removed", 0))
        except ImageSidecarError as e:
            raise _wrap(e) from None

    def convert_directory_format(self, directory: PathLike, fmt: Any) -> int:
        """Convert every sidecar of the tree (verified, sources removed only after); returns the count."""
        try:
            target = SidecarFormat(str(fmt)).library_name
        except ValueError as e:
            raise FormatError(str(e), "USAGE") from None
        d = _path(directory, FormatError)
        if not os.path.isdir(d):
            return 0
        try:
            report = _manager().convert_format(d, target)
        except ImageSidecarError as e:
            raise _wrap(e, FormatError) from None
        return int(report.get("converted", 0))

    def get_format_statistics(self, directory: PathLike) -> Dict[str, int]:
        """``{"json": n, "bin": n, "rkyv": n}`` by content (the earlier tool's layout counts as bin)."""
        d = _path(directory, StatisticsError)
        if not os.path.isdir(d):
            return {"json": 0, "bin": 0, "rkyv": 0}
        try:
            dist = _manager().get_format_statistics(d).get("format_distribution", {})
        except ImageSidecarError as e:
            raise _wrap(e, StatisticsError) from None
        return {"json": dist.get("Json", 0), "bin": dist.get("Binary", 0) + dist.get("Legacy", 0), "rkyv": dist.get("Rkyv", 0)}

    # ------------------------------------------------------------------ what is left to do (ours)

    def todo(self, directory: PathLike, operation: Any, verify_hash: bool = False) -> List[Dict[str, Any]]:
        """Images that still need ``operation``, in tree order: records ``{"image", "reason",
        "sidecar", "changes"?}`` (reason: ``no-sidecar``, ``no-result``, ``failed``, ``stale``).
        Not in the earlier package; the records of ``image-sidecar todo --json``. Images whose
        sidecar cannot be read are not listed (see ``ImageSidecarManager.todo`` for the whole report).
        A missing directory gives ``[]``."""
        # Any spelling the library knows (OperationType.YOLOV8, "Face_detector", a custom key).
        return self._records("todo", directory, lambda m, d: m.todo(d, str(operation), verify_hash=verify_hash))

    def find_stale(self, directory: PathLike, verify_hash: bool = False) -> List[Dict[str, Any]]:
        """Sidecars whose image changed since their results were saved: records ``{"image",
        "sidecar", "changes", "operations", "recorded", "current"}`` (``image-sidecar stale --json``)."""
        return self._records("stale", directory, lambda m, d: m.stale(d, verify_hash=verify_hash))

    def find(self, directory: PathLike, where: str) -> List[Dict[str, Any]]:
        """Images whose sidecar matches ``where`` (e.g. ``"has yolov8 and objects.person > 2"``):
        the records of ``image-sidecar find --where EXPR --json``. A bad expression raises
        SidecarError with ``error_code == "USAGE"``."""
        return self._records("matches", directory, lambda m, d: m.find(d, where))

    def _records(self, key: str, directory: PathLike, call: Any) -> List[Dict[str, Any]]:
        d = _path(directory)
        if not os.path.isdir(d):
            return []
        try:
            return list(call(_manager(), d)[key])
        except ImageSidecarError as e:
            raise _wrap(e) from None

    # ------------------------------------------------------------------ format of new sidecars

    def set_default_format(self, fmt: Any) -> None:
        """The format saves of this instance write (a sidecar in another format is kept untouched
        beside the new file). Unset: ``IMAGE_SIDECAR_FORMAT``, then the folder's
        ``.image-sidecar.json``, then ``bin``, as the earlier package wrote."""
        try:
            self._default_format = SidecarFormat(str(fmt)).library_name
        except ValueError as e:
            raise FormatError(str(e), "USAGE") from None

    def get_default_format(self) -> str:
        """``"json"``, ``"bin"`` or ``"rkyv"`` — always a value :meth:`set_default_format` accepts.
        Unset, ``"bin"`` (the earlier package's default; IMAGE_SIDECAR_FORMAT or a folder's
        configuration file can still name another for a save)."""
        return self._default_format or "bin"
