"""ImageSidecarManager: the drop-in replacement for the wrappers around the earlier Rust tool.

Outside a ``with`` block every call runs the CLI once. Inside ``with ImageSidecarManager() as m:``
one ``image-sidecar serve --stdio`` process serves every call, which makes per-image
``read_data`` / ``save_data`` cost a pipe round trip instead of a process start.
"""
from __future__ import annotations

import os
import re
import threading
import weakref
from typing import Any, Dict, List, Optional, Tuple, Union

from . import cli
from .errors import ImageSidecarError, ImageSidecarNotFound
from .decode import NotLocal
from .datasets import load_embeddings
from .local import DEFAULT_MAX_FILE_SIZE, local_reads_enabled, read_local
from .locate import locate_binary
from .server import ServerConnection, encode_json

PathLike = Union[str, "os.PathLike[str]"]

ENV_WORKERS = "IMAGE_SIDECAR_WORKERS"
ENV_TIMEOUT = "IMAGE_SIDECAR_TIMEOUT"
# The earlier tool's integration guide documents these; ours win when both are set.
LEGACY_ENV_WORKERS = "SPORTBALL_RUST_WORKERS"
LEGACY_ENV_TIMEOUT = "SPORTBALL_RUST_TIMEOUT"

_EXPORTED = re.compile(r"Exported (\d+)")


# CLI commands that take --key-file (the others never touch sidecar content).
_KEY_COMMANDS = frozenset(["read", "write", "validate", "validate-json", "stats", "format-stats", "convert", "cleanup", "export", "hash", "verify", "todo", "stale", "find"])


def _env_number(name: str, kind: type) -> Any:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        value = kind(raw)
    except ValueError:
        raise ImageSidecarError("%s must be a number, got %r" % (name, raw), code="USAGE") from None
    if value <= 0:
        raise ImageSidecarError("%s must be positive, got %r" % (name, raw), code="USAGE")
    return value


def _abs(p: PathLike) -> str:
    # Absolute, so that results do not depend on the server's working directory, its ``.`` and empty
    # parts dropped. A bytes path is taken as Python takes it (os.fsdecode); one that is not UTF-8 is
    # refused (utf8_path). Its ``..`` are left for the engine (docs/PAIRING.md section 5): collapsed
    # as text, a ``..`` after a symlinked folder names another file than open() reaches (an image's
    # is taken as the kernel takes it; a folder that names two is refused).
    s = os.fsdecode(p)
    if not os.path.isabs(s):
        s = os.path.join(os.getcwd(), s)
    parts = [x for x in s.split(os.sep) if x not in ("", ".")]
    return utf8_path(os.sep + os.sep.join(parts))


def show_name(path: str) -> str:
    """``path`` for a message: each undecodable byte (a surrogate escape) as ``\\xHH``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace") if not path.isascii() else path


def utf8_path(path: str, what: str = "the path") -> str:
    """``path``, or a USAGE error when it holds a name that is not valid UTF-8 (Python holds its bytes
    as surrogate escapes, os.fsdecode). No JSON request or UTF-8 command line can carry such a name:
    sent anyway, each such byte would become U+FFFD, another file's name (`IMG_\\xff.jpg` would be
    `IMG_\\ufffd.jpg`, which may exist). The library refuses it the same way (docs/BYTE-NAMES.md)."""
    if "\x00" in path:
        raise ImageSidecarError("%s holds a NUL character: no file is named so" % what, code="USAGE", path=path)
    if not path.isascii():
        try:
            path.encode("utf-8")
        except UnicodeEncodeError:
            raise ImageSidecarError(
                "%s holds a name that is not valid UTF-8: %s; paths are bytes, and this one would be replaced by another name "
                "(each such byte becoming U+FFFD), which may be another image's; rename the file to a UTF-8 name "
                "(e.g. convmv -f latin1 -t utf8)" % (what, show_name(path)),
                code="USAGE",
                path=path,
                details={"reason": "not-utf8", "shown": show_name(path)},
            ) from None
    return path


def _cleanup_message(report: Dict[str, Any]) -> str:
    if report.get("dryRun", report.get("dry_run")):
        n = report.get("orphans", report.get("removed", 0))
        return "Would remove %d orphaned sidecar files" % n
    return "Removed %d orphaned sidecar files" % report.get("removed", 0)


# What a server reads of its environment once, at start (src/settings.ts, cli/keys.ts): a server
# started before one of them was set or changed is started again, as the next CLI call would see it.
# Set after the first save, IMAGE_SIDECAR_KEY_FILE was ignored: embeddings were saved in plaintext.
_SERVER_ENV = (
    "IMAGE_SIDECAR_KEY_FILE",
    "IMAGE_SIDECAR_PASSPHRASE",
    "IMAGE_SIDECAR_FORMAT",
    "IMAGE_SIDECAR_ENGINE",
    "IMAGE_SIDECAR_WORKERS",
    "IMAGE_SIDECAR_ACCEL",
    "IMAGE_SIDECAR_FAST_STAT",
    "IMAGE_SIDECAR_STAT_AHEAD",
    "IMAGE_SIDECAR_INDEX_RACY_MS",
)


def _server_environment() -> Tuple[Optional[str], ...]:
    return tuple(os.environ.get(name) for name in _SERVER_ENV)


def _check_key_variables(key_file: Optional[str]) -> None:
    """The CLI's rule (``--key-file`` given: the variables are not read): a key variable set but empty
    is a USAGE error. Taken as no key, a save meant to be encrypted would write plaintext."""
    if key_file:
        return
    for name in ("IMAGE_SIDECAR_KEY_FILE", "IMAGE_SIDECAR_PASSPHRASE"):
        if os.environ.get(name) == "":
            raise ImageSidecarError("%s is set but empty: give it a value, or unset it to run without a key" % name, code="USAGE")


class ImageSidecarManager:
    """Read, save, validate, convert and clean image sidecars through the image-sidecar CLI.

    ``binary_path``: the executable or its ``cli.cjs`` (default: ``IMAGE_SIDECAR_BIN``, then
    ``image-sidecar`` on PATH, then ``node_modules/.bin/image-sidecar`` above the working directory).
    ``workers``: worker threads for tree operations (default ``IMAGE_SIDECAR_WORKERS``).
    ``timeout``: seconds per call (default ``IMAGE_SIDECAR_TIMEOUT``; None = no limit).
    ``key_file``: key for encrypted sidecars (``image-sidecar keygen -o FILE``), handed to the
    server (and to each CLI call) as ``--key-file``: reads decrypt, new sidecars are encrypted.
    Default: the CLI's own ``IMAGE_SIDECAR_KEY_FILE`` / ``IMAGE_SIDECAR_PASSPHRASE``.
    ``local_reads``: read sidecars in-process when the answer is plain (default: on, unless
    ``IMAGE_SIDECAR_LOCAL_READ=0``); anything unclear is read by the library. ``read_counts`` says
    how many reads each path answered (``local``, ``library``).
    ``persistent``: start one ``serve --stdio`` on first use and keep it until ``close()`` (what the
    ``image_sidecar_rust`` compatibility module uses), instead of only inside ``with``.
    """

    def __init__(
        self,
        binary_path: Optional[PathLike] = None,
        workers: Optional[int] = None,
        timeout: Optional[float] = None,
        key_file: Optional[PathLike] = None,
        local_reads: Optional[bool] = None,
        persistent: bool = False,
        max_file_size: int = DEFAULT_MAX_FILE_SIZE,
    ) -> None:
        if key_file is not None and os.fspath(key_file) == "":
            # As the CLI's --key-file '': an empty path is no key file (it was taken as the working directory).
            raise ImageSidecarError("key_file needs the path of a key file (got an empty one)", code="USAGE")
        self.key_file: Optional[str] = _abs(key_file) if key_file is not None else None
        located = locate_binary(os.fspath(binary_path) if binary_path is not None else None)
        self._command: Optional[List[str]] = located.command
        self._not_found_reason = located.reason
        self.binary_path: Optional[str] = located.binary_path if located.command else None
        if workers is None:
            workers = _env_number(ENV_WORKERS, int)
            workers = workers if workers is not None else _env_number(LEGACY_ENV_WORKERS, int)
        if timeout is None:
            timeout = _env_number(ENV_TIMEOUT, float)
            timeout = timeout if timeout is not None else _env_number(LEGACY_ENV_TIMEOUT, float)
        self.workers: Optional[int] = workers
        self.timeout: Optional[float] = timeout
        self._server: Optional[ServerConnection] = None
        self._server_env: Tuple[Optional[str], ...] = ()
        self._server_lock = threading.Lock()
        self._depth = 0
        self._persistent = persistent
        self.local_reads: bool = local_reads_enabled() if local_reads is None else bool(local_reads)
        self.max_file_size = max_file_size
        self.read_counts: Dict[str, int] = {"local": 0, "library": 0}
        self._keys_accepted: Optional[Tuple[Any, ...]] = None
        _track_for_fork(self)

    # ----------------------------------------------------------------- availability, lifecycle

    @property
    def available(self) -> bool:
        return self._command is not None

    @property
    def command(self) -> List[str]:
        """The argv prefix that runs the CLI (``[node, cli.cjs]`` for a JavaScript file)."""
        return list(self._require())

    def _require(self) -> List[str]:
        if self._command is None:
            raise ImageSidecarNotFound(self._not_found_reason)
        return self._command

    def __enter__(self) -> "ImageSidecarManager":
        self._require()
        with self._server_lock:
            self._depth += 1
        try:
            self._connection()  # start now, so a broken installation shows at the `with`
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        with self._server_lock:
            self._depth = max(0, self._depth - 1)
            server = self._server if self._depth == 0 and not self._persistent else None
            if server is not None:
                self._server = None
        if server is not None:
            server.close()

    def close(self) -> None:
        """Stop the server (if a ``with`` block started one)."""
        with self._server_lock:
            server, self._server, self._depth = self._server, None, 0
        if server is not None:
            server.close()

    def _after_fork_in_child(self) -> None:
        """In a forked child: the parent's server and locks are not ours. Forget them (closing our
        copies of the pipes, so the parent's server still sees its stdin end); the child starts its
        own server on first use."""
        self._server_lock = threading.Lock()
        server, self._server = self._server, None
        if server is not None:
            server.abandon()

    def _connection(self) -> Optional[ServerConnection]:
        """The server inside a ``with`` block or of a persistent manager (restarted if it died), else None."""
        if self._depth == 0 and not self._persistent:
            return None
        env = _server_environment()
        retired: Optional[ServerConnection] = None
        with self._server_lock:
            if self._depth == 0 and not self._persistent:
                return None
            if self._server is None or not self._server.alive or env != self._server_env:
                _check_key_variables(self.key_file)  # the server would exit at start: said as the CLI says it
                old, self._server = self._server, ServerConnection(self._require(), self.timeout, self._key_args())
                self._server_env = env
                if old is not None and not old.alive:
                    old.close(timeout=1)
                else:
                    retired = old
            server = self._server
        if retired is not None:
            # Started under another environment: it answers the requests other threads sent it, then
            # exits (ServerConnection.retire: no time limit, one may be a long tree command).
            retired.retire()
        return server

    def _request(self, server: ServerConnection, method: str, params: Dict[str, Any], keep: Tuple[str, ...] = ()) -> Any:
        """Options left at None are not sent (the server's defaults apply); ``keep`` names values sent even when None (a save's ``data``: None is a value to store)."""
        return server.request(method, {k: v for k, v in params.items() if v is not None or k in keep})

    def _key_args(self) -> List[str]:
        return ["--key-file", self.key_file] if self.key_file else []

    def _run(self, args: List[str], **kw: Any) -> Any:
        if self.key_file and args and args[0] in _KEY_COMMANDS:
            args = args[:1] + self._key_args() + args[1:]
        return cli.run(self._require(), args, timeout=self.timeout, **kw)

    def _run_report(self, args: List[str], what: str) -> Any:
        """A tree command's JSON report. Exit 1 means "findings" (invalid or corrupt files, failed
        conversions): the report is the answer, not an error. Only exit 2 raises, with stderr's message."""
        return cli.parse_json(self._run(args, ok_codes=cli.REPORT_CODES), what)

    def _key_signature(self) -> Optional[Tuple[Any, ...]]:
        """What the library's check of the keys depends on (``key_file``, the CLI's key variables and
        the key file as it is), or None when no key is given."""
        _check_key_variables(self.key_file)
        env_file = os.environ.get("IMAGE_SIDECAR_KEY_FILE") or None
        passphrase = os.environ.get("IMAGE_SIDECAR_PASSPHRASE") or None
        if not (self.key_file or env_file or passphrase):
            return None
        path = self.key_file or env_file
        try:
            st = os.stat(path) if path else None
            ident = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns) if st else None
        except (OSError, ValueError):
            ident = "unreadable"
        return (self.key_file, env_file, passphrase, ident)

    # ----------------------------------------------------------------- per image

    def read_data(self, image_path: PathLike) -> Dict[str, Any]:
        """The image's whole sidecar as a dict; ``{}`` when it has none. Raises CORRUPT rather than
        guessing when sidecars exist but none can be read."""
        image = _abs(image_path)
        # With keys given, the library checks them on every call (a missing or malformed key file is
        # its error): the first read, and the first after they change, is the library's; local reads
        # resume once it has read with the keys as they are.
        sig = self._key_signature() if self.local_reads else None
        if self.local_reads and (sig is None or sig == self._keys_accepted):
            try:
                data = read_local(image, self.max_file_size)
            except NotLocal:
                pass
            except ImageSidecarError:  # the library's own error, known locally (read_local)
                self.read_counts["local"] += 1
                raise
            else:
                self.read_counts["local"] += 1
                return data
        self.read_counts["library"] += 1
        server = self._connection()
        if server is not None:
            data = server.request("read", {"image": image})
        else:
            self._require()
            data = cli.parse_json(self._run(["read", image, "--json"]), "read")
        if sig is not None:
            self._keys_accepted = sig  # the library read with these keys: they are good
        return data

    def save_data(self, image_path: PathLike, operation: str, data: Any, format: Optional[str] = None, backend: Optional[str] = None) -> Dict[str, Any]:
        """Merge ``data`` as ``sidecar[operation]`` (other operations are kept; ``sidecar_info`` is
        maintained). ``format``: the format to write (default: ``IMAGE_SIDECAR_FORMAT``, then the
        folder's ``.image-sidecar.json``, then the existing sidecar's); a sidecar in another format
        is kept untouched beside the new file (``kept`` in the result). ``backend``: store ``data`` as
        ``sidecar[operation][backend]``, keeping the other backends' results (a ``data`` that is a
        map of backend results is merged backend by backend anyway). Returns ``{path, format,
        written, created, kept?}``."""
        image = _abs(image_path)
        server = self._connection()
        if server is not None:
            return self._request(server, "save", {"image": image, "operation": operation, "data": data, "format": format, "backend": backend}, keep=("data",))
        self._require()
        text = encode_json(data)
        args = ["write", image, "--operation", operation, "--data", "-", "--json"]
        if format:
            args += ["--format", format]
        if backend is not None:
            args += ["--backend", backend]
        return cli.parse_json(self._run(args, stdin_text=text), "write")

    # ----------------------------------------------------------------- trees

    def validate_sidecars(self, directory: PathLike, workers: Optional[int] = None, operation_type: Optional[str] = None) -> Dict[str, Any]:
        """The validation report ``{total_files, valid_files, invalid_files, results: [...]}``.
        Invalid files are findings in the report, not an exception."""
        d = _abs(directory)
        workers = workers if workers is not None else self.workers
        server = self._connection()
        if server is not None:
            return self._request(server, "validate", {"dir": d, "workers": workers, "operationType": operation_type})
        args = ["validate", d, "--json"]
        if workers:
            args += ["--workers", str(workers)]
        if operation_type:
            args += ["--operation-type", operation_type]
        return self._run_report(args, "validate")

    def get_statistics(self, directory: PathLike, operation_type: Optional[str] = None) -> Dict[str, Any]:
        d = _abs(directory)
        server = self._connection()
        if server is not None:
            return self._request(server, "stats", {"dir": d, "operationType": operation_type, "workers": self.workers})
        args = ["stats", d, "--json"] + self._workers_args()
        if operation_type:
            args += ["--operation-type", operation_type]
        return self._run_report(args, "stats")

    def get_format_statistics(self, directory: PathLike) -> Dict[str, Any]:
        d = _abs(directory)
        server = self._connection()
        if server is not None:
            return self._request(server, "formatStats", {"dir": d, "workers": self.workers})
        return self._run_report(["format-stats", d, "--json"] + self._workers_args(), "format-stats")

    def convert_format(self, directory: PathLike, target_format: str, dry_run: bool = False) -> Dict[str, Any]:
        d = _abs(directory)
        server = self._connection()
        if server is not None:
            return self._request(server, "convert", {"dir": d, "format": target_format, "dryRun": dry_run, "workers": self.workers})
        args = ["convert", d, "--format", target_format, "--json"] + self._workers_args()
        if dry_run:
            args.append("--dry-run")
        return self._run_report(args, "convert")

    def cleanup(self, directory: PathLike, dry_run: bool = True) -> Dict[str, Any]:
        """Orphaned sidecars are moved to a quarantine folder (``restore`` undoes it). The report
        always has ``removed`` (0 in a dry run) and a ``message`` like the earlier tool's."""
        d = _abs(directory)
        server = self._connection()
        if server is not None:
            report = self._request(server, "cleanup", {"dir": d, "dryRun": dry_run, "workers": self.workers})
        else:
            args = ["cleanup", d, "--json"] + self._workers_args()
            if dry_run:
                args.append("--dry-run")
            report = self._run_report(args, "cleanup")
        if isinstance(report, dict):
            report.setdefault("removed", 0)
            report.setdefault("message", _cleanup_message(report))
        return report

    # ----------------------------------------------------------------- reorganising

    def move(self, sources: Union[PathLike, List[PathLike]], destination: PathLike, dry_run: bool = False) -> Dict[str, Any]:
        """Move images together with every sidecar of theirs (``image-sidecar mv``): ``destination``
        is a folder, or a new name for one image (its sidecars are renamed alike). Never overwrites.
        The report has ``units`` (each image's files, ``from`` → ``to``), ``done`` and
        ``problems`` (one per source left in place: a name taken there, a shared sidecar...)."""
        return self._transfer("mv", sources, destination, dry_run)

    def copy(self, sources: Union[PathLike, List[PathLike]], destination: PathLike, dry_run: bool = False) -> Dict[str, Any]:
        """Copy images with their sidecars (``image-sidecar cp``); the copies keep their times, so
        the results recorded for an image stay current for its copy."""
        return self._transfer("cp", sources, destination, dry_run)

    def _transfer(self, command: str, sources: Union[PathLike, List[PathLike]], destination: PathLike, dry_run: bool) -> Dict[str, Any]:
        paths = [sources] if isinstance(sources, (str, bytes, os.PathLike)) else list(sources)
        args = [command] + self._key_args() + [_abs(p) for p in paths] + [_abs(destination), "--json"]
        if dry_run:
            args.append("--dry-run")
        return self._run_report(args, command)

    def relink(self, directory: PathLike, dry_run: bool = True, hash_images: bool = False) -> Dict[str, Any]:
        """Orphaned sidecars back next to their images, when those moved or were renamed inside the
        library (``image-sidecar relink``): ``matches`` (sidecar → image, with the ``evidence``),
        ``ambiguous`` (with their ``candidates``), ``unmatched``, ``relinked``. A dry run by
        default; ``restore`` undoes a real one. ``hash_images``: compare the candidates' bytes with a
        recorded sha256."""
        args = ["relink", _abs(directory), "--json"] + self._key_args()
        if dry_run:
            args.append("--dry-run")
        if hash_images:
            args.append("--hash-images")
        return self._run_report(args, "relink")

    def restore(self, directory: PathLike, dry_run: bool = False) -> Dict[str, Any]:
        """Undo the last ``cleanup`` or ``relink`` of the library: ``restored``, ``skipped``."""
        args = ["restore", _abs(directory), "--json"]
        if dry_run:
            args.append("--dry-run")
        return self._run_report(args, "restore")

    def export(self, directory: PathLike, output: PathLike, format: str = "json") -> Dict[str, Any]:
        """Write every sidecar of the tree into ``output`` (json, jsonl or csv). Returns
        ``{exported, output, format, message}``."""
        d, out = _abs(directory), _abs(output)
        server = self._connection()
        if server is not None:
            report = self._request(server, "export", {"dir": d, "output": out, "format": format, "workers": self.workers})
            report.setdefault("message", "Exported %d images to: %s" % (report.get("exported", 0), out))
            return report
        proc = self._run(["export", d, "--output", out, "--format", format] + self._workers_args(), ok_codes=cli.REPORT_CODES)
        for text in (proc.stdout, proc.stderr):
            for line in text.splitlines():
                m = _EXPORTED.search(line)
                if m:
                    return {"exported": int(m.group(1)), "output": out, "format": format, "message": line.strip()}
        raise ImageSidecarError("export did not report a count: %r" % proc.stdout[:200], code="BAD_OUTPUT", stderr=proc.stderr)

    # ----------------------------------------------------------------- datasets (docs/EXPORT.md)

    def export_coco(self, directory: PathLike, output: PathLike, include_faces: bool = False, where: Optional[str] = None,
                    operation: Optional[str] = None, shard: Optional[str] = None) -> Dict[str, Any]:
        """One COCO detection JSON of the tree's object boxes (and face boxes, category ``face``, with
        ``include_faces``). With ``shard="I/N"`` a shard output for :meth:`merge` instead. Returns the
        report (``images, annotations, categories, findings, problems, ...``); sidecars whose boxes
        cannot be read with certainty are findings in it, not exceptions."""
        return self._dataset("coco", directory, output, where, operation, shard, ["--include", "faces"] if include_faces else [])

    def export_yolo(self, directory: PathLike, output_dir: PathLike, include_faces: bool = False, copy_images: bool = False,
                    where: Optional[str] = None, operation: Optional[str] = None, shard: Optional[str] = None) -> Dict[str, Any]:
        """A folder in Ultralytics' layout: ``labels/`` (``class cx cy w h``), ``images/`` (symlinks, or
        copies with ``copy_images``), ``data.yaml``. Returns the report."""
        extra = (["--include", "faces"] if include_faces else []) + (["--copy-images"] if copy_images else [])
        return self._dataset("yolo", directory, output_dir, where, operation, shard, extra)

    def export_embeddings(self, directory: PathLike, output: PathLike, dim: int = 512, where: Optional[str] = None,
                          operation: Optional[str] = None, shard: Optional[str] = None) -> Dict[str, Any]:
        """An N × ``dim`` float32 ``.npy`` matrix at ``output`` and its rows beside it (``.jsonl``);
        read them with :func:`load_embeddings`. Returns the report (``rows, no_encoding, other_dims, ...``)."""
        return self._dataset("embeddings", directory, output, where, operation, shard, ["--dim", str(int(dim))])

    def merge(self, shard_outputs: List[PathLike], output: PathLike) -> Dict[str, Any]:
        """Shard outputs of one dataset export → the file or folder one run writes. Returns the report."""
        args = ["merge"] + [_abs(p) for p in shard_outputs] + ["--output", _abs(output), "--json"]
        return self._run_report(args, "merge")

    def _dataset(self, fmt: str, directory: PathLike, output: PathLike, where: Optional[str], operation: Optional[str],
                 shard: Optional[str], extra: List[str]) -> Dict[str, Any]:
        # Always the CLI: a dataset is one long tree run, a process start is nothing beside it.
        args = ["export", _abs(directory), "--format", fmt, "--output", _abs(output), "--json"] + extra + self._workers_args()
        if where is not None:
            args += ["--where", where]
        if operation is not None:
            args += ["--operation-type", operation]
        if shard is not None:
            args += ["--shard", shard]
        # A shard's answer is where it wrote its output (``{message, output, shard}``); else the report.
        return cli.parse_json(self._run(args, ok_codes=cli.REPORT_CODES), "export")

    #: ``load_embeddings(path, mmap=True)`` → ``(vectors, rows)`` (image_sidecar.datasets).
    load_embeddings = staticmethod(load_embeddings)

    # ----------------------------------------------------------------- what is left to do

    def todo(self, directory: PathLike, operation: str, verify_hash: bool = False,
             image_ext: Optional[Union[str, List[str]]] = None, config: Optional[PathLike] = None) -> Dict[str, Any]:
        """Images that still need ``operation`` (any spelling): no sidecar, no result, a failed
        result or a stale one, in tree order — the document of ``image-sidecar todo DIR --json``::

            report = m.todo("/library", "yolov8")
            for rec in report["todo"]:          # {"image", "reason", "sidecar", "changes"?}
                detect(rec["image"])

        Also ``counts`` (per reason and ``done``), ``problems`` (images that cannot be decided:
        corrupt, encrypted without a key, several sidecars, a link no save pairs with
        (``unpairable``) — never listed), ``problem_count``,
        ``skipped``, ``identity_unknown``, ``scan_complete``. ``verify_hash``: re-hash images whose
        sidecar recorded a sha256. ``image_ext`` / ``config``: extra image extensions, as
        ``--image-ext`` / ``--config`` (the nearest ``.image-sidecar.json`` applies anyway)."""
        return self._image_list("todo", directory, {"operation": operation, "verifyHash": verify_hash}, image_ext, config)

    def stale(self, directory: PathLike, verify_hash: bool = False,
              image_ext: Optional[Union[str, List[str]]] = None, config: Optional[PathLike] = None) -> Dict[str, Any]:
        """Sidecars whose image changed (size, mtime, or content with ``verify_hash``) since their
        results were saved — the document of ``image-sidecar stale DIR --json``: ``stale`` (records
        ``{"image", "sidecar", "changes", "operations", "recorded", "current"}``) and ``counts``
        (``stale``, ``current``, ``unknown``: saved without an image record, never stale); ``problems``
        and ``problem_count`` (images whose sidecar cannot be read: not judged)."""
        return self._image_list("stale", directory, {"verifyHash": verify_hash}, image_ext, config)

    def find(self, directory: PathLike, where: str, operation_type: Optional[str] = None,
             image_ext: Optional[Union[str, List[str]]] = None, config: Optional[PathLike] = None) -> Dict[str, Any]:
        """Images whose sidecar matches ``where`` (docs/QUERY.md, e.g. ``"faces >= 3 and quality.grade
        in [A, B]"``) — the document of ``image-sidecar find DIR --where EXPR --json``: ``matches``
        (records with ``image, sidecar, format, size, operations, success, faces, objects,
        object_classes, embeddings, quality_grade, quality_score``), ``matched``, ``examined``,
        ``problems`` and ``problem_count`` (images whose sidecar cannot be read).
        A bad expression raises ``ImageSidecarError`` (code ``USAGE``, the message points at the column)."""
        return self._image_list("find", directory, {"where": where, "operationType": operation_type}, image_ext, config)

    def _image_list(self, command: str, directory: PathLike, params: Dict[str, Any],
                    image_ext: Optional[Union[str, List[str]]], config: Optional[PathLike]) -> Dict[str, Any]:
        """One implementation for todo / stale / find: the server method of the same name inside
        ``with``, else the CLI command with ``--json`` (both give the same document)."""
        d = _abs(directory)
        exts = None if image_ext is None else (image_ext if isinstance(image_ext, str) else ",".join(image_ext))
        cfg = _abs(config) if config is not None else None
        server = self._connection()
        if server is not None:
            sent = {"dir": d, "workers": self.workers, "imageExt": exts, "config": cfg}
            sent.update({k: v for k, v in params.items() if v is not None and v is not False})
            return self._request(server, command, sent)
        args = [command, d, "--json"] + self._workers_args()
        flags = {"operation": "--operation", "where": "--where", "operationType": "--operation-type"}
        for key, flag in flags.items():
            if params.get(key) is not None:
                args += [flag, str(params[key])]
        if params.get("verifyHash"):
            args.append("--verify-hash")
        if exts is not None:
            args += ["--image-ext", exts]
        if cfg is not None:
            args += ["--config", cfg]
        return self._run_report(args, command)

    # ----------------------------------------------------------------- status

    def get_performance_info(self) -> Dict[str, Any]:
        """image-sidecar's performance information plus the keys callers of the earlier wrapper read
        (``rust_available``, ``rust_binary_path``, ``fallback_enabled``, ``max_workers``, ``timeout``).
        Never raises for a missing installation: it reports ``available: False`` instead."""
        info: Dict[str, Any] = {}
        if self.available:
            server = self._connection()
            if server is not None:
                info = dict(server.request("performanceInfo", {}))
            else:
                info = dict(cli.parse_json(self._run(["doctor", "--json"]), "doctor"))
        else:
            info["reason"] = self._not_found_reason
        info.update(
            {
                "available": self.available,
                "binary_path": self.binary_path,
                "rust_available": self.available,
                "rust_binary_path": self.binary_path,
                "fallback_enabled": False,
                "max_workers": self.workers if self.workers is not None else info.get("workers", os.cpu_count()),
                "timeout": self.timeout,
            }
        )
        return info

    def ping(self) -> Dict[str, Any]:
        """Round trip to the server (inside ``with``) — or just the version through the CLI."""
        server = self._connection()
        if server is not None:
            return server.request("ping", {})
        return {"pong": True, "version": self._run(["--version"]).stdout.strip()}

    def _workers_args(self) -> List[str]:
        return ["--workers", str(self.workers)] if self.workers else []


# Managers alive in this process; after fork() the child drops each one's server (see _after_fork_in_child).
_MANAGERS: "weakref.WeakSet[ImageSidecarManager]" = weakref.WeakSet()


def _track_for_fork(m: ImageSidecarManager) -> None:
    _MANAGERS.add(m)


def _after_fork_in_child() -> None:
    for m in list(_MANAGERS):
        m._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
