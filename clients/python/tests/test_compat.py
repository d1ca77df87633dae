"""`import image_sidecar_rust` driven the way the sportball pipeline drives it (PYTHON_API.md, issue 18):
a new ImageSidecar() per image from thread and process pools, reads of every format, saves of a
dict, a JSON string and a whole document, and errors on corrupt sidecars."""
from __future__ import annotations

import concurrent.futures
import json
import multiprocessing
import os
import struct
import sys
import unittest
from typing import Any, Dict
from unittest import mock

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(_HERE), _HERE]

import image_sidecar_rust  # noqa: E402
from image_sidecar import ImageSidecarManager  # noqa: E402
from image_sidecar_rust import ImageSidecar, OperationType, SidecarError, SidecarFormat, StatisticsError, ValidationError  # noqa: E402
from image_sidecar_rust.exceptions import FormatError, IOWarning  # noqa: E402
from image_sidecar_rust import core as compat_core  # noqa: E402
from _library import FAKE_JPEG, Library, face_detection, require_cli, yolov8  # noqa: E402


NUMBERS = {"score": 25.0, "count": 25, "big": 1234567890123456789, "bigger": 12345678901234567891,
           "neg_zero": -0.0, "tiny": 5e-324, "conf": 0.22490839660167694, "emb": [0.5, 1.0, 2.0, -0.0, 0.1]}


def _shared_server_pid() -> int:
    m = compat_core._manager()
    server = m._connection()
    assert server is not None
    return server.pid


def _process_worker(args):
    """In a forked worker: a new ImageSidecar per image, as check_sidecar_file_parallel does."""
    image, i = args
    sc = ImageSidecar()
    before = sc.read_data(image) or {}
    sc.save_data(image, OperationType.YOLOV8, json.dumps(yolov8(i % 3 + 1)))
    after = ImageSidecar().read_data(image)
    return os.getpid(), _shared_server_pid(), bool(before), after["yolov8"]["metadata"]["objects_found"]


def _whole_document_worker(args):
    """In a forked worker, as sportball saves: read the sidecar, set one operation, stamp it, send
    the whole document back."""
    image, op, run = args
    sc = ImageSidecar()
    doc = sc.read_data(image)
    doc[op] = {"run": run}
    doc["sidecar_info"].update(last_updated="2030-01-01T00:00:%02d" % run, last_operation=op)
    sc.save_data(image, OperationType.FACE_DETECTION, json.dumps(doc))
    return op


class CompatApiTest(unittest.TestCase):
    def test_names_constants_and_exceptions(self) -> None:
        self.assertEqual(set(image_sidecar_rust.__all__),
                         {"ImageSidecar", "SidecarFormat", "OperationType", "SidecarError", "ValidationError", "StatisticsError"})
        self.assertTrue(image_sidecar_rust.__version__)
        self.assertEqual(OperationType.YOLOV8, "yolov8")
        self.assertIs(type(OperationType.YOLOV8), str, "constants are plain strings")
        self.assertEqual(OperationType.FACE_DETECTION, "face_detection")
        self.assertEqual(OperationType("YOLOv8"), "yolov8")
        self.assertEqual(str(OperationType("Face_Detection")), "face_detection")
        for bad in ("unknown", "nope"):
            with self.assertRaisesRegex(ValueError, "Unknown operation: %s" % bad):
                OperationType(bad)
        self.assertEqual((SidecarFormat.JSON, SidecarFormat.BINARY, SidecarFormat.RKYV), ("json", "binary", "rkyv"))
        self.assertEqual(SidecarFormat("BIN"), "bin")
        with self.assertRaisesRegex(ValueError, "Unknown format: unknown"):
            SidecarFormat("unknown")
        for cls in (ValidationError, StatisticsError, FormatError, IOWarning):
            self.assertTrue(issubclass(cls, SidecarError))
        e = SidecarError("boom", "CODE")
        self.assertEqual((e.message, e.error_code), ("boom", "CODE"))


class CompatTest(unittest.TestCase):
    def setUp(self) -> None:
        require_cli(self)
        self.lib = Library()

    def tearDown(self) -> None:
        self.lib.remove()

    def image(self, name: str) -> str:
        p = os.path.join(self.lib.day, name)
        with open(p, "wb") as f:
            f.write(FAKE_JPEG)
        return p

    def sidecar_path(self, image: str, ext: str) -> str:
        return os.path.splitext(image)[0] + "." + ext

    def test_default_format_getter_and_setter_agree(self) -> None:
        sc = ImageSidecar()
        self.assertTrue(sc.rust_available)
        sc.set_default_format(sc.get_default_format())
        for given, got in (("bin", "bin"), ("binary", "bin"), ("BINARY", "bin"), ("json", "json"), ("rkyv", "rkyv"), (SidecarFormat.JSON, "json")):
            sc.set_default_format(given)
            self.assertEqual(sc.get_default_format(), got)
            sc.set_default_format(sc.get_default_format())
        with self.assertRaises(FormatError):
            sc.set_default_format("xml")
        # "not wrapped" in the earlier package: its ValueError still catches it.
        with self.assertRaises(ValueError):
            sc.set_default_format("xml")

    def test_contract_edges_a_pipeline_meets(self) -> None:
        sc = ImageSidecar()
        img = self.image("edge_1.jpg")
        sc.save_data(img, OperationType.YOLOV8, {"success": True, "objects": [1]})
        # Only a dict (or a JSON object as a string), as the earlier package: a None saved whole
        # replaced the operation's result.
        for bad in (None, [1], 3, "null", "25.0"):
            with self.assertRaises(SidecarError) as cm:
                sc.save_data(img, OperationType.YOLOV8, bad)
            self.assertEqual(cm.exception.error_code, "USAGE", repr(bad))
        self.assertEqual(sc.read_data(img)["yolov8"], {"success": True, "objects": [1]})
        # An image not there reads as the earlier package read it: {} with no sidecar, its sidecar's data with one.
        self.assertEqual(sc.read_data(os.path.join(self.lib.day, "never_there.jpg")), {})
        os.unlink(img)
        self.assertEqual(sc.read_data(img)["yolov8"], {"success": True, "objects": [1]})
        # Never another image's file of the stem (IMG.png's, once IMG.jpg is gone), nor another tool's.
        png = os.path.join(self.lib.day, "edge_2.png")
        with open(png, "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n")
        sc.save_data(png, OperationType.YOLOV8, {"success": True, "objects": [2]})
        self.assertEqual(sc.read_data(os.path.join(self.lib.day, "edge_2.jpg")), {})
        with open(os.path.join(self.lib.day, "edge_3.json"), "w") as f:
            f.write('[{"SourceFile": "edge_3.jpg"}]')
        self.assertEqual(sc.read_data(os.path.join(self.lib.day, "edge_3.jpg")), {})
        # The earlier package's f64 statistics: a whole coverage is a float, not an int.
        stats = sc.get_statistics(self.lib.root)
        self.assertIsInstance(stats["coverage_percentage"], float)
        self.assertTrue(all(isinstance(v, float) for v in stats["success_rate_percentages"].values()), stats["success_rate_percentages"])
        # A bad setting at construction is this package's error class.
        with mock.patch.dict(os.environ, {"IMAGE_SIDECAR_WORKERS": "abc"}):
            import image_sidecar_rust.core as core
            saved, core._shared = core._shared, None
            try:
                with self.assertRaises(SidecarError):
                    ImageSidecar()
            finally:
                core._shared = saved

    def test_read_data_every_format(self) -> None:
        sc = ImageSidecar()
        self.assertEqual(sc.read_data(self.lib.bare), {}, "no sidecar: {}")
        # .json written by the pipeline, the earlier tool's legacy .bin
        self.assertEqual(sc.read_data(self.lib.merged)["yolov8"]["objects"][0]["confidence"], 0.22490839660167694)
        self.assertEqual(sc.read_data(self.lib.legacy)["yolov8"]["objects"][0]["class_name"], "person")
        # our .bin and .rkyv, written by the library
        doc = {"success": True, "faces": face_detection(2, 0.4)["faces"]}
        for fmt in ("bin", "rkyv"):
            img = self.image("FMT_%s.jpg" % fmt)
            w = ImageSidecar()
            w.set_default_format(fmt)
            info = w.save_data(img, OperationType.FACE_DETECTION, doc)
            self.assertEqual(info["sidecar_path"], self.sidecar_path(img, fmt))
            with open(info["sidecar_path"], "rb") as f:
                self.assertEqual(f.read(4), b"\x89ISC")
            got = ImageSidecar().read_data(img)
            self.assertEqual(got["face_detection"], doc)
            enc = got["face_detection"]["faces"][0]["encoding"]
            self.assertEqual(enc, doc["faces"][0]["encoding"])
            self.assertTrue(all(type(x) is float for x in enc))

    def test_save_data_dict_string_and_whole_document(self) -> None:
        img = self.lib.merged  # has face_detection + yolov8 + sidecar_info already
        before = ImageSidecar().read_data(img)
        with open(self.sidecar_path(img, "json"), "rb") as f:
            json_before = f.read()
        # a dict: written as .bin, as the earlier package did; the JSON sidecar is kept untouched
        info = ImageSidecar().save_data(img, OperationType.YOLOV8, yolov8(3))
        self.assertTrue(info)
        self.assertEqual(set(info) >= {"image_path", "sidecar_path", "operation", "data_size", "created_at", "is_valid"}, True)
        self.assertEqual((info["operation"], info["is_valid"], info["sidecar_path"]), ("yolov8", True, self.sidecar_path(img, "bin")))
        self.assertEqual(info["kept"], self.sidecar_path(img, "json"))
        self.assertGreater(info["data_size"], 0)
        # a JSON string (what sportball passes), with a Path
        from pathlib import Path
        ImageSidecar().save_data(Path(img), OperationType.YOLOV8, json.dumps(yolov8(4)))
        doc = ImageSidecar().read_data(img)
        self.assertEqual(doc["yolov8"], yolov8(4))
        self.assertEqual(doc["face_detection"], before["face_detection"], "other operations are kept")
        # a whole document, op forced to face_detection as sportball does
        whole = dict(doc)
        whole["quality_assessment"] = {"success": True, "quality": {"overall_score": 0.5, "grade": "C"}}
        whole["yolov8"] = yolov8(1)
        whole["sidecar_info"] = dict(doc["sidecar_info"], operation_type="face_detection_pipeline", processing_time=1.5, data_size=123, success=True)
        ImageSidecar().save_data(img, OperationType.FACE_DETECTION, json.dumps(whole))
        merged = ImageSidecar().read_data(img)
        # key by key at the top level, not nested under doc["face_detection"]
        self.assertEqual(set(merged), {"face_detection", "yolov8", "quality_assessment", "sidecar_info"})
        self.assertEqual(merged["face_detection"], before["face_detection"])
        self.assertNotIn("sidecar_info", merged["face_detection"])
        self.assertEqual(merged["yolov8"], yolov8(1))
        self.assertEqual(merged["quality_assessment"], whole["quality_assessment"])
        info_block = merged["sidecar_info"]
        self.assertEqual(info_block["operation_type"], before["sidecar_info"]["operation_type"], "operation_type is kept")
        self.assertEqual(info_block["created_at"], before["sidecar_info"]["created_at"], "created_at is kept")
        self.assertEqual((info_block["processing_time"], info_block["data_size"], info_block["success"]), (1.5, 123, True))
        self.assertEqual(info_block["last_operation"], "face_detection")
        # the JSON copy is left as it was until the user removes it (gradual migration)
        with open(self.sidecar_path(img, "json"), "rb") as f:
            self.assertEqual(f.read(), json_before)
        # a JSON string that is not JSON
        with self.assertRaises(SidecarError) as cm:
            ImageSidecar().save_data(img, OperationType.YOLOV8, "{not json")
        self.assertEqual(cm.exception.error_code, "USAGE")
        # bytes that are not UTF-8: the same answer, never a UnicodeDecodeError out of save_data
        for data in (b"\xff\xfe{}", bytearray(b'{"a": "\xc3"}')):
            with self.assertRaises(SidecarError) as cm:
                ImageSidecar().save_data(img, OperationType.YOLOV8, data)
            self.assertEqual(cm.exception.error_code, "USAGE")
        self.assertEqual(ImageSidecar().save_data(img, "quality_assessment", b'{"grade": "A"}')["operation"], "quality_assessment")
        with self.assertRaises(SidecarError):
            ImageSidecar().save_data(img, "no_such_operation", {})
        # a repeated key is refused, as the CLI and the server refuse it (json.loads kept the last)
        saved = ImageSidecar().read_data(img)
        for data in ('{"objects": [1], "objects": []}', b'{"success": true, "x": {"a": 1, "a": 2}}'):
            with self.assertRaises(SidecarError) as cm:
                ImageSidecar().save_data(img, OperationType.YOLOV8, data)
            self.assertEqual(cm.exception.error_code, "USAGE")
            self.assertIn("repeated key", str(cm.exception))
        with self.assertRaises(SidecarError) as cm:
            ImageSidecar().create_sidecar(img, OperationType.YOLOV8, '{"objects": [1], "objects": []}')
        self.assertEqual(cm.exception.error_code, "USAGE")
        self.assertEqual(ImageSidecar().read_data(img), saved, "nothing saved")

    def test_numbers_survive_reads(self) -> None:
        """25.0 stays a float, 19-digit ints stay exact, -0.0 keeps its sign: a sidecar written by
        Python's json is read back exactly (the local read path)."""
        img = self.image("NUM_1.jpg")
        values = NUMBERS
        with open(self.sidecar_path(img, "json"), "w", encoding="utf-8") as f:
            json.dump({"face_detection": values}, f, indent=2)
        got = ImageSidecar().read_data(img)["face_detection"]
        self.assertEqual(json.dumps(got), json.dumps(values))
        self.assertEqual([type(v) for v in got.values()], [type(v) for v in values.values()])

    def test_numbers_survive_saves(self) -> None:
        """The same numbers saved through the module (the library merges and writes), then read back."""
        values = NUMBERS
        for fmt in ("json", "bin"):
            img2 = self.image("NUM_%s.jpg" % fmt)
            sc = ImageSidecar()
            sc.set_default_format(fmt)
            sc.save_data(img2, OperationType.YOLOV8, json.dumps(values))
            back = ImageSidecar().read_data(img2)["yolov8"]
            self.assertEqual(json.dumps(back), json.dumps(values), "%s: the library changed a number" % fmt)

    def test_symlinks_resolve_fully(self) -> None:
        real = self.image("REAL_1.jpg")
        ImageSidecar().save_data(real, OperationType.YOLOV8, yolov8(2))
        a = os.path.join(self.lib.root, "links", "a")
        b = os.path.join(self.lib.root, "links", "deeper", "b")
        os.makedirs(os.path.dirname(b))
        os.symlink(os.path.relpath(real, os.path.dirname(a)), a + ".jpg")  # relative, other folder
        os.symlink(os.path.relpath(a + ".jpg", os.path.dirname(b)), b + ".jpg")  # a chain of two
        cwd = os.getcwd()
        os.chdir(self.lib.root)  # the earlier package resolved relative links against the cwd
        try:
            self.assertEqual(ImageSidecar().read_data(b + ".jpg")["yolov8"], yolov8(2))
            ImageSidecar().save_data(b + ".jpg", OperationType.FACE_DETECTION, face_detection(1, 0.5))
        finally:
            os.chdir(cwd)
        self.assertFalse(os.path.exists(b + ".json") or os.path.exists(b + ".bin"), "nothing is written next to the link")
        self.assertEqual(set(ImageSidecar().read_data(real)), {"yolov8", "face_detection", "sidecar_info"})

    def test_corrupt_sidecars_raise_and_are_kept(self) -> None:
        path = os.path.join(self.lib.day, "20250920_143024.json")
        with open(path, "rb") as f:
            original = f.read()
        with self.assertRaises(SidecarError) as cm:
            ImageSidecar().read_data(self.lib.corrupt)
        self.assertEqual(cm.exception.error_code, "CORRUPT")
        with self.assertRaises(SidecarError) as cm:
            ImageSidecar().save_data(self.lib.corrupt, OperationType.YOLOV8, {"success": True})
        self.assertEqual(cm.exception.error_code, "CORRUPT")
        # a damaged .bin (checksum) is an error too, never {}
        img = self.image("BAD_1.jpg")
        body = b"\xa1\x61\x61\x01"
        header = b"\x89ISC\x01\x00\x00\x00" + struct.pack("<II", len(body), 12345)
        with open(self.sidecar_path(img, "bin"), "wb") as f:
            f.write(header + body)
        with self.assertRaises(SidecarError) as cm:
            ImageSidecar().read_data(img)
        self.assertEqual(cm.exception.error_code, "CORRUPT")
        self.assertIn("checksum", cm.exception.message)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), original, "a corrupt sidecar is never overwritten")

    def test_thread_pool_one_instance_per_image(self) -> None:
        images = [self.image("T_%03d.jpg" % i) for i in range(40)]

        def work(i: int) -> int:
            img = images[i % len(images)]
            face = (i // len(images)) % 2 == 1  # every image gets both operations, from different threads
            ImageSidecar().save_data(img, OperationType.FACE_DETECTION if face else OperationType.YOLOV8,
                                     json.dumps(face_detection(1, i / 100) if face else yolov8(i % 4 + 1)))
            return len(ImageSidecar().read_data(img))

        pid = _shared_server_pid()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            results = list(pool.map(work, range(160)))
        self.assertTrue(all(n >= 2 for n in results))
        self.assertEqual(_shared_server_pid(), pid, "one server for the whole process")
        for img in images:
            self.assertEqual(set(ImageSidecar().read_data(img)), {"face_detection", "yolov8", "sidecar_info"})

    @unittest.skipUnless(hasattr(os, "fork"), "fork() is POSIX")
    def test_process_pool_after_fork(self) -> None:
        images = [self.image("P_%03d.jpg" % i) for i in range(24)]
        parent_pid = _shared_server_pid()  # started before the fork: children must not share it
        ctx = multiprocessing.get_context("fork")
        with concurrent.futures.ProcessPoolExecutor(3, mp_context=ctx) as pool:
            results = list(pool.map(_process_worker, [(img, i) for i, img in enumerate(images)]))
        child_servers = {(pid, server) for pid, server, _, _ in results}
        self.assertTrue(all(server != parent_pid for _, server in child_servers), "a forked child started its own server")
        self.assertEqual(len({pid for pid, _ in child_servers}), len({server for _, server in child_servers}), "one server per worker process")
        self.assertEqual([n for *_, n in results], [i % 3 + 1 for i in range(len(images))])
        self.assertEqual(_shared_server_pid(), parent_pid, "the parent's server survived its children")
        for i, img in enumerate(images):
            self.assertEqual(ImageSidecar().read_data(img)["yolov8"]["metadata"]["objects_found"], i % 3 + 1)

    def test_whole_documents_built_from_reads_keep_each_others_results(self) -> None:
        # Two workers read, then each sends its whole document: the later one carried the other's
        # operation as it read it, and that stale copy replaced the other's new result.
        img = self.image("W.jpg")
        sc = ImageSidecar()
        for op in ("face_detection", "yolov8", "quality_assessment"):
            sc.save_data(img, op, {"run": 0})
        a = sc.read_data(img)

        def other_worker() -> None:  # another thread reads and saves between a's read and save
            b = ImageSidecar().read_data(img)
            b["face_detection"] = {"run": 1}
            b["sidecar_info"].update(last_updated="2030-01-01T00:00:01", last_operation="face_detection")
            ImageSidecar().save_data(img, OperationType.FACE_DETECTION, json.dumps(b))

        import threading
        t = threading.Thread(target=other_worker)
        t.start()
        t.join(60)
        a["yolov8"] = {"run": 1}
        a["sidecar_info"].update(last_updated="2030-01-01T00:00:02", last_operation="yolov8")
        sc.save_data(img, OperationType.YOLOV8, json.dumps(a))
        got = sc.read_data(img)
        self.assertEqual((got["face_detection"], got["yolov8"], got["quality_assessment"]), ({"run": 1}, {"run": 1}, {"run": 0}))
        # A document two entries away from every read (built from elsewhere) has no base: its
        # entries are the caller's, as before.
        c = sc.read_data(img)
        c["face_detection"], c["yolov8"] = {"run": 7}, {"run": 7}
        sc.save_data(img, OperationType.FACE_DETECTION, c)
        got = sc.read_data(img)
        self.assertEqual((got["face_detection"], got["yolov8"]), ({"run": 7}, {"run": 7}))

    def test_whole_document_base_edges(self) -> None:
        sc = ImageSidecar()
        # A backend map: the other backend, saved by another worker since the read, stays.
        img = self.image("B.jpg")
        sc.save_data(img, "face_detection", {"faces": [0]}, backend="insightface")
        sc.save_data(img, "face_detection", {"faces": [0]}, backend="mediapipe")
        doc = sc.read_data(img)
        ImageSidecarManager(local_reads=False).save_data(img, "face_detection", {"faces": [99]}, backend="mediapipe")
        doc["face_detection"]["insightface"] = {"faces": [1]}
        doc["sidecar_info"].update(last_updated="2030-01-01T00:00:01", last_operation="face_detection")
        sc.save_data(img, OperationType.FACE_DETECTION, json.dumps(doc))
        self.assertEqual(sc.read_data(img)["face_detection"], {"insightface": {"faces": [1]}, "mediapipe": {"faces": [99]}})
        # An operation set back to an older value is the caller's change, even when an older read held it.
        img = self.image("S.jpg")
        sc.save_data(img, "face_detection", {"faces": [1]})
        sc.read_data(img)
        sc.save_data(img, "face_detection", {"faces": [2]})
        doc = sc.read_data(img)
        doc["face_detection"], doc["quality_assessment"] = {"faces": [1]}, {"q": 1}
        sc.save_data(img, OperationType.FACE_DETECTION, doc)
        got = sc.read_data(img)
        self.assertEqual((got["face_detection"], got["quality_assessment"]), ({"faces": [1]}, {"q": 1}))
        # The caller's changes to the dict it got do not change what it read.
        img = self.image("M.jpg")
        sc.save_data(img, "yolov8", {"run": 0})
        sc.save_data(img, "face_detection", {"run": 0})
        doc = sc.read_data(img)
        doc["yolov8"]["run"] = 5  # changed in place, then sent: a change
        sc.save_data(img, OperationType.YOLOV8, doc)
        self.assertEqual(sc.read_data(img)["yolov8"], {"run": 5})

    def test_whole_document_retry_and_threads_of_one_process(self) -> None:
        sc = ImageSidecar()
        # A failed attempt saved, then the retry's success equal to what was read: the success is saved.
        img = self.image("R.jpg")
        sc.save_data(img, "face_detection", {"success": True, "faces": [1]})
        sc.save_data(img, "yolov8", {"success": True, "n": 1})
        doc = sc.read_data(img)
        doc["face_detection"] = {"success": False, "error": "timeout"}
        sc.save_data(img, "face_detection", json.dumps(doc))
        doc["face_detection"] = {"success": True, "faces": [1]}
        sc.save_data(img, "face_detection", json.dumps(doc))
        self.assertEqual(sc.read_data(img)["face_detection"], {"success": True, "faces": [1]})
        # Three threads of one process, each its own read and save, interleaved: all three kept.
        img = self.image("T.jpg")
        for op in ("face_detection", "yolov8", "quality_assessment"):
            sc.save_data(img, op, {"success": False})
        import threading
        docs: Dict[str, Any] = {}
        steps = [("B", "read"), ("A", "read"), ("A", "face_detection"), ("C", "read"), ("B", "yolov8"), ("C", "quality_assessment")]
        gates = {name: threading.Event() for name in "ABC"}
        done = {name: threading.Event() for name in "ABC"}
        plan = {name: [s for n, s in steps if n == name] for name in "ABC"}

        def worker(name: str) -> None:
            for step in plan[name]:
                gates[name].wait()
                gates[name].clear()
                if step == "read":
                    docs[name] = ImageSidecar().read_data(img)
                else:
                    docs[name][step] = {"success": True}
                    ImageSidecar().save_data(img, step, json.dumps(docs[name]))
                done[name].set()

        threads = [threading.Thread(target=worker, args=(n,)) for n in "ABC"]
        for t in threads:
            t.start()
        for name, _ in steps:  # one step at a time, in this order
            gates[name].set()
            done[name].wait(60)
            done[name].clear()
        for t in threads:
            t.join(60)
        got = sc.read_data(img)
        self.assertEqual({op: got[op] for op in ("face_detection", "yolov8", "quality_assessment")}, {op: {"success": True} for op in ("face_detection", "yolov8", "quality_assessment")})

    def test_a_finished_threads_read_is_no_later_threads_base(self) -> None:
        # A thread reads and ends; another writer saves; a new thread (often under the same id)
        # builds a document from the JSON file itself and sets a result back: its change is saved.
        img = self.image("J.jpg")
        sc = ImageSidecar()
        sc.set_default_format("json")
        try:
            sc.save_data(img, "face_detection", {"faces": ["f0"]})
            import threading
            t = threading.Thread(target=lambda: ImageSidecar().read_data(img))
            t.start()
            t.join(60)
            ImageSidecarManager(local_reads=False).save_data(img, "face_detection", {"faces": ["f1-bad"]})
            ImageSidecarManager(local_reads=False).save_data(img, "yolov8", {"objects": ["y1"]})

            def rollback() -> None:
                with open(os.path.splitext(img)[0] + ".json", encoding="utf-8") as f:
                    doc = json.load(f)
                doc["face_detection"] = {"faces": ["f0"]}
                ImageSidecar().save_data(img, "face_detection", json.dumps(doc))

            t = threading.Thread(target=rollback)
            t.start()
            t.join(60)
            got = sc.read_data(img)
            self.assertEqual((got["face_detection"], got["yolov8"]), ({"faces": ["f0"]}, {"objects": ["y1"]}))
        finally:
            sc.set_default_format("bin")

    def test_a_retry_after_a_failure_saved_per_operation_is_saved(self) -> None:
        # The worker read, saved its failure per operation, then sent its document with the
        # result again (equal to the one read): the success is saved, not kept out as "as read".
        img = self.image("E.jpg")
        sc = ImageSidecar()
        sc.save_data(img, "face_detection", {"success": True, "faces": [1]})
        sc.save_data(img, "yolov8", {"success": True})
        doc = sc.read_data(img)
        sc.save_data(img, "face_detection", {"success": False, "error": "timeout"})
        doc["face_detection"] = {"success": True, "faces": [1]}
        sc.save_data(img, "face_detection", json.dumps(doc))
        self.assertEqual(sc.read_data(img)["face_detection"], {"success": True, "faces": [1]})

    @unittest.skipUnless(hasattr(os, "fork"), "fork() is POSIX")
    def test_a_forked_child_sends_no_base_from_the_parents_reads(self) -> None:
        # The parent read; a child recorded a failure since; another child retries with the
        # parent's document: its result is saved (the parent's read would have kept it out).
        img = self.image("F.jpg")
        sc = ImageSidecar()
        sc.save_data(img, "face_detection", {"success": True, "faces": [1]})
        doc = sc.read_data(img)
        ImageSidecarManager(local_reads=False).save_data(img, "face_detection", {"success": False})
        doc["face_detection"] = {"success": True, "faces": [1]}
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                ImageSidecar().save_data(img, OperationType.FACE_DETECTION, json.dumps(doc))
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0)
        self.assertEqual(sc.read_data(img)["face_detection"], {"success": True, "faces": [1]})

    @unittest.skipUnless(hasattr(os, "fork"), "fork() is POSIX")
    def test_whole_documents_from_concurrent_workers_keep_every_result(self) -> None:
        ops = ["face_detection", "yolov8", "quality_assessment", "object_detection", "ball_detection", "game_detection"]
        img = self.image("C.jpg")
        sc = ImageSidecar()
        for op in ops:
            sc.save_data(img, op, {"run": 0})
        ctx = multiprocessing.get_context("fork")
        with concurrent.futures.ProcessPoolExecutor(len(ops), mp_context=ctx) as pool:
            done = list(pool.map(_whole_document_worker, [(img, op, i + 1) for i, op in enumerate(ops)]))
        self.assertEqual(done, ops)
        got = sc.read_data(img)
        self.assertEqual({op: got[op] for op in ops}, {op: {"run": i + 1} for i, op in enumerate(ops)})

    def test_find_sidecars_filters_by_operation_and_lists_every_operation(self) -> None:
        sc = ImageSidecar()
        every = sc.find_sidecars(self.lib.root)
        self.assertTrue(every)
        for info in every:
            self.assertEqual(info["operation"], info["operations"][0] if info["operations"] else "unknown")
        for op in ("yolov8", OperationType.FACE_DETECTION):
            only = sc.find_sidecars(self.lib.root, op)
            self.assertEqual(sorted(i["sidecar_path"] for i in only), sorted(i["sidecar_path"] for i in every if op in i["operations"]))
            self.assertTrue(all(i["operation"] == op for i in only))
        self.assertEqual(sc.find_sidecars(self.lib.root, "no_such_operation"), [])

    def test_create_sidecar_unified_stores_operations_at_the_top_level(self) -> None:
        img = self.lib.bare
        ImageSidecar().create_sidecar(img, OperationType.UNIFIED, {"face_detection": face_detection(1, 0.3), "yolov8": yolov8(2)})
        doc = ImageSidecar().read_data(img)
        self.assertEqual(doc["face_detection"], face_detection(1, 0.3))
        self.assertEqual(doc["yolov8"], yolov8(2))
        self.assertNotIn("unified", doc)
        # A unified result (not a set of operations) is stored under "unified", as before.
        ImageSidecar().create_sidecar(img, OperationType.UNIFIED, json.dumps({"faces": [], "face_count": 0, "success": True}))
        doc = ImageSidecar().read_data(img)
        self.assertEqual(doc["unified"], {"faces": [], "face_count": 0, "success": True})
        self.assertEqual(doc["yolov8"], yolov8(2), "the other operations are kept")

    def test_save_data_backend_keeps_the_other_backend(self) -> None:
        img = self.lib.bare
        ImageSidecar().save_data(img, OperationType.FACE_DETECTION, face_detection(1, 0.1), backend="insightface")
        ImageSidecar().save_data(img, OperationType.FACE_DETECTION, json.dumps(face_detection(2, 0.2)), backend="face_recognition")
        fd = ImageSidecar().read_data(img)["face_detection"]
        self.assertEqual(fd, {"insightface": face_detection(1, 0.1), "face_recognition": face_detection(2, 0.2)})

    def test_tree_methods_return_the_listed_keys(self) -> None:
        sc = ImageSidecar()
        results = sc.validate_sidecars(self.lib.root)
        self.assertTrue(results and all({"file_path", "is_valid", "error", "processing_time", "file_size"} <= set(r) for r in results))
        self.assertIn(False, [r["is_valid"] for r in results])
        stats = sc.get_statistics(self.lib.root)
        self.assertTrue({"total_images", "total_sidecars", "coverage_percentage", "operation_counts", "avg_processing_times",
                         "success_rate_percentages", "avg_data_sizes"} <= set(stats))
        found = sc.find_sidecars(self.lib.root)
        self.assertTrue(found and all({"image_path", "sidecar_path", "operation", "data_size", "created_at", "is_valid"} <= set(f) for f in found))
        self.assertIn(os.path.join(self.lib.day, "20250920_143022.json"), [f["sidecar_path"] for f in found])
        fmt = sc.get_format_statistics(self.lib.root)
        self.assertEqual(set(fmt), {"json", "bin", "rkyv"})
        self.assertGreaterEqual(fmt["json"], 3)
        self.assertEqual(fmt["bin"], 1, "the legacy .bin")
        missing = os.path.join(self.lib.root, "missing")
        self.assertEqual((sc.validate_sidecars(missing), sc.find_sidecars(missing), sc.cleanup_orphaned(missing)), ([], [], 0))
        self.assertEqual(sc.get_statistics(missing)["total_sidecars"], 0)
        with self.assertRaises(FormatError):
            sc.convert_directory_format(self.lib.root, "xml")
        removed = sc.cleanup_orphaned(self.lib.root)
        self.assertIsInstance(removed, int)
        self.assertFalse(os.path.exists(self.lib.orphan), "the orphan went to quarantine")
        self.assertTrue(os.path.exists(os.path.join(self.lib.day, "20250920_143022.json")), "valid sidecars stay")
        self.assertTrue(os.path.exists(self.lib.report), "a directory-level report is not an orphan")


if __name__ == "__main__":
    unittest.main()
