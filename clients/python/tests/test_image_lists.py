"""todo / stale / find from Python: the same documents through the server (inside ``with``), the
per-call CLI and the CLI's own ``--json``, and the expected lists worked out here from how the
test library is built (not by the library's code)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import unittest

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(_HERE), _HERE]

from image_sidecar import ImageSidecarError, ImageSidecarManager  # noqa: E402
from image_sidecar_rust import ImageSidecar, SidecarError  # noqa: E402
from _library import Library, require_cli  # noqa: E402


class ImageListsTest(unittest.TestCase):
    def setUp(self) -> None:
        require_cli(self)
        self.lib = Library()
        self.m = ImageSidecarManager()

    def tearDown(self) -> None:
        self.lib.remove()

    def cli_json(self, *args: str) -> dict:
        proc = subprocess.run(self.m.command + list(args) + ["--json", "-q"], capture_output=True, text=True)
        self.assertIn(proc.returncode, (0, 1), proc.stderr)
        return json.loads(proc.stdout)

    def both(self, method: str, *args: object, **kw: object) -> dict:
        """The CLI-mode answer, after checking that the server gives the very same document."""
        per_call = getattr(self.m, method)(*args, **kw)
        with ImageSidecarManager() as m:
            served = getattr(m, method)(*args, **kw)
        self.assertEqual(served, per_call, method)
        return per_call

    def test_todo_lists_what_is_left_in_tree_order(self) -> None:
        lib = self.lib
        report = self.both("todo", lib.root, "yolov8")
        # By construction: burst has face_detection only, bare has no sidecar, upper has quality
        # only; merged and legacy hold yolov8; the game-folder link is its target's; the corrupt
        # one cannot be decided.
        self.assertEqual([(r["image"], r["reason"]) for r in report["todo"]],
                         [(lib.burst, "no-result"), (lib.bare, "no-sidecar"), (lib.upper, "no-result")])
        self.assertEqual([p["image"] for p in report["problems"]], [lib.corrupt])
        self.assertEqual(report["counts"]["done"], 2)
        self.assertEqual(report["skipped"], {"links": 1, "broken_links": 1})
        # Any spelling; the old package's API returns the records.
        self.assertEqual(self.m.todo(lib.root, "Face_detector")["operation"], "face_detection")
        self.assertEqual(ImageSidecar().todo(lib.root, "yolov8"), report["todo"])
        self.assertEqual(ImageSidecar().todo(os.path.join(lib.root, "missing"), "yolov8"), [])

    def test_stale_after_an_image_changes_and_todo_sees_it(self) -> None:
        lib = self.lib
        self.assertEqual(self.both("stale", lib.root)["stale"], [])
        self.m.save_data(lib.bare, "yolov8", {"success": True, "objects": []}, format="json")
        with open(lib.bare, "ab") as f:
            f.write(b"edited")
        stale = self.both("stale", lib.root)
        self.assertEqual(stale, self.cli_json("stale", lib.root))
        self.assertEqual([r["image"] for r in stale["stale"]], [lib.bare])
        self.assertIn("size", stale["stale"][0]["changes"])
        self.assertEqual(stale["stale"][0]["operations"], ["yolov8"])
        todo = self.both("todo", lib.root, "yolov8", verify_hash=True)
        self.assertIn((lib.bare, "stale"), [(r["image"], r["reason"]) for r in todo["todo"]])
        self.assertEqual(ImageSidecar().find_stale(lib.root), stale["stale"])

    def test_find_matches_and_bad_expressions_raise_usage(self) -> None:
        lib = self.lib
        found = self.both("find", lib.root, "faces >= 2")
        self.assertEqual([r["image"] for r in found["matches"]], [lib.merged])
        self.assertEqual(found["matches"][0]["faces"], 2)
        graded = self.both("find", lib.root, "quality.grade in [A, B]")
        self.assertEqual([r["image"] for r in graded["matches"]], [lib.upper])
        with_op = self.both("find", lib.root, "faces >= 1", operation_type="yolov8")
        self.assertEqual([r["image"] for r in with_op["matches"]], [lib.merged])
        self.assertEqual(ImageSidecar().find(lib.root, "has yolov8"), self.m.find(lib.root, "has yolov8")["matches"])
        for m in (self.m, ImageSidecarManager()):
            with m:
                with self.assertRaises(ImageSidecarError) as cm:
                    m.find(lib.root, "faces >= ")
                self.assertEqual(cm.exception.code, "USAGE")
                self.assertIn("column", str(cm.exception))
        with self.assertRaises(SidecarError) as cm2:
            ImageSidecar().find(lib.root, "faces >>> 1")
        self.assertEqual(cm2.exception.error_code, "USAGE")

    def test_extra_image_extensions_and_the_key_reach_both_paths(self) -> None:
        lib = self.lib
        raw = os.path.join(lib.day, "RAW_1.qqq")
        with open(raw, "wb") as f:
            f.write(b"raw bytes")
        plain = self.both("todo", lib.root, "yolov8")
        self.assertNotIn(raw, [r["image"] for r in plain["todo"]])
        for exts in ("qqq", ["qqq"]):
            extra = self.both("todo", lib.root, "yolov8", image_ext=exts)
            self.assertIn((raw, "no-sidecar"), [(r["image"], r["reason"]) for r in extra["todo"]])
        config = os.path.join(lib.root, "conf.json")
        with open(config, "w", encoding="utf-8") as f:
            json.dump({"imageExtensions": ["qqq"]}, f)
        self.assertEqual(self.both("todo", lib.root, "yolov8", config=config), extra)

        key = os.path.join(lib.root, "k.key")
        subprocess.run(self.m.command + ["keygen", "-o", key], check=True, capture_output=True)
        enc = ImageSidecarManager(key_file=key)
        enc.save_data(lib.bare, "face_detection", {"success": True, "faces": [{"face_id": 0}, {"face_id": 1}]}, format="bin")
        # Without the key the encrypted sidecar is a problem; with it, a match.
        self.assertIn(lib.bare, [p["image"] for p in self.m.todo(lib.root, "face_detection")["problems"]])
        per_call = enc.find(lib.root, "faces >= 2")
        with ImageSidecarManager(key_file=key) as m:
            self.assertEqual(m.find(lib.root, "faces >= 2"), per_call)
        self.assertEqual([r["image"] for r in per_call["matches"]], [lib.merged, lib.bare])


if __name__ == "__main__":
    unittest.main()
