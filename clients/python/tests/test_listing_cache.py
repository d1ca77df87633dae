"""The local read path's folder listings (pairing.py) are reused only while the folder is unchanged.

They were keyed by the folder's inode and mtime. A save by another process adds a sidecar (and
changes the mtime); a tool that keeps folder dates (``touch -r``, rsync -t, a backup restore) puts
the mtime back; the cached listing then still said "no sidecar" and ``read_data`` returned ``{}``
(or an older, less preferred candidate's data) for as long as the process lived. The ctime cannot
be set back (``utime`` itself moves it to now), so the listing is keyed by it too.

Attacked with changes by other processes — the library's saves (a new sidecar in each format, an
update, a second image's sidecar), other tools' files (a name-ext sidecar, a preferred name beside
the one read before, a sidecar removed) — each followed by the folder's times put back: every
answer must be the library's.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
from typing import Any, Callable, Dict

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(_HERE), _HERE]

from image_sidecar import ImageSidecarManager  # noqa: E402
from image_sidecar import pairing  # noqa: E402
from _library import FAKE_JPEG, require_cli  # noqa: E402

_CLIENT = os.path.dirname(_HERE)

# Another process: the library's own save (locked, atomic rename into the folder).
_SAVE = """
import json, sys
sys.path.insert(0, sys.argv[1])
from image_sidecar import ImageSidecarManager
m = ImageSidecarManager()
m.save_data(sys.argv[2], "face_detection", json.loads(sys.argv[3]), format=sys.argv[4] or None)
"""


def _other_process(code: str, *args: str) -> None:
    """Run Python ``code`` (``sys.argv[1:]`` = ``args``) in another process."""
    r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


# Another tool: a file written under a temporary name and renamed into place, or a file removed.
_WRITE = """
import os, sys
tmp = os.path.join(os.path.dirname(sys.argv[1]), ".tmp-other-tool")
with open(tmp, "w") as f:
    f.write(sys.argv[2])
os.rename(tmp, sys.argv[1])
"""
_REMOVE = "import os, sys; os.unlink(sys.argv[1])"


class FolderListingCache(unittest.TestCase):
    def setUp(self) -> None:
        require_cli(self)
        self.root = os.path.realpath(tempfile.mkdtemp(prefix="isc-py-listing-"))
        self.library = ImageSidecarManager(local_reads=False)
        # These attack the reuse of a listing itself: a short racy window keeps them quick (the
        # window's own rule has its test below).
        self._racy = pairing.RACY_NS
        pairing.RACY_NS = 50_000_000

    def tearDown(self) -> None:
        pairing.RACY_NS = self._racy
        shutil.rmtree(self.root, ignore_errors=True)

    def test_a_listing_taken_within_two_seconds_of_the_folder_change_is_not_kept(self) -> None:
        # File systems that keep times to the second (ext2/3, HFS+) or two (FAT), and a file server's
        # clock ahead of ours: a sidecar saved in the same tick changes neither time, and a listing
        # kept 50 ms after the change hid it for good.
        pairing.RACY_NS = self._racy
        self.assertGreaterEqual(pairing.RACY_NS, 2_000_000_000)
        d = os.path.join(self.root, "tick")
        os.makedirs(d)
        with open(os.path.join(d, "IMG_1.jpg"), "wb") as f:
            f.write(FAKE_JPEG)
        st = os.stat(d)
        changed = max(st.st_mtime_ns, st.st_ctime_ns)
        real = pairing._now_ns
        try:
            for after, kept in ((1_900_000_000, False), (2_100_000_000, True)):
                pairing._listings.pop(d, None)
                pairing._now_ns = lambda after=after: changed + after  # type: ignore[assignment]
                with ImageSidecarManager() as m:
                    self.assertEqual(m.read_data(os.path.join(d, "IMG_1.jpg")), {})
                self.assertEqual(d in pairing._listings, kept, "listing taken %.1f s after the folder changed" % (after / 1e9))
        finally:
            pairing._now_ns = real  # type: ignore[assignment]

    def folder(self, name: str, files: Dict[str, Any]) -> str:
        d = os.path.join(self.root, name)
        os.makedirs(d)
        for n, v in files.items():
            with open(os.path.join(d, n), "wb") as f:
                f.write(v if isinstance(v, bytes) else json.dumps(v).encode())
        # Folder dates from long ago, and the listing's ctime older than the racy window.
        old = time.time_ns() - 3600 * 10**9
        os.utime(d, ns=(old, old))
        time.sleep(2 * pairing.RACY_NS / 1e9)
        return d

    def save(self, image: str, value: Dict[str, Any], fmt: str = "") -> None:
        r = subprocess.run([sys.executable, "-c", _SAVE, _CLIENT, image, json.dumps(value), fmt], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)

    def check(self, name: str, files: Dict[str, Any], change: Callable[[str, str], None]) -> None:
        """Read every image (the listing is cached), let another process change the folder, put its
        times back, read every image again."""
        d = self.folder(name, files)
        images = sorted(os.path.join(d, n) for n in files if n.endswith(".jpg"))
        with ImageSidecarManager() as m:
            for image in images:
                self.assertEqual(m.read_data(image), self.library.read_data(image), "%s: before" % name)
            self.assertIn(d, pairing._listings, "the folder's listing is kept (else nothing here is attacked)")
            before = os.stat(d)
            change(d, images[0])
            os.utime(d, ns=(before.st_atime_ns, before.st_mtime_ns))
            self.assertEqual(os.stat(d).st_mtime_ns, before.st_mtime_ns)
            for image in images:
                want = self.library.read_data(image)
                what = "%s, %s: after a change and the folder's mtime put back" % (name, os.path.basename(image))
                self.assertEqual(m.read_data(image), want, what)
                self.assertEqual(m.read_data(image), want, what + ", again")

    def test_a_sidecar_saved_by_another_process_is_read_after_the_folder_mtime_is_put_back(self) -> None:
        for fmt in ("json", "bin", "rkyv"):
            self.check("new-%s" % fmt, {"IMG_1.jpg": FAKE_JPEG}, lambda d, img, fmt=fmt: self.save(img, {"success": True, "faces": [], "fmt": fmt}, fmt))

    def test_a_saved_update_beside_older_files_is_read(self) -> None:
        # The image's sidecar updated in place, then a second image's sidecar created.
        def two_saves(d: str, img: str) -> None:
            self.save(img, {"success": True, "faces": [{"face_id": 1}]})
            self.save(os.path.join(d, "IMG_2.jpg"), {"success": False})

        self.check("update", {"IMG_1.jpg": FAKE_JPEG, "IMG_2.jpg": FAKE_JPEG, "IMG_1.json": {"face_detection": {"success": False}}}, two_saves)

    def test_files_written_by_other_tools_are_seen(self) -> None:
        def write(rel: str, value: Any) -> Callable[[str, str], None]:
            return lambda d, img: _other_process(_WRITE, os.path.join(d, rel), json.dumps(value))

        def remove(rel: str) -> Callable[[str, str], None]:
            return lambda d, img: _other_process(_REMOVE, os.path.join(d, rel))

        jpeg = {"IMG_1.jpg": FAKE_JPEG}
        self.check("name-ext", jpeg, write("IMG_1.jpg.json", {"yolov8": {"success": True}}))
        # A preferred name beside the one read before: the name-ext file gives way to the stem form.
        # Sidecar-shaped (a known operation): another tool's file is passed over (docs/PAIRING.md §7).
        self.check("preferred", {**jpeg, "IMG_1.jpg.json": {"yolov8": {"old": True}}}, write("IMG_1.json", {"yolov8": {"new": True}}))
        self.check("removed", {**jpeg, "IMG_1.json": {"yolov8": {"gone": True}}}, remove("IMG_1.json"))


if __name__ == "__main__":
    unittest.main()
