"""A small but realistic sidecar library generated on the fly for the tests.

Pipeline-style JSON sidecars (indent 2), a sidecar in the earlier tool's binary layout (u64-LE
length + compact JSON), a burst name that must not pair with its base photo, an upper-case
extension, an image without sidecar, a corrupt (truncated) sidecar, an orphan, a directory-level
report and a game folder with symlinks (one broken).
"""
from __future__ import annotations

import json
import os
import shutil
import struct
import tempfile
import unittest
from typing import Any, Dict, List

FAKE_JPEG = bytes([0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 0x4A, 0x46, 0x49, 0x46, 0x00, 0x01, 0xFF, 0xD9])
DAY = os.path.join("photos", "2025-09-20")


def face_detection(n_faces: int, seed: float) -> Dict[str, Any]:
    x = seed

    def rnd() -> float:
        nonlocal x
        x = (x * 9301 + 0.49297) % 1
        return x

    faces = [
        {
            "face_id": i,
            "bbox": {"x": rnd(), "y": rnd(), "width": rnd() / 4, "height": rnd() / 4},
            "confidence": 0.8123456835746765,
            "landmarks": [[rnd(), rnd()] for _ in range(5)],
            "encoding": [rnd() - 0.5 for _ in range(32)],
        }
        for i in range(n_faces)
    ]
    return {
        "success": True,
        "faces": faces,
        "metadata": {"image_width": 4000, "image_height": 3000, "faces_found": n_faces, "processing_time": 0.25,
                     "detector": "insightface", "model_name": "buffalo_l"},
    }


def yolov8(n: int) -> Dict[str, Any]:
    return {
        "success": True,
        "objects": [
            {"object_id": i + 1, "class_name": "person", "class_id": 0,
             "coordinates_pixels": {"x": 10 * i, "y": 20, "width": 100, "height": 200},
             "confidence": 0.22490839660167694}
            for i in range(n)
        ],
        "metadata": {"objects_found": n, "detection_time": 0.5, "model_path": "yolov8n.pt"},
    }


def sidecar_info(op: str, image: str) -> Dict[str, Any]:
    return {"operation_type": op, "created_at": "2025-10-01T12:40:11.886386",
            "last_updated": "2025-10-01T15:51:02.205516", "last_operation": op, "image_path": image}


class Library:
    """Paths of the generated tree (``root`` is removed by ``remove``)."""

    def __init__(self, with_corrupt: bool = True) -> None:
        self.root = os.path.realpath(tempfile.mkdtemp(prefix="isc-py-"))
        day = os.path.join(self.root, DAY)
        os.makedirs(day)
        self.images: List[str] = []

        def image(name: str) -> str:
            p = os.path.join(day, name)
            with open(p, "wb") as f:
                f.write(FAKE_JPEG)
            self.images.append(p)
            return p

        def write_json(name: str, data: Any) -> str:
            p = os.path.join(day, name)
            with open(p, "w", encoding="utf-8") as f:
                f.write(json.dumps(data, indent=2))
            return p

        self.merged = image("20250920_143022.jpg")
        write_json("20250920_143022.json", {"face_detection": face_detection(2, 0.1), "yolov8": yolov8(2),
                                            "sidecar_info": sidecar_info("face_detection", self.merged)})
        self.burst = image("20250920_143022_001.jpg")
        write_json("20250920_143022_001.json", {"face_detection": face_detection(1, 0.2),
                                                "sidecar_info": sidecar_info("face_detection", self.burst)})
        self.legacy = image("20250920_143023.jpg")
        body = json.dumps({"yolov8": yolov8(1)}, separators=(",", ":")).encode("utf-8")
        with open(os.path.join(day, "20250920_143023.bin"), "wb") as f:
            f.write(struct.pack("<Q", len(body)) + body)
        self.upper = image("IMG_1234.JPG")
        write_json("IMG_1234.json", {"quality_assessment": {"success": True, "quality": {"overall_score": 0.71, "grade": "B"}}})
        self.bare = image("DSC_0042.jpg")
        self.corrupt = None
        if with_corrupt:
            self.corrupt = image("20250920_143024.jpg")
            with open(os.path.join(day, "20250920_143024.json"), "w", encoding="utf-8") as f:
                f.write('{"face_detection": {"success": true, "faces": [')
        self.orphan = write_json("20250920_150000.json", {"face_detection": face_detection(0, 0.3)})
        self.report = write_json("game_detection.json", {"success": True, "games": [], "summary": {"total_games": 0}})

        games = os.path.join(self.root, "games", "Game1_20Sep2025_143000-150000")
        os.makedirs(games)
        self.link = os.path.join(games, "20250920_143022.jpg")
        os.symlink(os.path.relpath(self.merged, games), self.link)
        os.symlink(os.path.join(day, "gone.jpg"), os.path.join(games, "20250920_999999.jpg"))

    @property
    def day(self) -> str:
        return os.path.join(self.root, DAY)

    def sidecar_files(self) -> List[str]:
        """Sidecar-shaped files on disk (including the corrupt one, the orphan and the report)."""
        out = []
        for d, _, files in os.walk(self.root):
            out += [os.path.join(d, f) for f in files if f.endswith((".json", ".bin", ".rkyv"))]
        return sorted(out)

    def snapshot(self) -> Dict[str, bytes]:
        """Every regular file's bytes, by path (symlinks as their target text)."""
        out: Dict[str, bytes] = {}
        for d, _, files in os.walk(self.root):
            for f in files:
                p = os.path.join(d, f)
                if os.path.islink(p):
                    out[p] = os.readlink(p).encode()
                else:
                    with open(p, "rb") as fh:
                        out[p] = fh.read()
        return out

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def require_cli(test: unittest.TestCase) -> None:
    """Skip when no CLI is installed, unless the runner demands it (IMAGE_SIDECAR_REQUIRE=1)."""
    from image_sidecar import ImageSidecarManager

    m = ImageSidecarManager()
    if not m.available:
        if os.environ.get("IMAGE_SIDECAR_REQUIRE") == "1":
            raise AssertionError("the image-sidecar CLI is required but not found: set IMAGE_SIDECAR_BIN")
        raise unittest.SkipTest("image-sidecar CLI not found (set IMAGE_SIDECAR_BIN)")
