"""Finding the image-sidecar CLI: argument, then IMAGE_SIDECAR_BIN, then PATH, then node_modules.

The first place that is *given* decides: an explicit argument or IMAGE_SIDECAR_BIN that points at
nothing makes the client unavailable (with that reason) instead of silently using another copy.
"""
from __future__ import annotations

import os
import shutil
import sys
from typing import List, NamedTuple, Optional

BIN_NAME = "image-sidecar"
ENV_BIN = "IMAGE_SIDECAR_BIN"
# Also honoured so that a pipeline can pick the Node.js used for a cli.js path.
ENV_NODE = "IMAGE_SIDECAR_NODE"
_JS_SUFFIXES = (".js", ".mjs", ".cjs")


class Located(NamedTuple):
    """``command`` is what to run (e.g. ``["node", ".../cli.js"]``); None when not found."""

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


def locate_binary(binary_path: Optional[str] = None, cwd: Optional[str] = None) -> Located:
    if binary_path:
        return _resolve_given(str(binary_path), "binary_path")
    env = os.environ.get(ENV_BIN)
    if env:
        return _resolve_given(env, ENV_BIN)
    found = shutil.which(BIN_NAME)
    if found:
        return _command_for(found)
    for candidate in _node_modules_bins(cwd or os.getcwd()):
        if os.path.isfile(candidate):
            return _command_for(candidate)
    return Located(None, None, "`%s` was not found (no %s, not on PATH, no node_modules/.bin/%s above %s)"
                   % (BIN_NAME, ENV_BIN, BIN_NAME, cwd or os.getcwd()))
