"""Datasets from Python (docs/EXPORT.md): export_coco / export_yolo / export_embeddings run the CLI
and return its report; load_embeddings reads the .npy matrix with NumPy when it is installed and
with its own reader otherwise (both checked here, against read_data); shards and merge."""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import unittest
from array import array

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(_HERE), _HERE]

from image_sidecar import ImageSidecarError, ImageSidecarManager, load_embeddings  # noqa: E402
from _library import Library, require_cli  # noqa: E402


def encodings(data: dict) -> list:
    return [f["encoding"] for f in data.get("face_detection", {}).get("faces", []) if isinstance(f.get("encoding"), list)]


def f32(x: float) -> float:
    return array("f", [x])[0]


class DatasetsTest(unittest.TestCase):
    def setUp(self) -> None:
        require_cli(self)
        self.lib = Library()
        self.out = tempfile.mkdtemp(prefix="isc-py-ds-")
        self.m = ImageSidecarManager()

    def tearDown(self) -> None:
        self.lib.remove()
        shutil.rmtree(self.out, ignore_errors=True)

    def test_embeddings_round_trip_with_and_without_numpy(self) -> None:
        npy = os.path.join(self.out, "faces.npy")
        report = self.m.export_embeddings(self.lib.root, npy, dim=32)
        self.assertEqual(report["format"], "embeddings")
        self.assertEqual(report["problems"], 1)  # the library's truncated sidecar: a finding, not an exception
        self.assertEqual(report["rows"], 3)  # merged: 2 faces, burst: 1 (the orphan's has none)
        self.assertEqual(report["files"], [npy, os.path.join(self.out, "faces.jsonl")])
        expected = []
        for image in (self.lib.merged, self.lib.burst):
            expected += encodings(self.m.read_data(image))
        vectors, rows = load_embeddings(npy)
        self.assertEqual([r["image"] for r in rows], ["photos/2025-09-20/20250920_143022.jpg"] * 2 + ["photos/2025-09-20/20250920_143022_001.jpg"])
        self.assertEqual([r["face"] for r in rows], [0, 1, 0])
        try:
            import numpy
        except ImportError:
            numpy = None
        if numpy is not None:
            self.assertEqual(vectors.shape, (3, 32))
            self.assertEqual(vectors.dtype, numpy.float32)
            self.assertTrue(numpy.array_equal(vectors, numpy.array(expected, dtype=numpy.float32)))
        # Without NumPy: array('f'), row after row (an import of numpy made to fail).
        saved = sys.modules.get("numpy")
        sys.modules["numpy"] = None  # type: ignore[assignment]
        try:
            flat, rows2 = ImageSidecarManager.load_embeddings(npy)
        finally:
            if saved is None:
                del sys.modules["numpy"]
            else:
                sys.modules["numpy"] = saved
        self.assertIsInstance(flat, array)
        self.assertEqual(rows2, rows)
        self.assertEqual(list(flat), [f32(x) for e in expected for x in e])

    def test_rows_and_matrix_of_different_runs_are_refused(self) -> None:
        npy = os.path.join(self.out, "faces.npy")
        self.m.export_embeddings(self.lib.root, npy, dim=32)
        with open(os.path.join(self.out, "faces.jsonl"), "a", encoding="utf-8") as f:
            f.write(json.dumps({"image": "x"}) + "\n")
        with self.assertRaises(ImageSidecarError) as cm:
            load_embeddings(npy)
        self.assertEqual(cm.exception.code, "BAD_OUTPUT")

    def test_coco_and_yolo(self) -> None:
        coco = os.path.join(self.out, "coco.json")
        report = self.m.export_coco(self.lib.root, coco, operation="yolov8")
        with open(coco, encoding="utf-8") as f:
            doc = json.load(f)
        self.assertEqual(report["images"], len(doc["images"]))
        self.assertEqual([c["name"] for c in doc["categories"]], ["person"])
        # yolov8's pixel boxes, as they are; the size from the face results beside them, none for the
        # legacy sidecar, whose results give none.
        self.assertEqual(doc["annotations"][0]["bbox"], [0, 20, 100, 200])
        self.assertEqual((doc["images"][0]["width"], doc["images"][0]["height"]), (4000, 3000))
        legacy = [im for im in doc["images"] if im["file_name"].endswith("20250920_143023.jpg")]
        self.assertEqual(len(legacy), 1)
        self.assertNotIn("width", legacy[0])
        yolo = os.path.join(self.out, "yolo")
        report = self.m.export_yolo(self.lib.root, yolo, include_faces=True, where="faces >= 1")
        self.assertTrue(os.path.isfile(os.path.join(yolo, "data.yaml")))
        self.assertEqual(report["format"], "yolo")
        with self.assertRaises(ImageSidecarError) as cm:
            self.m.export_yolo(self.lib.root, os.path.join(self.lib.root, "inside"))
        self.assertEqual(cm.exception.code, "USAGE")

    def test_shards_merge_into_one_run(self) -> None:
        whole = os.path.join(self.out, "whole.npy")
        self.m.export_embeddings(self.lib.root, whole, dim=32)
        shards = []
        for i in range(2):
            s = os.path.join(self.out, "s%d.jsonl" % i)
            self.m.export_embeddings(self.lib.root, s, dim=32, shard="%d/2" % i)
            shards.append(s)
        merged = os.path.join(self.out, "merged.npy")
        report = self.m.merge(shards, merged)
        self.assertEqual(report["rows"], 3)
        for a, b in (("whole.npy", "merged.npy"), ("whole.jsonl", "merged.jsonl")):
            with open(os.path.join(self.out, a), "rb") as fa, open(os.path.join(self.out, b), "rb") as fb:
                self.assertEqual(fa.read(), fb.read(), a)


if __name__ == "__main__":
    unittest.main()
