"""Replay of every CLI call the earlier tool's Python wrappers make (LEGACY.md, "Calls seen"),
run exactly as they run it: subprocess.run(argv, capture_output=True, text=True), parsing stdout.
Only the executable differs: image-sidecar instead of image-sidecar-rust.
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import unittest

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(_HERE), _HERE]  # the package and the test helpers, without installing

from image_sidecar import ImageSidecarManager  # noqa: E402
from _library import Library, require_cli  # noqa: E402

OLD_RESULT_KEYS = {"file_path", "is_valid", "error", "processing_time", "file_size", "detection_count", "tool_name"}
OLD_STATS_KEYS = {"directory", "total_images", "symlink_count", "broken_symlinks", "total_sidecars", "coverage_percentage",
                  "operation_counts", "avg_processing_times", "success_rate_percentages", "avg_data_sizes", "filter_applied"}


class LegacyReplayTest(unittest.TestCase):
    def setUp(self) -> None:
        require_cli(self)
        self.binary = ImageSidecarManager().command  # e.g. [node, .../cli.js]
        self.lib = Library()
        self.D = self.lib.root

    def tearDown(self) -> None:
        self.lib.remove()

    def call(self, *args: str) -> "subprocess.CompletedProcess[str]":
        return subprocess.run(self.binary + list(args), capture_output=True, text=True)

    def json_stdout(self, proc: "subprocess.CompletedProcess[str]") -> dict:
        """stdout must be exactly one JSON document: no log lines, no colour codes."""
        self.assertNotIn("\x1b[", proc.stdout)
        try:
            return json.loads(proc.stdout)
        except ValueError as e:
            self.fail("stdout is not one complete JSON document (%s): %r\nstderr: %s" % (e, proc.stdout[:300], proc.stderr))

    def test_validate(self) -> None:
        proc = self.call("validate", "--input", self.D, "--workers", "4")
        # Our validate exits 1 when it finds invalid files (the corrupt one); stdout is still whole.
        self.assertEqual(proc.returncode, 1, proc.stderr)
        report = self.json_stdout(proc)
        self.assertEqual(report["total_files"], len(report["results"]))
        self.assertEqual(report["total_files"], report["valid_files"] + report["invalid_files"])
        for r in report["results"]:
            self.assertTrue(OLD_RESULT_KEYS <= set(r), sorted(OLD_RESULT_KEYS - set(r)))
        by_path = {r["file_path"]: r for r in report["results"]}
        corrupt = by_path[os.path.join(self.lib.day, "20250920_143024.json")]
        self.assertFalse(corrupt["is_valid"])
        self.assertTrue(corrupt["error"])
        merged = by_path[os.path.join(self.lib.day, "20250920_143022.json")]
        self.assertTrue(merged["is_valid"], merged["error"])
        self.assertEqual(merged["detection_count"], 4, "2 faces + 2 objects")
        self.assertNotIn(self.lib.report, by_path, "a directory-level report is not a sidecar")

        proc = self.call("validate", "--input", self.D, "--workers", "4", "--operation-type", "yolov8")
        self.assertIn(proc.returncode, (0, 1), proc.stderr)
        filtered = self.json_stdout(proc)
        paths = {os.path.basename(r["file_path"]) for r in filtered["results"] if r["is_valid"]}
        self.assertEqual(paths, {"20250920_143022.json", "20250920_143023.bin"}, "--operation-type is applied")

    def test_validate_clean_tree_exits_0(self) -> None:
        clean = Library(with_corrupt=False)
        try:
            proc = self.call("validate", "--input", clean.root, "--workers", "4")
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertEqual(self.json_stdout(proc)["invalid_files"], 0)
        finally:
            clean.remove()

    def test_stats(self) -> None:
        proc = self.call("stats", "--input", self.D)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        stats = self.json_stdout(proc)
        self.assertTrue(OLD_STATS_KEYS <= set(stats), sorted(OLD_STATS_KEYS - set(stats)))
        # The four readable sidecars of images (never the orphan, the report, or one twice).
        self.assertEqual(stats["total_sidecars"], 4)
        self.assertEqual(stats["total_images"], 8, "6 photos + 2 symlinks in the game folder (one broken)")
        self.assertEqual(stats["symlink_count"], 2, "symlinks inside the tree are seen")
        self.assertLessEqual(stats["coverage_percentage"], 100)
        self.assertEqual(stats["broken_symlinks"], 1)
        again = self.call("stats", "--input", self.D)
        self.assertEqual(again.stdout, proc.stdout, "deterministic output")
        proc = self.call("stats", "--input", self.D, "--operation-type", "face_detection")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        filtered = self.json_stdout(proc)
        self.assertTrue(filtered["filter_applied"])
        self.assertLess(filtered["total_sidecars"], stats["total_sidecars"])

    def test_format_stats(self) -> None:
        proc = self.call("format-stats", "--input", self.D, "--output", "-")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        dist = self.json_stdout(proc)["format_distribution"]
        for key in ("Json", "Binary", "Rkyv"):
            self.assertIn(key, dist)
        self.assertEqual(dist["Rkyv"], 0)

    def test_convert(self) -> None:
        clean = Library(with_corrupt=False)
        self.addCleanup(clean.remove)
        m = ImageSidecarManager().__enter__()  # reads through one server: the replayed calls are the converts
        self.addCleanup(m.close)
        images = [clean.merged, clean.burst, clean.legacy, clean.upper]
        before = {p: m.read_data(p) for p in images}
        snapshot = clean.snapshot()
        proc = self.call("convert", "--input", clean.root, "--format", "bin", "--dry-run")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(clean.snapshot(), snapshot, "--dry-run changes nothing")

        proc = self.call("convert", "--input", clean.root, "--format", "bin")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        for p in images:
            stem = os.path.splitext(p)[0]
            self.assertTrue(os.path.exists(stem + ".bin"), stem)
            self.assertFalse(os.path.exists(stem + ".json"), stem)
            self.assertEqual(m.read_data(p), before[p], "data unchanged, floats bit for bit")
        self.assertTrue(os.path.exists(clean.report), "a directory report is never converted")

        proc = self.call("convert", "--input", clean.root, "--format", "json")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        for p in images:
            self.assertEqual(m.read_data(p), before[p])
            self.assertTrue(os.path.exists(os.path.splitext(p)[0] + ".json"))

    def test_cleanup(self) -> None:
        snapshot = self.lib.snapshot()
        proc = self.call("cleanup", "--input", self.D, "--dry-run")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        m = re.search(r"Removed (\d+)", proc.stdout)
        self.assertTrue(m is None or m.group(1) == "0", proc.stdout)
        self.assertEqual(self.lib.snapshot(), snapshot, "--dry-run changes nothing")

        proc = self.call("cleanup", "--input", self.D)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        m = re.search(r"Removed (\d+)", proc.stdout)
        self.assertIsNotNone(m, proc.stdout)
        self.assertEqual(int(m.group(1)), 1, "only the orphan")
        self.assertFalse(os.path.exists(self.lib.orphan))
        for kept in ("20250920_143022.json", "20250920_143022_001.json", "20250920_143023.bin", "IMG_1234.json",
                     "20250920_143024.json", "game_detection.json"):
            self.assertTrue(os.path.exists(os.path.join(self.lib.day, kept)), kept)

    def test_export(self) -> None:
        # Beside the library, so the export does not scan itself.
        out_json = self.D + "-export.json"
        out_csv = self.D + "-export.csv"
        for p in (out_json, out_csv):
            self.addCleanup(lambda p=p: os.path.exists(p) and os.remove(p))
        proc = self.call("export", "--input", self.D, "--output", out_json, "--format", "json")
        # The corrupt sidecar cannot be exported: named on stderr, exit 1 (findings); the file is whole.
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("20250920_143024.json", proc.stderr)
        m = re.search(r"Exported (\d+)", proc.stdout)
        self.assertIsNotNone(m, proc.stdout)
        with open(out_json, encoding="utf-8") as f:
            doc = json.load(f)
        self.assertEqual(int(m.group(1)), len(doc["sidecars"]))
        self.assertEqual(doc["total_sidecars"], len(doc["sidecars"]))
        self.assertGreaterEqual(len(doc["sidecars"]), 4)

        proc = self.call("export", "--input", self.D, "--output", out_csv, "--format", "csv")
        self.assertEqual(proc.returncode, 1, proc.stderr)
        m = re.search(r"Exported (\d+)", proc.stdout)
        self.assertIsNotNone(m, proc.stdout)
        with open(out_csv, encoding="utf-8", newline="") as f:
            rows = list(csv.reader(f))
        self.assertEqual(len(rows) - 1, int(m.group(1)), "header + one row per sidecar")

    def test_validate_json_listfile(self) -> None:
        listed = [p for p in self.lib.sidecar_files() if not p.endswith("game_detection.json")]
        listfile = os.path.join(self.D, "files.txt")
        with open(listfile, "w", encoding="utf-8") as f:
            f.write("\n".join(listed) + "\n")
        proc = self.call("validate-json", "--input", listfile, "--output", "-", "--workers", "4")
        self.assertIn(proc.returncode, (0, 1), proc.stderr)
        lines = [l for l in proc.stdout.splitlines() if l.strip()]
        results = [json.loads(l) for l in lines]
        self.assertEqual(sorted(r["file_path"] for r in results), sorted(listed))
        for r in results:
            self.assertTrue(OLD_RESULT_KEYS <= set(r))
        invalid = {os.path.basename(r["file_path"]) for r in results if not r["is_valid"]}
        self.assertEqual(invalid, {"20250920_143024.json"})

    def test_missing_input_is_an_error(self) -> None:
        # The earlier tool answered an empty result with exit 0; we say what is wrong.
        proc = self.call("stats", "--input", os.path.join(self.D, "nope"))
        self.assertEqual(proc.returncode, 2)
        self.assertRegex(proc.stderr, r"image-sidecar: error \[NOT_FOUND\]")
        self.assertEqual(proc.stdout, "")


if __name__ == "__main__":
    unittest.main()
