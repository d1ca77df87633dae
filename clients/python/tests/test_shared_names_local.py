"""The local read path hands every image whose sidecars another image may claim to the
library (docs/PAIRING.md §3). An image whose whole name is this image's stem (``A.jpg`` beside
``A.jpg.png``) claims ``A.jpg.json`` by its name-ext form: read locally, ``A.jpg.png`` took
``A.jpg``'s sidecar as its own.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import unittest

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(_HERE), _HERE]

from image_sidecar.decode import NotLocal  # noqa: E402
from image_sidecar.local import read_local  # noqa: E402


class WholeNameIsTheStem(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir, True)

    def test_a_sidecar_recorded_for_the_image_named_like_the_stem_is_not_read_locally(self) -> None:
        for stem in ("A", "\u00c9", "E\u0301"):
            with self.subTest(stem=stem):
                d = tempfile.mkdtemp(dir=self.dir)
                for n in (stem + ".jpg", stem + ".jpg.png"):
                    with open(os.path.join(d, n), "wb") as f:
                        f.write(b"x")
                with open(os.path.join(d, stem + ".jpg.json"), "w") as f:
                    json.dump({"op": {"v": 1}, "sidecar_info": {"image_path": os.path.join(d, stem + ".jpg")}}, f)
                with self.assertRaises(NotLocal):
                    read_local(os.path.join(d, stem + ".jpg.png"))
                with self.assertRaises(NotLocal):
                    read_local(os.path.join(d, stem + ".jpg"))

    def test_an_edit_sidecar_named_like_the_stem_still_reads_locally(self) -> None:
        # A.jpg.xmp's stem is A.jpg, but an .xmp file never claims anything: A.jpg.png beside a
        # file named `A.jpg.xmp`... and a file `A` (no extension) are no images.
        for n in ("A.jpg.png", "A"):
            with open(os.path.join(self.dir, n), "wb") as f:
                f.write(b"x")
        with open(os.path.join(self.dir, "A.jpg.json"), "w") as f:
            json.dump({"op": {"v": 2}, "sidecar_info": {}}, f)  # sidecar-shaped: not another tool's file
        self.assertEqual(read_local(os.path.join(self.dir, "A.jpg.png")), {"op": {"v": 2}, "sidecar_info": {}})


if __name__ == "__main__":
    unittest.main()
