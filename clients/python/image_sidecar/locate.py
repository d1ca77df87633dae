"""Finding the image-sidecar CLI: argument, then the executable this package carries (a platform
wheel: ``image_sidecar/_bin/image-sidecar``, the engine it was built with), then IMAGE_SIDECAR_BIN, then SPORTBALL_RUST_BINARY_PATH
(the earlier tool's integration guide), then PATH under each of its names (``image-sidecar``,
``image-sidecar-rust``, ``sportball-sidecar-rust``), then where the guide's wrapper looks
(``/usr/local/bin``), then node_modules.

The first place that is *given* decides: an explicit argument or a variable that points at nothing
makes the client unavailable (with that reason) instead of silently using another copy. The
earlier tool's names installed by ``pip`` as our own console scripts (image_sidecar.aliases) run this
lookup themselves, so they are passed over: they are not the engine.
"""
from __future__ import annotations

import os
import shutil
import sys
from typing import List, NamedTuple, Optional

BIN_NAME = "image-sidecar"
# The engine under the earlier tool's names (npm installs both links; the standalone executable too).
LEGACY_BIN_NAMES = ("image-sidecar-rust", "sportball-sidecar-rust")
ENV_BIN = "IMAGE_SIDECAR_BIN"
LEGACY_ENV_BIN = "SPORTBALL_RUST_BINARY_PATH"
# Where the earlier tool's implementation guide installs and looks for its binary.
GUIDE_DIRS = ("/usr/local/bin",)
# Also honoured so that a pipeline can pick the Node.js used for a cli.cjs path.
ENV_NODE = "IMAGE_SIDECAR_NODE"
_JS_SUFFIXES = (".js", ".mjs", ".cjs")


class Located(NamedTuple):
    """``command`` is what to run (e.g. ``["node", ".../cli.cjs"]``); None when not found."""

    command: Optional[List[str]]
    binary_path: Optional[str]
    reason: str


def _node_modules_bins(start: str) -> List[str]:
    names = [BIN_NAME + ".cmd", BIN_NAME] if sys.platform == "win32" else [BIN_NAME]
    out = []
    d = os.path.abspath(start)
    while True:
        for n in names:
            out.append(os.path.join(d, "node_modules", ".bin", n))
        parent = os.path.dirname(d)
        if parent == d:
            return out
        d = parent


def _command_for(path: str) -> Located:
    """How to run a found file: a JavaScript file goes through node."""
    path = os.path.abspath(path)
    if path.lower().endswith(_JS_SUFFIXES):
        node = os.environ.get(ENV_NODE) or shutil.which("node")
        if not node:
            return Located(None, path, "%s is a JavaScript file but `node` is not on PATH (or set %s)" % (path, ENV_NODE))
        return Located([node, path], path, "")
    return Located([path], path, "")


def _resolve_given(value: str, source: str) -> Located:
    if os.path.isfile(value):
        return _command_for(value)
    if os.sep not in value and (os.altsep is None or os.altsep not in value):
        found = shutil.which(value)
        if found:
            return _command_for(found)
    return Located(None, None, "%s points at %r, which does not exist" % (source, value))


def _is_our_alias(path: str) -> bool:
    """A console script of this package (``image-sidecar-rust`` installed by pip): a small Python
    launcher of image_sidecar.aliases, which would look the engine up again."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return head.startswith(b"#!") and b"image_sidecar.aliases" in head


def _engine_on_path() -> Optional[str]:
    for name in (BIN_NAME,) + LEGACY_BIN_NAMES:
        found = shutil.which(name)
        if found and not _is_our_alias(found):
            return found
    for d in GUIDE_DIRS:
        for name in (BIN_NAME,) + LEGACY_BIN_NAMES:
            p = os.path.join(d, name)
            if os.path.isfile(p) and os.access(p, os.X_OK) and not _is_our_alias(p):
                return p
    return None


# The standalone executable a platform wheel carries beside this module (npm run build:wheel): the
# engine this client was built with, so it comes before the environment's choices; `binary_path`
# (the caller's own) still wins.
CARRIED_BIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_bin", BIN_NAME)


def locate_binary(binary_path: Optional[str] = None, cwd: Optional[str] = None) -> Located:
    if binary_path:
        return _resolve_given(str(binary_path), "binary_path")
    if os.path.isfile(CARRIED_BIN) and os.access(CARRIED_BIN, os.X_OK):
        return _command_for(CARRIED_BIN)
    for var in (ENV_BIN, LEGACY_ENV_BIN):
        env = os.environ.get(var)
        if env:
            return _resolve_given(env, var)
    found = _engine_on_path()
    if found:
        return _command_for(found)
    for candidate in _node_modules_bins(cwd or os.getcwd()):
        if os.path.isfile(candidate):
            return _command_for(candidate)
    return Located(None, None, "`%s` was not found (no %s or %s, none of %s on PATH or in %s, no node_modules/.bin/%s above %s)"
                   % (BIN_NAME, ENV_BIN, LEGACY_ENV_BIN, ", ".join((BIN_NAME,) + LEGACY_BIN_NAMES), ", ".join(GUIDE_DIRS), BIN_NAME, cwd or os.getcwd()))
