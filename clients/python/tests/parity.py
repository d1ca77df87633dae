"""Parity of the local read path with the library, and the decoder under fuzzing.

    python3 tests/parity.py --roots DIR [DIR ...] [--fuzz MANIFEST] [--budget-s 2]

``--roots``: every image file (and symlink, and a few paths that do not exist) under each root is
read twice: locally (image_sidecar.local.read_local) and by the library (``read`` through
``serve --stdio``). When the local path answers, the library must answer the same data with the
same types (int vs float, -0.0, big ints), or — when the local path raises the library's error
itself (a corrupt sidecar it is certain of) — the same error: code, message, path and details;
when the local path hands over, the library's answer is what the client returns anyway. Counts and every mismatch are printed as one JSON object.

``--fuzz``: a JSON-lines manifest written by test/python-parity.test.ts from the library's fuzz
corpus (test/reliability/fuzz-inputs.ts): ``{"file", "ok", "code"?, "json"?}`` per input, with the
library's own verdict. The local decoder must return or raise NotLocal (nothing else), within the
time budget, and never accept what the library rejects or read different values; where it is
certain of the library's CORRUPT error (KnownCorrupt), the library's message must be exactly its.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(_HERE))

from image_sidecar import ImageSidecarError, ImageSidecarManager  # noqa: E402
from image_sidecar.decode import KnownCorrupt, NotLocal, decode_sidecar  # noqa: E402
from image_sidecar.local import read_local  # noqa: E402

IMAGE_EXTS = {"jpg", "jpeg", "png", "tif", "tiff", "bmp", "webp", "heic", "heif", "cr2", "cr3", "nef", "arw", "dng", "raf", "orf", "rw2"}


def same_typed(a: Any, b: Any) -> bool:
    """Equal values of equal JSON types: 25 != 25.0, -0.0 != 0.0, key order ignored."""
    if type(a) is not type(b):
        return False
    if type(a) is float:
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    if type(a) is dict:
        return a.keys() == b.keys() and all(same_typed(v, b[k]) for k, v in a.items())
    if type(a) is list:
        return len(a) == len(b) and all(same_typed(x, y) for x, y in zip(a, b))
    return a == b


def same_value(a: Any, b: Any) -> bool:
    """Equal as numbers where both are numbers (sign of zero kept), else as same_typed."""
    num = (int, float)
    if isinstance(a, num) and isinstance(b, num) and not isinstance(a, bool) and not isinstance(b, bool):
        if a == 0 and b == 0:
            return math.copysign(1.0, a) == math.copysign(1.0, b)
        return a == b
    if type(a) is not type(b):
        return False
    if type(a) is dict:
        return a.keys() == b.keys() and all(same_value(v, b[k]) for k, v in a.items())
    if type(a) is list:
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    return a == b


def same_as_double(a: Any, b: Any) -> bool:
    """What a library without exact number types can give: every number as the nearest double,
    -0 as 0 (JSON.stringify(-0) is "0")."""
    num = (int, float)
    if isinstance(a, num) and isinstance(b, num) and not isinstance(a, bool) and not isinstance(b, bool):
        try:
            return float(a) == float(b)
        except OverflowError:
            return False
    if type(a) is not type(b):
        return False
    if type(a) is dict:
        return a.keys() == b.keys() and all(same_as_double(v, b[k]) for k, v in a.items())
    if type(a) is list:
        return len(a) == len(b) and all(same_as_double(x, y) for x, y in zip(a, b))
    return a == b


def image_paths(root: str) -> List[str]:
    out = []
    for d, dirs, files in os.walk(root):
        dirs.sort()
        for f in sorted(files) + sorted(x for x in dirs if os.path.islink(os.path.join(d, x))):
            ext = f.rsplit(".", 1)[-1].lower() if "." in f else ""
            if ext in IMAGE_EXTS:
                out.append(os.path.join(d, f))
    out.append(os.path.join(root, "no-such-image.jpg"))
    out.append(root)  # a directory: an error from both sides
    return out


NUMBER_PROBE = '{"f": 25.0, "z": -0.0, "big": 12345678901234567891, "i": 7}'


def library_keeps_number_types(m: ImageSidecarManager, scratch: str) -> bool:
    """Does this library read 25.0 as a float, -0.0 with its sign and big ints exactly?"""
    os.makedirs(scratch, exist_ok=True)
    with open(os.path.join(scratch, "probe.jpg"), "wb") as f:
        f.write(b"jpeg")
    with open(os.path.join(scratch, "probe.json"), "w", encoding="utf-8") as f:
        f.write(NUMBER_PROBE)
    server = m._connection()
    assert server is not None
    got = server.request("read", {"image": os.path.join(scratch, "probe.jpg")})
    return same_typed(got, json.loads(NUMBER_PROBE))


def compare_roots(roots: List[str], m: ImageSidecarManager, typed: bool = True) -> Dict[str, Any]:
    counts = {"images": 0, "local": 0, "local_errors": 0, "handed_over": 0, "library_errors": 0}
    mismatches: List[Dict[str, Any]] = []
    reasons: Dict[str, int] = {}
    server = m._connection()
    assert server is not None
    same = same_typed if typed else same_as_double
    for root in roots:
        for image in image_paths(root):
            counts["images"] += 1
            local: Optional[Dict[str, Any]] = None
            local_error: Optional[Tuple[Any, ...]] = None
            try:
                local = read_local(image)
            except NotLocal as e:
                key = e.reason[:90] if e.reason.startswith("local decoder failed") else e.reason.split(":")[0][:60]
                reasons[key] = reasons.get(key, 0) + 1
            except ImageSidecarError as e:  # the library's error, known locally: it must be the same, word for word
                local_error = (e.code, e.message, e.path, e.details)
            try:
                lib: Tuple[str, Any] = ("ok", server.request("read", {"image": image}))
            except ImageSidecarError as e:
                lib = ("error", (e.code, e.message, e.path, e.details))
                counts["library_errors"] += 1
            if local_error is not None:
                counts["local"] += 1
                counts["local_errors"] += 1
                if lib != ("error", local_error):
                    mismatches.append({"image": image, "local": list(local_error), "library": lib[1] if lib[0] == "error" else _show(lib[1])})
                continue
            if local is None:
                counts["handed_over"] += 1
                continue
            counts["local"] += 1
            if lib[0] != "ok":
                mismatches.append({"image": image, "local": "ok", "library": lib[1]})
            elif not same(local, lib[1]):
                mismatches.append({"image": image, "local": _show(local), "library": _show(lib[1])})
    return {"counts": counts, "handed_over_because": reasons, "mismatches": mismatches[:20], "mismatch_count": len(mismatches),
            "compared": "with types" if typed else "by value (as doubles)"}


def _show(v: Any) -> str:
    return json.dumps(v, default=repr)[:400] + " " + _types(v)[:200]


def _types(v: Any) -> str:
    if isinstance(v, dict):
        return "{" + ",".join("%s:%s" % (k, _types(x)) for k, x in list(v.items())[:6]) + "}"
    if isinstance(v, list):
        return "[" + ",".join(_types(x) for x in v[:4]) + "]"
    return type(v).__name__


def fuzz(manifest: str, budget_s: float) -> Dict[str, Any]:
    base = os.path.dirname(manifest)
    out = {"inputs": 0, "local_ok": 0, "not_local": 0, "known_corrupt": 0, "known_corrupt_mismatches": [], "crashes": [], "slow": [],
           "accepted_but_library_rejects": [], "different_values": []}
    worst = 0.0
    with open(manifest, encoding="utf-8") as f:
        for line in f:
            case = json.loads(line)
            with open(os.path.join(base, case["file"]), "rb") as fh:
                raw = fh.read()
            out["inputs"] += 1
            t0 = time.perf_counter()
            try:
                data, _fmt = decode_sidecar(raw)
                ok = True
            except KnownCorrupt as e:
                # Certain only if the library says exactly this (its message, decoded without a path).
                ok = False
                out["known_corrupt"] += 1
                if case["ok"] or case.get("code") != "CORRUPT" or case.get("message") != e.detail:
                    out["known_corrupt_mismatches"].append("%s: local %r, library %s %r" % (case["file"], e.detail, case.get("code"), case.get("message")))
            except NotLocal:
                ok = False
            except BaseException as e:  # noqa: BLE001 - exactly what this test looks for
                out["crashes"].append("%s: %s: %s" % (case["file"], type(e).__name__, str(e)[:200]))
                continue
            took = time.perf_counter() - t0
            worst = max(worst, took)
            if took > budget_s:
                out["slow"].append("%s: %.2f s" % (case["file"], took))
            if not ok:
                out["not_local"] += 1
                continue
            out["local_ok"] += 1
            if not case["ok"]:
                out["accepted_but_library_rejects"].append("%s (library: %s)" % (case["file"], case.get("code")))
            elif not same_value(data, json.loads(case["json"])):
                out["different_values"].append(case["file"])
    out["worst_seconds"] = round(worst, 4)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--roots", nargs="*", default=[])
    ap.add_argument("--fuzz")
    ap.add_argument("--budget-s", type=float, default=2.0)
    args = ap.parse_args()
    report: Dict[str, Any] = {}
    if args.roots:
        import tempfile
        with ImageSidecarManager() as m, tempfile.TemporaryDirectory() as scratch:
            typed = library_keeps_number_types(m, scratch)
            report["parity"] = compare_roots(args.roots, m, typed)
    if args.fuzz:
        report["fuzz"] = fuzz(args.fuzz, args.budget_s)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
