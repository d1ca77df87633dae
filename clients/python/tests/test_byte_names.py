"""Image names that are not UTF-8 (``IMG_\\xff.jpg``: Latin-1 names from old cameras, Windows shares,
restored archives), beside their U+FFFD twin (``IMG_\\ufffd.jpg``, what a lossy decoding makes of
them). Fuzzed byte names go through both packages (``image_sidecar`` over the CLI, the server and
local reads; ``image_sidecar_rust``), as str (surrogate escapes, os.fsdecode) and as bytes, and past
the client's own check straight to the server and the CLI. The guarantee attacked: nothing reads or
writes the twin's sidecar for the byte name, nothing touches the byte name's files; a byte name is
refused with USAGE (details reason "not-utf8") naming the exact path, and the twin reads and saves
its own sidecar only."""
from __future__ import annotations

import json
import os
import random
import shutil
import sys
import tempfile
import unittest
from typing import Dict, Tuple

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(_HERE), _HERE]

from image_sidecar import ImageSidecarError, ImageSidecarManager  # noqa: E402
from image_sidecar import cli  # noqa: E402
from image_sidecar_rust import ImageSidecar, SidecarError, StatisticsError  # noqa: E402
from _library import FAKE_JPEG, require_cli  # noqa: E402

_BAD = [b"\xff", b"\xfe", b"\x80", b"\xbf", b"\xc3", b"\xe9", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82", b"\xf0\x9f\x98"]


def byte_stem(r: random.Random) -> bytes:
    parts = [b"IMG_"]
    for _ in range(r.randint(1, 4)):
        k = r.random()
        if k < 0.25:
            parts.append(bytes([r.randint(97, 122)]))
        elif k < 0.35:
            parts.append("é".encode())
        elif k < 0.45:
            parts.append("\ufffd".encode())
        else:
            parts.append(r.choice(_BAD))
    parts.append(b"\xff")
    stem = b"".join(parts)
    try:
        stem.decode("utf-8")
    except UnicodeDecodeError:
        return stem
    raise AssertionError("not a byte name: %r" % stem)


class Case:
    def __init__(self, seed: int) -> None:
        r = random.Random(seed)
        self.seed = seed
        self.dir = tempfile.mkdtemp(prefix="byte-names-")
        self.stem = byte_stem(r)
        bdir = os.fsencode(self.dir)
        self.byte_image_b = bdir + b"/" + self.stem + b".jpg"
        self.byte_image = os.fsdecode(self.byte_image_b)  # surrogate escapes: Python's exact name
        with open(self.byte_image_b, "wb") as f:
            f.write(FAKE_JPEG)
        if r.random() < 0.7:
            with open(bdir + b"/" + self.stem + b".json", "w") as f:
                json.dump({"byteop": {"who": "byte", "seed": seed}, "sidecar_info": {}}, f)
        if r.random() < 0.3:
            with open(bdir + b"/" + self.stem + b".jpg.json", "w") as f:
                json.dump({"byteop2": {"who": "byte"}, "sidecar_info": {}}, f)
        twin_stem = self.stem.decode("utf-8", "replace")
        self.twin = os.path.join(self.dir, twin_stem + ".jpg")
        self.twin_present = r.random() < 0.7
        self.twin_sidecar = self.twin_present and r.random() < 0.5
        if self.twin_present:
            with open(self.twin, "wb") as f:
                f.write(FAKE_JPEG)
        if self.twin_sidecar:
            with open(os.path.join(self.dir, twin_stem + ".json"), "w") as f:
                json.dump({"twinop": {"who": "twin"}, "sidecar_info": {}}, f)

    def byte_files(self) -> Dict[bytes, Tuple[bytes, int]]:
        """Every file whose name is not UTF-8: its bytes and mtime."""
        out = {}
        for name in os.listdir(os.fsencode(self.dir)):
            try:
                name.decode("utf-8")
                continue
            except UnicodeDecodeError:
                pass
            p = os.fsencode(self.dir) + b"/" + name
            with open(p, "rb") as f:
                out[name] = (f.read(), os.stat(p).st_mtime_ns)
        return out

    def twin_files(self) -> Dict[str, bytes]:
        out = {}
        for name in os.listdir(self.dir):
            if name.startswith(os.path.basename(self.twin)[:-4]) and "\udc80" > max(name):  # UTF-8 names only
                with open(os.path.join(self.dir, name), "rb") as f:
                    out[name] = f.read()
        return out

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


class ByteNamesTest(unittest.TestCase):
    def setUp(self) -> None:
        require_cli(self)

    def assert_refused(self, e: BaseException, exact: bool = True, byte_path: bool = True) -> None:
        code = getattr(e, "code", None) or getattr(e, "error_code", None)
        self.assertEqual(code, "USAGE", str(e))
        self.assertIn("not valid UTF-8", str(e))
        if exact and isinstance(e, ImageSidecarError):
            self.assertEqual((e.details or {}).get("reason"), "not-utf8")
        path = getattr(e, "path", None)
        if path is not None and byte_path:
            # The exact name: its bytes are the file's, not the twin's U+FFFD.
            self.assertTrue(os.fsencode(path).startswith(b"/"))
            self.assertNotEqual(os.fsencode(path).find(b"\xff"), -1, path)

    def check_twin(self, c: Case, read, save) -> None:
        if not c.twin_present:
            return
        self.assertEqual(read(c.twin), {"twinop": {"who": "twin"}, "sidecar_info": {}} if c.twin_sidecar else {}, "seed %d: the twin reads only its own sidecar" % c.seed)
        path = save(c.twin, "yolov8")
        self.assertTrue(path.startswith(c.twin[:-4] + "."), path)
        self.assertTrue(os.path.exists(path))
        got = read(c.twin)
        self.assertIn("yolov8", got)
        self.assertNotIn("byteop", got)
        self.assertNotIn("byteop2", got)

    def test_image_sidecar_refuses_byte_names_in_every_mode(self) -> None:
        # Every seed's folder at once, one manager (and server) per mode over all of them: a server
        # start per seed and mode was most of this test's time, and no case depends on another's.
        cases = []
        try:
            for seed in range(20):
                cases.append(Case(seed))
            before = {c.seed: c.byte_files() for c in cases}
            twin_before = {c.seed: c.twin_files() for c in cases}
            for mode in ("cli", "server", "server-no-local"):
                m = ImageSidecarManager(local_reads=mode != "server-no-local")
                if mode != "cli":
                    m.__enter__()
                try:
                    for c in cases:
                        seed = c.seed
                        for image in (c.byte_image, c.byte_image_b):
                            with self.assertRaises(ImageSidecarError, msg="seed %d %s read" % (seed, mode)) as cm:
                                m.read_data(image)
                            self.assert_refused(cm.exception)
                            self.assertEqual(cm.exception.path, c.byte_image)
                            with self.assertRaises(ImageSidecarError, msg="seed %d %s save" % (seed, mode)) as cm:
                                m.save_data(image, "yolov8", {"x": seed})
                            self.assert_refused(cm.exception)
                        with self.assertRaises(ImageSidecarError):
                            m.get_statistics(os.fsencode(c.dir) + b"/" + c.stem)
                        self.assertEqual(c.byte_files(), before[seed])
                        self.assertEqual(c.twin_files(), twin_before[seed], "seed %d %s: the twin's files are untouched" % (seed, mode))
                finally:
                    m.close()
            with ImageSidecarManager() as m:
                for c in cases:
                    self.check_twin(c, m.read_data, lambda p, op, seed=c.seed: m.save_data(p, op, {"n": seed})["path"])
            # After the server has shut down: nothing it does on its way out touches them either.
            for c in cases:
                self.assertEqual(c.byte_files(), before[c.seed], "seed %d: the byte name's files are untouched" % c.seed)
        finally:
            for c in cases:
                c.remove()

    def test_server_and_cli_refuse_byte_names_sent_past_the_client(self) -> None:
        """The client's check bypassed: the server's params and the CLI's argv refuse on their own."""
        m = ImageSidecarManager()
        with m:
            server = m._connection()
            assert server is not None
            for seed in range(100, 115):
                c = Case(seed)
                try:
                    before = c.byte_files()
                    twin_before = c.twin_files()
                    for method, params in (
                        ("read", {"image": c.byte_image}),
                        ("readDetailed", {"image": c.byte_image}),
                        ("save", {"image": c.byte_image, "operation": "yolov8", "data": {"x": 1}}),
                        ("save", {"image": c.byte_image, "operation": "yolov8", "data": {"x": 1}, "format": "json"}),
                        ("validate", {"dir": os.path.join(c.dir, os.fsdecode(c.stem))}),
                    ):
                        with self.assertRaises(ImageSidecarError, msg="seed %d %s" % (seed, method)) as cm:
                            server.request(method, params)
                        self.assert_refused(cm.exception)
                        # The server names the path exactly as sent: the same surrogate escapes.
                        self.assertIn(cm.exception.path, (c.byte_image, os.path.join(c.dir, os.fsdecode(c.stem))))
                    for args in (["read", c.byte_image, "--json"], ["write", c.byte_image, "--operation", "yolov8", "--data", "-", "--json"]):
                        with self.assertRaises(ImageSidecarError, msg="seed %d CLI %s" % (seed, args[0])) as cm:
                            cli.run(m.command, args, stdin_text='{"x":1}')
                        self.assert_refused(cm.exception, exact=False)
                        self.assertEqual(cm.exception.returncode, 2)
                        self.assertIn(c.stem.decode("utf-8", "backslashreplace"), cm.exception.message)
                    self.assertEqual(c.byte_files(), before)
                    self.assertEqual(c.twin_files(), twin_before)
                finally:
                    c.remove()

    def test_image_sidecar_rust_refuses_byte_names(self) -> None:
        for seed in range(200, 215):
            c = Case(seed)
            try:
                before = c.byte_files()
                twin_before = c.twin_files()
                sc = ImageSidecar()
                for image in (c.byte_image, c.byte_image_b):
                    with self.assertRaises(SidecarError) as cm:
                        sc.read_data(image)
                    self.assert_refused(cm.exception)
                    with self.assertRaises(SidecarError) as cm:
                        sc.save_data(image, "yolov8", {"x": seed})
                    self.assert_refused(cm.exception)
                with self.assertRaises(StatisticsError) as cm:
                    sc.get_statistics(os.path.join(c.dir, os.fsdecode(c.stem)))
                self.assertIn("not valid UTF-8", str(cm.exception))
                self.assertEqual(c.byte_files(), before)
                self.assertEqual(c.twin_files(), twin_before)
                self.check_twin(c, sc.read_data, lambda p, op: sc.save_data(p, op, {"n": seed})["sidecar_path"])
                self.assertEqual(c.byte_files(), before, "seed %d: the byte name's files are untouched" % seed)
            finally:
                c.remove()

    def test_a_link_to_a_byte_name_is_refused_by_both_packages(self) -> None:
        """A UTF-8 path whose symlink leads to a byte name: the library would see the twin's name."""
        for seed in range(300, 310):
            c = Case(seed)
            try:
                link = os.path.join(c.dir, "L%d.jpg" % seed)
                os.symlink(c.stem + b".jpg" if seed % 2 else c.byte_image_b, os.fsencode(link))
                before = c.byte_files()
                twin_before = c.twin_files()
                with ImageSidecarManager() as m:
                    with self.assertRaises(ImageSidecarError, msg="seed %d read" % seed) as cm:
                        m.read_data(link)
                    self.assert_refused(cm.exception, byte_path=False)
                    self.assertEqual(cm.exception.path, link)
                    with self.assertRaises(ImageSidecarError) as cm:
                        m.save_data(link, "yolov8", {"x": 1})
                    self.assert_refused(cm.exception, byte_path=False)
                sc = ImageSidecar()
                with self.assertRaises(SidecarError) as cm:
                    sc.read_data(link)
                self.assert_refused(cm.exception, byte_path=False)
                with self.assertRaises(SidecarError) as cm:
                    sc.save_data(link, "yolov8", {"x": 1})
                self.assert_refused(cm.exception, byte_path=False)
                self.assertEqual(c.byte_files(), before)
                self.assertEqual(c.twin_files(), twin_before)
            finally:
                c.remove()


if __name__ == "__main__":
    unittest.main()
