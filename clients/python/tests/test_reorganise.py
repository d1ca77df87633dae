"""move / copy / relink / restore through the client against the real CLI (docs/REORGANISE.md)."""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import unittest

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(_HERE), _HERE]

from image_sidecar import ImageSidecarError, ImageSidecarManager  # noqa: E402
from _library import require_cli  # noqa: E402


class ReorganiseTest(unittest.TestCase):
    def setUp(self) -> None:
        require_cli(self)
        self.root = tempfile.mkdtemp(prefix="isc-py-mv-")
        for d in ("a", "b", "c"):
            os.mkdir(os.path.join(self.root, d))
        self.m = ImageSidecarManager()
        for i in (1, 2):
            img = os.path.join(self.root, "a", "IMG_%d.jpg" % i)
            with open(img, "wb") as f:
                f.write(bytes([i]) * (1000 + i))
            self.m.save_data(img, "face_detection", {"faces": [{"bbox": [1, 2, 3, 4], "confidence": 0.5}]})

    def tearDown(self) -> None:
        shutil.rmtree(self.root)

    def ls(self, d: str) -> list:
        return sorted(os.listdir(os.path.join(self.root, d)))

    def test_move_copy_with_sidecars(self) -> None:
        src = os.path.join(self.root, "a", "IMG_1.jpg")
        dry = self.m.move(src, os.path.join(self.root, "b"), dry_run=True)
        self.assertEqual(len(dry["units"]), 1)
        self.assertEqual(self.ls("b"), [])
        r = self.m.move([src], os.path.join(self.root, "b"))
        self.assertEqual((r["done"], r["problems"]), (1, []))
        self.assertEqual(self.ls("b"), ["IMG_1.bin", "IMG_1.jpg"])
        c = self.m.copy(os.path.join(self.root, "b", "IMG_1.jpg"), os.path.join(self.root, "c", "copy.jpg"))
        self.assertEqual(c["done"], 1)
        self.assertEqual(self.ls("c"), ["copy.bin", "copy.jpg"])
        self.assertEqual(self.m.read_data(os.path.join(self.root, "c", "copy.jpg")), self.m.read_data(os.path.join(self.root, "b", "IMG_1.jpg")))
        with self.assertRaises(ImageSidecarError) as cm:  # a new name that is taken: refused, nothing moved
            self.m.move(os.path.join(self.root, "a", "IMG_2.jpg"), os.path.join(self.root, "c", "copy.jpg"))
        self.assertEqual(cm.exception.code, "CONFLICT")
        self.assertEqual(self.ls("a"), ["IMG_2.bin", "IMG_2.jpg"])

    def test_relink_then_restore(self) -> None:
        os.rename(os.path.join(self.root, "a", "IMG_2.jpg"), os.path.join(self.root, "b", "goal.jpg"))
        plan = self.m.relink(self.root)
        self.assertEqual(len(plan["matches"]), 1)
        self.assertEqual(plan["matches"][0]["imageRel"], "b/goal.jpg")
        self.assertEqual(self.ls("b"), ["goal.jpg"])
        done = self.m.relink(self.root, dry_run=False)
        self.assertEqual(done["relinked"], 1)
        self.assertEqual(self.ls("b"), ["goal.bin", "goal.jpg"])
        self.assertIn("face_detection", self.m.read_data(os.path.join(self.root, "b", "goal.jpg")))
        back = self.m.restore(self.root)
        self.assertEqual(back["restored"], 1)
        self.assertEqual(self.ls("a"), ["IMG_1.bin", "IMG_1.jpg", "IMG_2.bin"])


if __name__ == "__main__":
    unittest.main()
