"""Per-image read_data from Python (issues 18 and 19), printed as JSON for bench/python-reads.ts.

    python3 bench/python_reads.py --json-lib DIR --bin-lib DIR --client clients/python [--runs 5]

Every image of the libraries (same images, same order), one call per image, median of --runs
passes after a warm-up pass:
- floor: the plain loop a pipeline writes (resolve the link, try .bin/.rkyv/.json, json.loads);
- ImageSidecarManager.read_data inside `with` (local read path) on the JSON library and on its
  bin copy; and with the local path switched off (every read through serve --stdio);
- image_sidecar_rust: a new ImageSidecar() per image, then read_data (JSON library).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from typing import Any, Callable, Dict, List, Tuple

IMAGE_EXTS = {"jpg", "jpeg", "png", "tif", "tiff", "bmp", "webp", "heic", "heif", "cr2", "cr3", "nef", "arw", "dng", "raf", "orf", "rw2"}


def images_of(root: str) -> List[str]:
    out = []
    for d, dirs, files in os.walk(root):
        dirs[:] = sorted(x for x in dirs if not x.startswith("."))
        for f in sorted(files):
            if "." in f and f.rsplit(".", 1)[1].lower() in IMAGE_EXTS:
                out.append(os.path.join(d, f))
    return out


def plain_read(image: str) -> Dict[str, Any]:
    """What the issue measured: a plain Python loop, no checks."""
    p = os.path.realpath(image)
    stem = os.path.splitext(p)[0]
    for ext in (".bin", ".rkyv", ".json"):
        try:
            f = open(stem + ext, "rb")
        except OSError:
            continue
        with f:
            raw = f.read()
        if ext != ".json":
            return {}
        try:
            return json.loads(raw)
        except ValueError:
            return {}
    return {}


def one_pass(fn: Callable[[str], Any], images: List[str]) -> Tuple[float, float]:
    """(wall, CPU) seconds of one call per image. CPU is this process's (user + system): for the
    in-process rows it is their whole cost, and a shared machine's load does not inflate it."""
    c0 = time.process_time()
    t0 = time.perf_counter()
    for img in images:
        try:
            fn(img)
        except Exception:  # noqa: BLE001 - corrupt sidecars are errors for the clients; the time still counts
            pass
    return time.perf_counter() - t0, time.process_time() - c0


def timed_rows(rows: Dict[str, Tuple[Callable[[str], Any], List[str]]], runs: int) -> Dict[str, Dict[str, Any]]:
    """Every row once per run, interleaved (a load change on the machine hits every row alike), in
    an order rotated by one row per run: no row always follows the server row (which sleeps on the
    pipe while Node works, then leaves Node's after-work on the CPUs). A warm-up pass first (page
    cache, imports, server start). Median per row."""
    for fn, images in rows.values():
        one_pass(fn, images)
    names = list(rows)
    times: Dict[str, List[Tuple[float, float]]] = {name: [] for name in rows}
    for run in range(runs):
        for name in names[run % len(names):] + names[:run % len(names)]:
            fn, images = rows[name]
            times[name].append(one_pass(fn, images))
    out: Dict[str, Dict[str, Any]] = {}
    for name, t in times.items():
        n = len(rows[name][1])
        out[name] = {
            "us_per_image": statistics.median(w for w, _ in t) / n * 1e6,
            "cpu_us_per_image": statistics.median(c for _, c in t) / n * 1e6,
            "runs_s": [round(w, 4) for w, _ in t],
        }
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json-lib", required=True)
    ap.add_argument("--bin-lib", required=True)
    ap.add_argument("--client", required=True)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    sys.path.insert(0, args.client)
    from image_sidecar import ImageSidecarManager
    from image_sidecar_rust import ImageSidecar

    json_images = images_of(args.json_lib)
    bin_images = [os.path.join(args.bin_lib, os.path.relpath(p, args.json_lib)) for p in json_images]
    out: Dict[str, Any] = {"images": len(json_images)}

    def compat(img: str) -> Any:
        return ImageSidecar().read_data(img)

    with ImageSidecarManager() as m, ImageSidecarManager() as m_bin, ImageSidecarManager(local_reads=False) as m_server:
        out.update(timed_rows({
            "plain_json_loads_loop": (plain_read, json_images),
            "client_local_json": (m.read_data, json_images),
            "client_local_bin": (m_bin.read_data, bin_images),
            "client_server_json": (m_server.read_data, json_images),
            "compat_json": (compat, json_images),
        }, args.runs))
        out["read_paths_json"] = dict(m.read_counts)
        out["read_paths_bin"] = dict(m_bin.read_counts)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
