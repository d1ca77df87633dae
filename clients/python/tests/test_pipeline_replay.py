"""The sports pipeline's everyday saves, replayed in real folders (docs/PAIRING.md §3, §4, §9).

``Pipeline`` below restates, in our own words, what the pipeline's sidecar code does around
``image_sidecar_rust`` (its ``Sidecar._save_with_rust`` and ``RustSidecarManager``): it resolves a
symlinked image, loads what it can read itself (``<stem>.json``; its ``.bin`` reader needs a module
it does not declare, so a ``.bin`` is skipped), sets ``doc[op]`` or ``doc[op][backend]``, keeps or
creates ``sidecar_info``, and sends the whole document to a fresh ``ImageSidecar().save_data`` as a
JSON string, with the operation forced to ``face_detection`` unless it is ``yolov8``. A failed save
is a ``RuntimeError`` there; a failed read is ``{}``.

Each situation — an empty folder, a folder of JSON sidecars, a RAW+JPEG folder, a symlinked image,
a library after ``convert --keep-source`` — runs a sequence of such saves and then reads every result
back through Python (the compatibility package and the client, local reads on and off) and through
the CLI (``image-sidecar read --json``)."""
from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from typing import Any, Dict, List, Optional

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(_HERE), _HERE]

import image_sidecar_rust  # noqa: E402
from image_sidecar import ImageSidecarManager  # noqa: E402
from _library import FAKE_JPEG, face_detection, require_cli, yolov8  # noqa: E402


class Pipeline:
    """The pipeline's save and read paths, as its public code takes them."""

    def _load_existing(self, actual: str) -> Dict[str, Any]:
        stem = os.path.splitext(actual)[0]
        for ext in (".bin", ".rkyv", ".json"):
            p = stem + ext
            if not os.path.exists(p):
                continue
            if ext != ".json":
                continue  # `import bincode` fails: the pipeline logs it and tries the next format
            with open(p, encoding="utf-8") as f:
                return json.load(f)
        return {}

    def save(self, image: str, op: str, data: Dict[str, Any], backend: Optional[str] = None) -> bool:
        actual = os.path.realpath(image) if os.path.islink(image) else image
        link_info = {"symlink_path": image, "target_path": actual, "is_symlink": os.path.islink(image)}
        existing = self._load_existing(actual)
        merged = dict(existing)
        if backend:
            merged.setdefault(op, {})
            merged[op][backend] = data
        else:
            merged[op] = data
        now = datetime.datetime.now().isoformat()
        if "sidecar_info" in existing:
            merged["sidecar_info"].update({"last_updated": now, "last_operation": op})
        else:
            merged["sidecar_info"] = {"operation_type": op, "created_at": now, "last_updated": now, "last_operation": op,
                                      "image_path": actual, "symlink_path": image, "symlink_info": link_info}
        forced = image_sidecar_rust.OperationType.YOLOV8 if op == "yolov8" else image_sidecar_rust.OperationType.FACE_DETECTION
        try:
            result = image_sidecar_rust.ImageSidecar().save_data(actual, forced, json.dumps(merged))
        except Exception as e:  # the pipeline swallows it here and raises RuntimeError one level up
            raise RuntimeError("Failed to save sidecar in binary format: %s" % e) from e
        if not result:
            raise RuntimeError("save returned nothing")
        return True

    def read(self, image: str) -> Dict[str, Any]:
        try:
            return image_sidecar_rust.ImageSidecar().read_data(image) or {}
        except Exception:
            return {}


def insightface(n: int, seed: float) -> Dict[str, Any]:
    r = face_detection(n, seed)
    r["metadata"]["detector"] = "insightface"
    return r


def quality(grade: str) -> Dict[str, Any]:
    return {"success": True, "quality": {"overall_score": 0.75, "grade": grade, "sharpness": 0.5}, "processing_time": 0.25}


class ReplayTest(unittest.TestCase):
    def setUp(self) -> None:
        require_cli(self)
        self.root = tempfile.mkdtemp(prefix="isc-replay-")
        self.addCleanup(shutil.rmtree, self.root, True)
        self.pipeline = Pipeline()
        self.cli = ImageSidecarManager().command

    def image(self, rel: str) -> str:
        p = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(FAKE_JPEG + rel.encode())
        return p

    def files(self, rel: str = "") -> List[str]:
        return sorted(os.listdir(os.path.join(self.root, rel)))

    def read_everywhere(self, image: str) -> Dict[str, Any]:
        """The image's sidecar as every reader sees it; all must agree."""
        compat = image_sidecar_rust.ImageSidecar().read_data(image)
        local = ImageSidecarManager(local_reads=True).read_data(image)
        library = ImageSidecarManager(local_reads=False).read_data(image)
        out = subprocess.run(self.cli + ["read", image, "--json"], capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        cli = json.loads(out.stdout)
        for name, doc in (("local read", local), ("library read", library), ("CLI read", cli)):
            self.assertEqual(doc, compat, "%s of %s differs" % (name, image))
        return compat

    def assert_results(self, image: str, expected: Dict[str, Any]) -> Dict[str, Any]:
        doc = self.read_everywhere(image)
        for op, value in expected.items():
            self.assertEqual(doc.get(op), value, "%s of %s" % (op, image))
        return doc

    def run_sequence(self, image: str) -> Dict[str, Any]:
        """Two face backends, objects, quality, then both detectors again with new results."""
        p = self.pipeline
        p.save(image, "face_detection", insightface(2, 0.1), backend="insightface")
        p.save(image, "face_detection", face_detection(1, 0.2), backend="face_recognition")
        p.save(image, "yolov8", yolov8(2))
        p.save(image, "quality_assessment", quality("B"))
        p.save(image, "face_detection", insightface(3, 0.3), backend="insightface")
        p.save(image, "yolov8", yolov8(3))
        return {
            "face_detection": {"insightface": insightface(3, 0.3), "face_recognition": face_detection(1, 0.2)},
            "yolov8": yolov8(3),
            "quality_assessment": quality("B"),
        }

    # ------------------------------------------------------------------ situations

    def test_empty_folder(self) -> None:
        img = self.image("shoot/IMG_0001.jpg")
        expected = self.run_sequence(img)
        doc = self.assert_results(img, expected)
        self.assertEqual(self.files("shoot"), ["IMG_0001.bin", "IMG_0001.jpg"], "binary by default, as the earlier package wrote")
        self.assertEqual(doc["sidecar_info"]["image_path"], img)
        self.assertEqual(self.pipeline.read(img), doc)

    def test_json_folder_keeps_its_json(self) -> None:
        img = self.image("shoot/IMG_0002.jpg")
        old = {"face_detection": {"insightface": insightface(1, 0.9)}, "quality_assessment": quality("C"),
               "sidecar_info": {"operation_type": "face_detection", "created_at": "2025-09-20T10:00:00", "image_path": img}}
        json_path = os.path.join(self.root, "shoot", "IMG_0002.json")
        with open(json_path, "w", encoding="utf-8") as f:
            json.dump(old, f, indent=2)
        with open(json_path, "rb") as f:
            json_bytes = f.read()
        expected = self.run_sequence(img)
        # Every save sent the stale JSON's insightface and quality back: neither overwrote newer data.
        self.assert_results(img, expected)
        self.assertEqual(self.files("shoot"), ["IMG_0002.bin", "IMG_0002.jpg", "IMG_0002.json"])
        with open(json_path, "rb") as f:
            self.assertEqual(f.read(), json_bytes, "the JSON sidecar is left as it was")
        # A later change in the JSON copy that the caller sends on is a change.
        stale = self.pipeline._load_existing(img)
        self.assertEqual(stale, old)

    def test_rerun_giving_the_json_result_again(self) -> None:
        # A detector that failed (saved in the .bin) and succeeds again with the result the old JSON
        # holds: the success is saved (it was taken for "sent back unchanged" and dropped for good).
        img = self.image("shoot/IMG_0005.jpg")
        first = face_detection(2, 0.5)
        old = {"face_detection": first, "quality_assessment": quality("C"),
               "sidecar_info": {"operation_type": "face_detection", "created_at": "2025-09-20T10:00:00", "image_path": img}}
        with open(os.path.join(self.root, "shoot", "IMG_0005.json"), "w", encoding="utf-8") as f:
            json.dump(old, f, indent=2)
        failed = {"success": False, "error": "CUDA out of memory"}
        self.pipeline.save(img, "face_detection", failed)
        self.pipeline.save(img, "quality_assessment", quality("A"))
        self.assert_results(img, {"face_detection": failed, "quality_assessment": quality("A")})
        self.pipeline.save(img, "face_detection", first)
        self.assert_results(img, {"face_detection": first, "quality_assessment": quality("A")})
        self.pipeline.save(img, "quality_assessment", quality("C"))
        self.assert_results(img, {"face_detection": first, "quality_assessment": quality("C")})

    def test_raw_and_jpeg(self) -> None:
        jpg = self.image("shoot/IMG_0003.jpg")
        raw = self.image("shoot/IMG_0003.CR2")
        expected_jpg = self.run_sequence(jpg)
        self.pipeline.save(raw, "quality_assessment", quality("A"))
        self.assert_results(jpg, expected_jpg)
        raw_doc = self.assert_results(raw, {"quality_assessment": quality("A")})
        self.assertNotIn("yolov8", raw_doc, "the RAW never reads the JPEG's results")
        self.assertEqual(self.files("shoot"), ["IMG_0003.CR2", "IMG_0003.CR2.bin", "IMG_0003.jpg", "IMG_0003.jpg.bin"])

    def test_raw_and_jpeg_with_an_earlier_stem_sidecar(self) -> None:
        jpg = self.image("shoot/IMG_0004.jpg")
        raw = self.image("shoot/IMG_0004.CR2")
        # Written for the JPEG by an earlier run (its record names it), before the RAW was copied in.
        earlier = {"face_detection": {"insightface": insightface(1, 0.4)},
                   "sidecar_info": {"operation_type": "face_detection", "image_path": jpg}}
        stem_json = os.path.join(self.root, "shoot", "IMG_0004.json")
        with open(stem_json, "w", encoding="utf-8") as f:
            json.dump(earlier, f, indent=2)
        self.assertEqual(self.read_everywhere(jpg)["face_detection"], earlier["face_detection"], "still found for the JPEG")
        self.assertEqual(self.read_everywhere(raw), {}, "never read as the RAW's")
        self.pipeline.save(jpg, "yolov8", yolov8(1))
        self.pipeline.save(raw, "yolov8", yolov8(2))
        self.assert_results(jpg, {"face_detection": earlier["face_detection"], "yolov8": yolov8(1)})
        raw_doc = self.assert_results(raw, {"yolov8": yolov8(2)})
        self.assertNotIn("face_detection", raw_doc)

    def test_symlinked_image(self) -> None:
        original = self.image("photos/2025-09-20/IMG_0005.jpg")
        game = os.path.join(self.root, "Game1_20Sep2025_143000-160000")
        os.makedirs(game)
        link = os.path.join(game, "IMG_0005.jpg")
        os.symlink(os.path.relpath(original, game), link)
        expected = self.run_sequence(link)
        doc = self.assert_results(link, expected)
        self.assertEqual(self.read_everywhere(original), doc, "the link and its target read one sidecar")
        self.assertEqual(self.files("Game1_20Sep2025_143000-160000"), ["IMG_0005.jpg"])
        info = doc["sidecar_info"]
        self.assertEqual(info["image_path"], original)
        self.assertEqual(info["symlink_path"], link, "the link the pipeline came through is kept")

    def test_after_convert_keep_source(self) -> None:
        imgs = [self.image("lib/IMG_%04d.jpg" % i) for i in range(6, 9)]
        for i, img in enumerate(imgs):
            with open(os.path.splitext(img)[0] + ".json", "w", encoding="utf-8") as f:
                json.dump({"face_detection": {"insightface": insightface(1, i / 10)}, "sidecar_info": {"image_path": img}}, f, indent=2)
        out = subprocess.run(self.cli + ["convert", os.path.join(self.root, "lib"), "--format", "bin", "--keep-source", "--json"],
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        for img in imgs:
            expected = self.run_sequence(img)
            self.assert_results(img, expected)
        self.assertEqual(len([n for n in self.files("lib") if n.endswith(".json")]), 3, "the JSON sources are kept")


if __name__ == "__main__":
    unittest.main()
