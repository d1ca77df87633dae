"""A tiny PEP 517 build backend: the standard library only, so that

    pip install --no-index ./clients/python

works offline in a fresh venv, whose pip and setuptools come without ``wheel`` (setuptools then
fails with ``invalid command 'bdist_wheel'``). It builds a pure-Python wheel with ``zipfile``
(and an editable wheel: a ``.pth`` file pointing at this folder), and an sdist with ``tarfile``.

What goes in: the packages and console scripts named in ``pyproject.toml`` (``[tool.isc-build]``),
the ``[project]`` metadata. Nothing else is read or run.

Run as a script (``npm run build:wheel``), it builds the platform wheel instead: the same, plus the
standalone executable given on its command line (``image_sidecar/_bin/image-sidecar``, tagged
``manylinux_2_28_x86_64``: the Node.js it is made of asks no newer glibc symbol).
"""
from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import tarfile
import time
import zipfile
from typing import Any, Dict, List, Optional, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WHEEL_TAG = "py3-none-any"
# A platform wheel carries the standalone executable (npm run build:wheel): Linux x86-64, glibc >= 2.28
# (the Node.js it is made of asks no newer symbol: GLIBC_2.28, GLIBCXX_3.4.21).
PLATFORM_TAG = "py3-none-manylinux_2_28_x86_64"
# Where the executable goes in the wheel (image_sidecar/locate.py finds it there first).
EXECUTABLE_IN_WHEEL = "image_sidecar/_bin/image-sidecar"
# Reproducible archives: fixed timestamps (zip cannot store dates before 1980).
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


# ---------------------------------------------------------------------------- pyproject.toml

def _parse_value(text: str) -> Any:
    """The TOML values this file uses: strings, booleans, arrays of strings, inline tables of strings."""
    text = text.strip()
    if text.startswith('"'):
        return _parse_string(text)
    if text in ("true", "false"):
        return text == "true"
    if text.startswith("["):
        inner = text[1:-1].strip()
        return [_parse_value(p) for p in _split_top(inner)] if inner else []
    if text.startswith("{"):
        inner = text[1:-1].strip()
        out = {}
        for part in _split_top(inner):
            k, _, v = part.partition("=")
            out[k.strip().strip('"')] = _parse_value(v)
        return out
    raise ValueError("unsupported TOML value: %r" % text)


def _parse_string(text: str) -> str:
    m = re.match(r'"((?:[^"\\]|\\.)*)"$', text)
    if not m:
        raise ValueError("unsupported TOML string: %r" % text)
    return m.group(1).encode("utf-8").decode("unicode_escape") if "\\" in m.group(1) else m.group(1)


def _split_top(text: str) -> List[str]:
    """Split on commas outside strings, brackets and braces; drop a trailing empty item."""
    parts, depth, cur, in_str, esc = [], 0, [], False, False
    for ch in text:
        if in_str:
            cur.append(ch)
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
            continue
        if ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    last = "".join(cur).strip()
    if last:
        parts.append(last)
    return parts


def parse_pyproject(text: str) -> Dict[str, Dict[str, Any]]:
    """A subset of TOML, enough for our own pyproject.toml (tables, key = value, multi-line arrays).
    tomllib exists only from Python 3.11; we support 3.9."""
    tables: Dict[str, Dict[str, Any]] = {}
    current = tables.setdefault("", {})
    pending: Optional[Tuple[str, List[str]]] = None
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].rstrip() if '"' not in raw else _strip_comment(raw)
        if pending is not None:
            pending[1].append(line)
            joined = " ".join(pending[1])
            if joined.count("[") == joined.count("]"):
                current[pending[0]] = _parse_value(joined)
                pending = None
            continue
        if not line.strip():
            continue
        m = re.match(r"^\s*\[([^\[\]]+)\]\s*$", line)
        if m:
            current = tables.setdefault(m.group(1).strip(), {})
            continue
        key, eq, value = line.partition("=")
        if not eq:
            raise ValueError("unsupported pyproject.toml line: %r" % raw)
        key = key.strip().strip('"')
        value = value.strip()
        if value.startswith("[") and value.count("[") != value.count("]"):
            pending = (key, [value])
            continue
        current[key] = _parse_value(value)
    return tables


def _strip_comment(line: str) -> str:
    in_str, esc = False, False
    for i, ch in enumerate(line):
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch == "#":
            return line[:i].rstrip()
    return line.rstrip()


def _config() -> Dict[str, Dict[str, Any]]:
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as f:
        return parse_pyproject(f.read())


# ---------------------------------------------------------------------------- metadata

def _dist_name(cfg: Dict[str, Dict[str, Any]]) -> str:
    return re.sub(r"[-_.]+", "_", cfg["project"]["name"]).lower()


def _metadata(cfg: Dict[str, Dict[str, Any]]) -> str:
    p = cfg["project"]
    lines = ["Metadata-Version: 2.1", "Name: %s" % p["name"], "Version: %s" % p["version"]]
    if p.get("description"):
        lines.append("Summary: %s" % p["description"])
    if p.get("requires-python"):
        lines.append("Requires-Python: %s" % p["requires-python"])
    lic = p.get("license")
    if isinstance(lic, dict) and lic.get("text"):
        lines.append("License: %s" % lic["text"])
    for c in p.get("classifiers", []):
        lines.append("Classifier: %s" % c)
    for d in p.get("dependencies", []):
        lines.append("Requires-Dist: %s" % d)
    body = ""
    readme = p.get("readme")
    if readme:
        lines.append("Description-Content-Type: text/markdown")
        with open(os.path.join(ROOT, readme), encoding="utf-8") as f:
            body = f.read()
    return "\n".join(lines) + "\n\n" + body


def _entry_points(cfg: Dict[str, Dict[str, Any]]) -> str:
    scripts = cfg.get("project.scripts", {})
    if not scripts:
        return ""
    return "[console_scripts]\n" + "".join("%s = %s\n" % kv for kv in sorted(scripts.items()))


def _package_files(cfg: Dict[str, Dict[str, Any]]) -> List[str]:
    """Relative paths of the files of every package: its .py files and py.typed, no caches."""
    out: List[str] = []
    for pkg in cfg["tool.isc-build"]["packages"]:
        base = os.path.join(ROOT, pkg)
        for d, dirs, files in os.walk(base):
            dirs[:] = sorted(x for x in dirs if x != "__pycache__")
            for f in sorted(files):
                if f.endswith(".py") or f == "py.typed":
                    out.append(os.path.relpath(os.path.join(d, f), ROOT).replace(os.sep, "/"))
    return out


# ---------------------------------------------------------------------------- wheel

class _Wheel:
    def __init__(self, path: str) -> None:
        self.zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED)
        self.records: List[str] = []

    def add(self, name: str, data: bytes, mode: int = 0o644) -> None:
        info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
        # A regular file's type bits with its mode: pip keeps the exec bits of a regular file only.
        info.external_attr = (0o100000 | mode) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        self.zip.writestr(info, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")
        self.records.append("%s,sha256=%s,%d" % (name, digest, len(data)))

    def close(self, record_name: str) -> None:
        self.records.append("%s,," % record_name)
        info = zipfile.ZipInfo(record_name, date_time=ZIP_DATE)
        info.external_attr = 0o644 << 16
        self.zip.writestr(info, "\n".join(self.records) + "\n")
        self.zip.close()


def _dist_info_files(cfg: Dict[str, Dict[str, Any]], tops: List[str], tag: str = WHEEL_TAG) -> Dict[str, bytes]:
    purelib = "true" if tag == WHEEL_TAG else "false"
    files = {
        "METADATA": _metadata(cfg).encode("utf-8"),
        "WHEEL": ("Wheel-Version: 1.0\nGenerator: isc_build\nRoot-Is-Purelib: %s\nTag: %s\n" % (purelib, tag)).encode(),
        "top_level.txt": "".join(t + "\n" for t in tops).encode(),
    }
    ep = _entry_points(cfg)
    if ep:
        files["entry_points.txt"] = ep.encode()
    return files


def _build(wheel_directory: str, editable: bool, executable: Optional[str] = None) -> str:
    cfg = _config()
    name, version = _dist_name(cfg), cfg["project"]["version"]
    dist_info = "%s-%s.dist-info" % (name, version)
    tag = PLATFORM_TAG if executable else WHEEL_TAG
    filename = "%s-%s-%s.whl" % (name, version, tag)
    os.makedirs(wheel_directory, exist_ok=True)
    packages = cfg["tool.isc-build"]["packages"]
    wheel = _Wheel(os.path.join(wheel_directory, filename))
    try:
        if editable:
            # The source folder goes on sys.path: edits take effect without reinstalling.
            wheel.add("__editable__.%s.pth" % name, (ROOT + "\n").encode("utf-8"))
        else:
            for rel in _package_files(cfg):
                with open(os.path.join(ROOT, rel), "rb") as f:
                    wheel.add(rel, f.read())
            if executable:
                with open(executable, "rb") as f:
                    wheel.add(EXECUTABLE_IN_WHEEL, f.read(), mode=0o755)
        for fname, data in _dist_info_files(cfg, packages, tag).items():
            wheel.add("%s/%s" % (dist_info, fname), data)
        wheel.close("%s/RECORD" % dist_info)
    except BaseException:
        wheel.zip.close()
        os.unlink(os.path.join(wheel_directory, filename))
        raise
    return filename


# ---------------------------------------------------------------------------- PEP 517 / 660 hooks

def get_requires_for_build_wheel(config_settings: Optional[dict] = None) -> List[str]:
    return []


def get_requires_for_build_sdist(config_settings: Optional[dict] = None) -> List[str]:
    return []


def get_requires_for_build_editable(config_settings: Optional[dict] = None) -> List[str]:
    return []


def prepare_metadata_for_build_wheel(metadata_directory: str, config_settings: Optional[dict] = None) -> str:
    cfg = _config()
    dist_info = "%s-%s.dist-info" % (_dist_name(cfg), cfg["project"]["version"])
    os.makedirs(os.path.join(metadata_directory, dist_info), exist_ok=True)
    for fname, data in _dist_info_files(cfg, cfg["tool.isc-build"]["packages"]).items():
        with open(os.path.join(metadata_directory, dist_info, fname), "wb") as f:
            f.write(data)
    return dist_info


prepare_metadata_for_build_editable = prepare_metadata_for_build_wheel


def build_wheel(wheel_directory: str, config_settings: Optional[dict] = None, metadata_directory: Optional[str] = None) -> str:
    return _build(wheel_directory, editable=False)


def build_editable(wheel_directory: str, config_settings: Optional[dict] = None, metadata_directory: Optional[str] = None) -> str:
    return _build(wheel_directory, editable=True)


def build_sdist(sdist_directory: str, config_settings: Optional[dict] = None) -> str:
    cfg = _config()
    base = "%s-%s" % (_dist_name(cfg), cfg["project"]["version"])
    rels = ["pyproject.toml", "README.md", "_backend/isc_build.py"] + _package_files(cfg)
    rels += ["tests/" + f for f in sorted(os.listdir(os.path.join(ROOT, "tests"))) if f.endswith(".py")]
    os.makedirs(sdist_directory, exist_ok=True)
    filename = base + ".tar.gz"
    pkg_info = _metadata(cfg).encode("utf-8")
    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz", format=tarfile.PAX_FORMAT) as tar:
        def add(rel: str, data: bytes) -> None:
            info = tarfile.TarInfo("%s/%s" % (base, rel))
            info.size, info.mode, info.mtime = len(data), 0o644, 315532800
            tar.addfile(info, io.BytesIO(data))
        for rel in rels:
            with open(os.path.join(ROOT, rel), "rb") as f:
                add(rel, f.read())
        add("PKG-INFO", pkg_info)
    return filename


def build_platform_wheel(wheel_directory: str, executable: str) -> str:
    """The wheel with the standalone executable inside (``npm run build:wheel``)."""
    if not (os.path.isfile(executable) and os.access(executable, os.X_OK)):
        raise FileNotFoundError("no executable at %s (npm run build:exe)" % executable)
    # The tag says Linux x86-64: an ELF file for that machine (64-bit, little-endian, e_machine 62).
    with open(executable, "rb") as f:
        head = f.read(20)
    if len(head) < 20 or head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1 or int.from_bytes(head[18:20], "little") != 62:
        raise ValueError("%s is not a Linux x86-64 executable: it cannot go into a %s wheel" % (executable, PLATFORM_TAG))
    return _build(wheel_directory, editable=False, executable=executable)


if __name__ == "__main__":
    # python3 _backend/isc_build.py EXECUTABLE OUT_DIR
    import sys

    if len(sys.argv) != 3:
        sys.stderr.write("usage: isc_build.py EXECUTABLE OUT_DIR\n")
        sys.exit(2)
    print(os.path.join(sys.argv[2], build_platform_wheel(sys.argv[2], sys.argv[1])))
