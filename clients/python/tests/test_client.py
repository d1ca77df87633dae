"""ImageSidecarManager against the real CLI: per-call CLI mode and the `with` (server) mode."""
from __future__ import annotations

import concurrent.futures
import json
import contextlib
import os
import struct
import subprocess
import sys
import tempfile
import unittest
from unittest import mock

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(_HERE), _HERE]  # the package and the test helpers, without installing

from image_sidecar import ImageSidecarError, ImageSidecarManager, ImageSidecarNotFound, locate_binary  # noqa: E402
from _library import Library, require_cli  # noqa: E402


class NotFoundTest(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.mkdtemp(prefix="isc-py-nf-")

    def tearDown(self) -> None:
        os.rmdir(self.tmp)

    def assert_helpful(self, err: ImageSidecarNotFound) -> None:
        self.assertIsInstance(err, ImageSidecarError)
        self.assertEqual(err.code, "NOT_INSTALLED")
        self.assertIn("npm install image-sidecar", str(err))
        self.assertIn("IMAGE_SIDECAR_BIN", str(err))

    def test_missing_binary_makes_every_call_raise(self) -> None:
        m = ImageSidecarManager(binary_path=os.path.join(self.tmp, "no-such-image-sidecar"))
        self.assertFalse(m.available)
        self.assertIsNone(m.binary_path)
        calls = [
            lambda: m.read_data(os.path.join(self.tmp, "a.jpg")),
            lambda: m.save_data(os.path.join(self.tmp, "a.jpg"), "face_detection", {}),
            lambda: m.validate_sidecars(self.tmp),
            lambda: m.get_statistics(self.tmp),
            lambda: m.get_format_statistics(self.tmp),
            lambda: m.convert_format(self.tmp, "json"),
            lambda: m.cleanup(self.tmp),
            lambda: m.export(self.tmp, os.path.join(self.tmp, "x.json")),
            lambda: m.__enter__(),
        ]
        for call in calls:
            with self.assertRaises(ImageSidecarNotFound) as cm:
                call()
            self.assert_helpful(cm.exception)
            self.assertIn("no-such-image-sidecar", str(cm.exception))
        info = m.get_performance_info()
        self.assertEqual((info["available"], info["rust_available"], info["binary_path"]), (False, False, None))

    def test_nothing_on_path_or_env(self) -> None:
        env = {k: v for k, v in os.environ.items() if k != "IMAGE_SIDECAR_BIN"}
        env["PATH"] = self.tmp
        with mock.patch.dict(os.environ, env, clear=True):
            located = locate_binary(cwd=self.tmp)
            self.assertIsNone(located.command)
            m = ImageSidecarManager()
            self.assertFalse(m.available)
            with self.assertRaises(ImageSidecarNotFound) as cm:
                m.read_data("x.jpg")
            self.assert_helpful(cm.exception)

    def test_env_pointing_nowhere_is_not_silently_replaced(self) -> None:
        with mock.patch.dict(os.environ, {"IMAGE_SIDECAR_BIN": os.path.join(self.tmp, "gone.js")}):
            m = ImageSidecarManager()
            self.assertFalse(m.available)
            with self.assertRaises(ImageSidecarNotFound) as cm:
                m.get_statistics(self.tmp)
            self.assertIn("gone.js", str(cm.exception))


class LocateTest(unittest.TestCase):
    def setUp(self) -> None:
        require_cli(self)
        self.cli = ImageSidecarManager().binary_path
        self.tmp = os.path.realpath(tempfile.mkdtemp(prefix="isc-py-loc-"))

    def tearDown(self) -> None:
        import shutil

        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_js_file_runs_with_node_and_node_modules_bin_is_found_upward(self) -> None:
        js = os.path.join(self.tmp, "cli.js")
        os.symlink(self.cli, js)
        located = locate_binary(js)
        self.assertTrue(located.command[0].endswith("node") or "node" in os.path.basename(located.command[0]))
        self.assertEqual(located.command[1:], [js])

        bin_dir = os.path.join(self.tmp, "node_modules", ".bin")
        os.makedirs(bin_dir)
        os.symlink(self.cli, os.path.join(bin_dir, "image-sidecar"))
        deep = os.path.join(self.tmp, "a", "b")
        os.makedirs(deep)
        env = {k: v for k, v in os.environ.items() if k != "IMAGE_SIDECAR_BIN"}
        env["PATH"] = os.path.join(self.tmp, "a")
        with mock.patch.dict(os.environ, env, clear=True):
            located = locate_binary(cwd=deep)
        self.assertEqual(located.binary_path, os.path.join(bin_dir, "image-sidecar"))

    def test_workers_and_timeout_from_env(self) -> None:
        with mock.patch.dict(os.environ, {"IMAGE_SIDECAR_WORKERS": "3", "IMAGE_SIDECAR_TIMEOUT": "12.5"}):
            m = ImageSidecarManager()
        self.assertEqual((m.workers, m.timeout), (3, 12.5))
        info = m.get_performance_info()
        self.assertEqual((info["max_workers"], info["timeout"], info["rust_available"]), (3, 12.5, True))
        self.assertEqual(info["rust_binary_path"], m.binary_path)
        self.assertEqual(ImageSidecarManager(workers=5, timeout=1).workers, 5)


    def test_engine_found_under_each_name_and_the_earlier_settings(self) -> None:
        # The earlier tool's names on PATH (npm's links, the standalone executable) are the engine...
        path_dir = os.path.join(self.tmp, "path")
        os.makedirs(path_dir)
        engine = os.path.join(path_dir, "sportball-sidecar-rust")
        with open(engine, "w") as f:  # as a standalone executable would be (dist/cli.js itself has no exec bit)
            f.write("#!/bin/sh\nexec node %s \"$@\"\n" % self.cli)
        os.chmod(engine, 0o755)
        # ... but pip's own console script of that name (image_sidecar.aliases) is not: it would look the engine up again.
        alias_dir = os.path.join(self.tmp, "venv-bin")
        os.makedirs(alias_dir)
        alias = os.path.join(alias_dir, "image-sidecar-rust")
        with open(alias, "w") as f:
            f.write("#!/usr/bin/python3\nimport sys\nfrom image_sidecar.aliases import main\nsys.exit(main())\n")
        os.chmod(alias, 0o755)
        # (IMAGE_SIDECAR_NODE stays: it names the Node.js that runs a cli.js path.)
        env = {k: v for k, v in os.environ.items() if k not in ("IMAGE_SIDECAR_BIN", "IMAGE_SIDECAR_WORKERS", "IMAGE_SIDECAR_TIMEOUT") and not k.startswith("SPORTBALL_RUST_")}
        env["PATH"] = os.pathsep.join([alias_dir, path_dir])
        with mock.patch.dict(os.environ, env, clear=True):
            located = locate_binary(cwd=self.tmp)
            self.assertEqual(located.binary_path, os.path.join(path_dir, "sportball-sidecar-rust"))
            # The integration guide's settings, when ours are not set.
            with mock.patch.dict(os.environ, {"SPORTBALL_RUST_BINARY_PATH": self.cli, "SPORTBALL_RUST_WORKERS": "4", "SPORTBALL_RUST_TIMEOUT": "30"}):
                m = ImageSidecarManager()
                self.assertEqual((m.binary_path, m.workers, m.timeout), (self.cli, 4, 30.0))
                with mock.patch.dict(os.environ, {"IMAGE_SIDECAR_WORKERS": "2"}):
                    self.assertEqual(ImageSidecarManager().workers, 2, "ours win")
            with mock.patch.dict(os.environ, {"SPORTBALL_RUST_BINARY_PATH": os.path.join(self.tmp, "nothing-here")}):
                m = ImageSidecarManager()
                self.assertFalse(m.available)
                self.assertIn("SPORTBALL_RUST_BINARY_PATH", m._not_found_reason)

    def test_not_installed_says_its_code_once(self) -> None:
        import image_sidecar_rust.core as core
        from image_sidecar_rust import ImageSidecar, SidecarError

        env = {k: v for k, v in os.environ.items() if not k.startswith(("IMAGE_SIDECAR_", "SPORTBALL_RUST_"))}
        env["PATH"] = self.tmp
        saved = core._shared
        core._shared = None
        try:
            with mock.patch.dict(os.environ, env, clear=True), mock.patch("image_sidecar.locate.GUIDE_DIRS", ()):
                with self.assertRaises(SidecarError) as cm:
                    ImageSidecar()
        finally:
            core._shared = saved
        self.assertEqual(cm.exception.error_code, "NOT_INSTALLED")
        self.assertEqual(str(cm.exception).count("NOT_INSTALLED"), 1, str(cm.exception))


class CliModeTest(unittest.TestCase):
    """Outside a `with` block: one CLI process per call."""

    def setUp(self) -> None:
        require_cli(self)
        self.lib = Library()
        self.m = ImageSidecarManager()

    def tearDown(self) -> None:
        self.lib.remove()

    def test_read_save_round_trip_merges(self) -> None:
        self.assertEqual(self.m.read_data(self.lib.bare), {})
        self.m.save_data(self.lib.bare, "face_detection", {"success": True, "faces": [], "confidence": 0.22490839660167694})
        self.m.save_data(self.lib.bare, "yolov8", {"success": True, "objects": []})
        data = self.m.read_data(self.lib.bare)
        self.assertEqual(set(data), {"face_detection", "yolov8", "sidecar_info"})
        self.assertEqual(data["face_detection"]["confidence"], 0.22490839660167694)
        self.assertEqual(data["sidecar_info"]["last_operation"], "yolov8")
        # The earlier tool's binary layout is read too.
        self.assertEqual(self.m.read_data(self.lib.legacy)["yolov8"]["objects"][0]["class_name"], "person")

    def test_a_bare_number_or_none_saved_as_an_operation_keeps_its_value_and_type_in_and_outside_with(self) -> None:
        # A number's type lives on its container: a bare number as the whole result lost it
        # (25.0 read back 25, 2**60 + 1 as 1152921504606847000), and None raised inside `with`.
        values = [("score", 25.0, None), ("ts", 2**60 + 1, None), ("big", 2**64 + 3, "bk"), ("neg", -0.0, None), ("none", None, None)]
        for mode in ("cli", "server"):
            image = self.lib.bare
            with (ImageSidecarManager() if mode == "server" else contextlib.nullcontext(self.m)) as m:
                for op, value, backend in values:
                    m.save_data(image, "%s_%s" % (mode, op), value, format="json", backend=backend)
            data = self.m.read_data(image)
            for op, value, backend in values:
                got = data["%s_%s" % (mode, op)]
                if backend is not None:
                    got = got[backend]
                self.assertEqual((type(got), repr(got)), (type(value), repr(value)), "%s %s" % (mode, op))

    def test_errors_carry_codes(self) -> None:
        with self.assertRaises(ImageSidecarError) as cm:
            self.m.validate_sidecars(os.path.join(self.lib.root, "missing"))
        self.assertEqual(cm.exception.code, "NOT_FOUND")
        self.assertEqual(cm.exception.returncode, 2)
        with self.assertRaises(ImageSidecarError) as cm:
            self.m.read_data(self.lib.corrupt)
        self.assertEqual(cm.exception.code, "CORRUPT")
        with self.assertRaises(ImageSidecarError) as cm:
            self.m.save_data(self.lib.corrupt, "yolov8", {"success": True})
        self.assertEqual(cm.exception.code, "CORRUPT")
        with open(os.path.join(self.lib.day, "20250920_143024.json"), encoding="utf-8") as f:
            self.assertTrue(f.read().endswith('"faces": ['), "a corrupt sidecar is never overwritten")
        # A NUL no command line can pass: the library's USAGE, not subprocess's bare ValueError.
        with self.assertRaises(ImageSidecarError) as cm:
            self.m.save_data(self.lib.merged, "op\0x", {"success": True})
        self.assertEqual(cm.exception.code, "USAGE")

    def test_a_key_variable_set_but_empty_is_a_usage_error_in_every_mode(self) -> None:
        # Taken as no key, a save meant to be encrypted wrote face embeddings in plaintext.
        self.m.save_data(self.lib.bare, "yolov8", {"success": True, "objects": []})
        before = self.m.read_data(self.lib.bare)
        for name in ("IMAGE_SIDECAR_PASSPHRASE", "IMAGE_SIDECAR_KEY_FILE"):
            for local in ("1", "0"):
                with mock.patch.dict(os.environ, {name: "", "IMAGE_SIDECAR_LOCAL_READ": local}):
                    m = ImageSidecarManager()
                    for call in (lambda: m.read_data(self.lib.bare), lambda: m.save_data(self.lib.bare, "face_detection", {"success": True, "faces": []})):
                        with self.assertRaises(ImageSidecarError) as cm:
                            call()
                        self.assertEqual(cm.exception.code, "USAGE", "%s local=%s" % (name, local))
                        self.assertIn("%s is set but empty" % name, str(cm.exception))
        self.assertEqual(self.m.read_data(self.lib.bare), before, "nothing saved")
        # Inside `with`: the same USAGE (the server would exit at start).
        with mock.patch.dict(os.environ, {"IMAGE_SIDECAR_PASSPHRASE": ""}):
            with self.assertRaises(ImageSidecarError) as cm:
                with ImageSidecarManager():
                    pass
            self.assertEqual(cm.exception.code, "USAGE")
        # key_file given: the variables are not read (as the CLI's --key-file); an empty key_file is USAGE.
        with self.assertRaises(ImageSidecarError) as cm:
            ImageSidecarManager(key_file="")
        self.assertEqual(cm.exception.code, "USAGE")

    def test_tree_calls(self) -> None:
        report = self.m.validate_sidecars(self.lib.root, workers=2)
        self.assertGreaterEqual(report["invalid_files"], 1, "findings are returned, not raised")
        self.assertEqual(report["total_files"], len(report["results"]))
        bad = [r for r in report["results"] if not r["is_valid"]]
        self.assertIn(os.path.join(self.lib.day, "20250920_143024.json"), [r["file_path"] for r in bad])
        stats = self.m.get_statistics(self.lib.root)
        self.assertGreaterEqual(stats["total_sidecars"], 4)
        fmt = self.m.get_format_statistics(self.lib.root)
        self.assertGreaterEqual(fmt["format_distribution"]["Json"], 3)
        before = self.lib.snapshot()
        dry = self.m.cleanup(self.lib.root)  # dry run by default
        self.assertEqual(dry["removed"], 0)
        self.assertIn("message", dry)
        self.assertEqual(self.lib.snapshot(), before, "a dry run changes nothing")
        out = os.path.join(self.lib.root, "export.json")
        exported = self.m.export(self.lib.root, out)
        with open(out, encoding="utf-8") as f:
            doc = json.load(f)
        self.assertEqual(exported["exported"], len(doc["sidecars"]))
        self.assertGreaterEqual(exported["exported"], 4)


    def test_findings_exit_1_return_the_report_and_only_exit_2_raises(self) -> None:
        """Exit 1 is "findings": convert/validate/stats on a library with a corrupt file return
        their report (this raised `[INTERNAL] image-sidecar exited with status 1` before). Exit 2
        raises with the CLI's message and code."""
        # Two sidecars of one image holding different data: a conflict, which convert reports with exit 1.
        stem = os.path.splitext(self.lib.bare)[0]
        with open(stem + ".json", "w", encoding="utf-8") as f:
            json.dump({"yolov8": {"success": True, "objects": []}}, f, indent=2)
        body = b'{"yolov8":{"success":false}}'
        with open(stem + ".bin", "wb") as f:
            f.write(struct.pack("<Q", len(body)) + body)
        before = self.lib.snapshot()
        plan = self.m.convert_format(self.lib.root, "bin", dry_run=True)
        self.assertIsInstance(plan, dict)
        self.assertEqual(self.lib.snapshot(), before, "a dry run changes nothing")
        # The report names the conflict instead of raising.
        self.assertGreaterEqual(plan["conflicts"], 1)
        self.assertIn(stem + ".bin", json.dumps(plan))
        report = self.m.validate_sidecars(self.lib.root)
        self.assertGreaterEqual(report["invalid_files"], 1)
        with self.assertRaises(ImageSidecarError) as cm:
            self.m.convert_format(self.lib.root, "no-such-format", dry_run=True)
        self.assertEqual(cm.exception.returncode, 2)
        self.assertIn("no-such-format", str(cm.exception))
        self.assertNotEqual(cm.exception.code, "INTERNAL")
        done = self.m.convert_format(self.lib.root, "bin")
        self.assertIsInstance(done, dict, "a real conversion with a corrupt file in the tree returns its report")
        self.assertTrue(os.path.exists(os.path.join(self.lib.day, "20250920_143024.json")), "the corrupt file is left alone")


class DotDotPathTest(unittest.TestCase):
    """A path whose ``..`` follows a symlinked folder names the image open() reaches (PAIRING.md §5)."""

    def setUp(self) -> None:
        require_cli(self)
        self.root = os.path.realpath(tempfile.mkdtemp(prefix="isc-py-dotdot-"))
        os.makedirs(os.path.join(self.root, "photos", "2025", "day1"))
        os.makedirs(os.path.join(self.root, "lib"))
        self.photo = os.path.join(self.root, "photos", "2025", "IMG_1.jpg")
        self.other = os.path.join(self.root, "lib", "IMG_1.jpg")  # what the text names once collapsed
        for p, body in ((self.photo, b"the 2025 photo"), (self.other, b"another photo")):
            with open(p, "wb") as f:
                f.write(body)
        os.symlink(os.path.join(self.root, "photos", "2025", "day1"), os.path.join(self.root, "lib", "today"))
        self.given = self.root + "/lib/today/../IMG_1.jpg"

    def tearDown(self) -> None:
        import shutil
        shutil.rmtree(self.root)

    def test_save_and_read_go_to_the_image_open_reaches_in_every_mode(self) -> None:
        with open(self.given, "rb") as f:
            self.assertEqual(f.read(), b"the 2025 photo")
        for mode in ("cli", "server"):
            with (ImageSidecarManager() if mode == "server" else contextlib.nullcontext(ImageSidecarManager())) as m:
                r = m.save_data(self.given, "op_" + mode, {"success": True}, format="json")
                self.assertEqual(r["path"], os.path.join(self.root, "photos", "2025", "IMG_1.json"), mode)
                self.assertEqual(set(m.read_data(self.given)) - {"sidecar_info"}, {"op_cli", "op_server"} if mode == "server" else {"op_cli"})
        self.assertEqual(sorted(os.listdir(os.path.join(self.root, "lib"))), ["IMG_1.jpg", "today"], "the other photo got no sidecar")
        self.assertEqual(ImageSidecarManager().read_data(self.other), {})
        # A relative path from inside lib/, and the local reader (which leaves `..` to the engine).
        cwd = os.getcwd()
        os.chdir(os.path.join(self.root, "lib"))
        try:
            for local in ("1", "0"):
                with mock.patch.dict(os.environ, {"IMAGE_SIDECAR_LOCAL_READ": local}):
                    self.assertIn("op_server", ImageSidecarManager().read_data("today/../IMG_1.jpg"), local)
        finally:
            os.chdir(cwd)


class ServerModeTest(unittest.TestCase):
    """Inside `with`: one `serve --stdio` process for every call."""

    def setUp(self) -> None:
        require_cli(self)
        self.lib = Library()

    def tearDown(self) -> None:
        self.lib.remove()

    def test_a_server_retired_for_a_changed_environment_answers_the_threads_that_took_it_and_a_bad_setting_says_its_code(self) -> None:
        import time
        with mock.patch.dict(os.environ, {}, clear=False):
            os.environ.pop("IMAGE_SIDECAR_WORKERS", None)
            with ImageSidecarManager() as m:
                old = m._connection()
                self.assertIsNotNone(old)
                os.environ["IMAGE_SIDECAR_WORKERS"] = "1"
                new = m._connection()
                self.assertIsNot(new, old, "a changed setting starts a new server")
                # A thread that took the old server just before still gets its answer (it was closed at once).
                time.sleep(0.1)
                self.assertEqual(old.request("read", {"image": self.lib.bare}), {})
                deadline = time.monotonic() + 10
                while old.alive and time.monotonic() < deadline:
                    time.sleep(0.05)
                self.assertFalse(old.alive, "the retired server exits once idle")
                # A setting the server cannot start with is its own error, as from the CLI (it was SERVER_EXITED).
                os.environ["IMAGE_SIDECAR_KEY_FILE"] = os.path.join(self.lib.root, "no-such.key")
                with self.assertRaises(ImageSidecarError) as cm:
                    m.save_data(self.lib.bare, "face_detection", {"success": True})
                self.assertEqual(cm.exception.code, "NOT_FOUND", str(cm.exception))
                del os.environ["IMAGE_SIDECAR_KEY_FILE"]

    def test_one_server_round_trip_and_clean_exit(self) -> None:
        with ImageSidecarManager() as m:
            server = m._server
            pid = m.ping()["pid"]
            self.assertEqual(pid, server.pid)
            self.assertEqual(m.read_data(self.lib.bare), {})
            r1 = m.save_data(self.lib.bare, "face_detection", {"success": True, "faces": []}, format="json")
            self.assertTrue(r1["created"])
            self.assertEqual(r1["path"], os.path.join(self.lib.day, "DSC_0042.json"))
            m.save_data(self.lib.bare, "quality_assessment", {"success": True, "quality": {"grade": "A"}})
            data = m.read_data(self.lib.bare)
            self.assertEqual(set(data), {"face_detection", "quality_assessment", "sidecar_info"})
            # Through the symlink in the game folder: the sidecar next to the target.
            self.assertEqual(m.read_data(self.lib.link)["yolov8"]["objects"][0]["confidence"], 0.22490839660167694)
            report = m.validate_sidecars(self.lib.root)
            self.assertGreaterEqual(report["invalid_files"], 1)
            self.assertEqual(m.ping()["pid"], pid, "every call went to the same server")
        self.assertEqual(server._proc.returncode, 0, server.stderr_tail())
        self.assertIsNone(m._server)
        # After the block, calls run the CLI again.
        self.assertEqual(m.read_data(self.lib.bare)["quality_assessment"]["quality"]["grade"], "A")

    def test_errors_and_bad_requests_do_not_kill_the_server(self) -> None:
        with ImageSidecarManager() as m:
            with self.assertRaises(ImageSidecarError) as cm:
                m.validate_sidecars(os.path.join(self.lib.root, "missing"))
            self.assertEqual(cm.exception.code, "NOT_FOUND")
            with self.assertRaises(ImageSidecarError) as cm:
                m._server.request("no_such_method", {})
            self.assertEqual(cm.exception.code, "USAGE")
            with self.assertRaises(ImageSidecarError) as cm:
                m.save_data(self.lib.bare, "yolov8", {"score": float("nan")})
            self.assertEqual(cm.exception.code, "UNREPRESENTABLE")
            with self.assertRaises(ImageSidecarError) as cm:
                m.read_data(self.lib.corrupt)
            self.assertEqual(cm.exception.code, "CORRUPT")
            # A malformed line straight onto the pipe.
            with m._server._write_lock:
                m._server._proc.stdin.write(b"this is not json\n")
                m._server._proc.stdin.flush()
            self.assertEqual(m.read_data(self.lib.upper)["quality_assessment"]["quality"]["grade"], "B")
            self.assertFalse(os.path.exists(os.path.join(self.lib.day, "DSC_0042.bin")), "nothing saved for NaN data")

    def test_threads_share_the_server(self) -> None:
        with ImageSidecarManager() as m:
            ops = ["op_%d" % i for i in range(16)]
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                saves = [pool.submit(m.save_data, self.lib.burst, op, {"n": i}) for i, op in enumerate(ops)]
                reads = [pool.submit(m.read_data, self.lib.merged) for _ in range(16)]
                for f in saves + reads:
                    f.result(timeout=30)
            data = m.read_data(self.lib.burst)
            for i, op in enumerate(ops):
                self.assertEqual(data[op], {"n": i})
            self.assertIn("face_detection", data, "the operation already there is kept")
            self.assertEqual(reads[0].result()["yolov8"]["objects"][1]["object_id"], 2)

    def test_large_payloads_from_many_threads_do_not_deadlock(self) -> None:
        # Requests and responses far larger than a pipe buffer, in both directions at once.
        big = {"encoding": [i / 7 for i in range(10000)]}
        images = [self.lib.merged, self.lib.burst, self.lib.upper, self.lib.bare]
        with ImageSidecarManager(timeout=60) as m:
            with concurrent.futures.ThreadPoolExecutor(12) as pool:
                futures = [pool.submit(m.save_data, images[i % 4], "op_%d" % (i // 4), big) for i in range(16)]
                futures += [pool.submit(m.read_data, images[i % 4]) for i in range(24)]
                for f in futures:
                    f.result(timeout=60)
            for img in images:
                data = m.read_data(img)
                self.assertEqual([data["op_%d" % k] == big for k in range(4)], [True] * 4)

    def test_server_death_is_reported_and_next_call_restarts(self) -> None:
        with ImageSidecarManager(local_reads=False) as m:  # reads through the server
            first = m._server
            first._proc.kill()
            first._proc.wait()
            first._reader.join(5)
            # The dead server is noticed and replaced on the next call.
            self.assertEqual(m.read_data(self.lib.bare), {})
            self.assertIsNot(m._server, first)
            with self.assertRaises(ImageSidecarError) as cm:
                first.request("ping", {})
            self.assertEqual(cm.exception.code, "SERVER_EXITED")


if __name__ == "__main__":
    unittest.main()


class EncryptedTest(unittest.TestCase):
    """``ImageSidecarManager(key_file=...)``: the key reaches the server and the CLI calls."""

    def setUp(self) -> None:
        require_cli(self)
        self.lib = Library()
        self.key_dir = tempfile.mkdtemp(prefix="isc-py-key-")
        self.key = os.path.join(self.key_dir, "sidecars.key")
        subprocess.run(ImageSidecarManager().command + ["keygen", "-o", self.key], check=True, capture_output=True)

    def tearDown(self) -> None:
        self.lib.remove()
        os.unlink(self.key)
        os.rmdir(self.key_dir)

    def test_a_key_or_format_variable_set_after_the_server_started_is_used_by_the_next_call(self) -> None:
        # The server reads its environment once, at start: IMAGE_SIDECAR_KEY_FILE set after the first
        # save (a config loader, monkeypatch.setenv) was ignored, and embeddings were saved in
        # plaintext; IMAGE_SIDECAR_FORMAT likewise. The client starts it again when they change.
        images = []
        for i in range(6):
            p = os.path.join(self.lib.root, "late_env_%d.jpg" % i)
            with open(p, "wb") as f:
                f.write(b"\xff\xd8\xff\xe0late%d" % i)
            images.append(p)
        env = {k: v for k, v in os.environ.items() if k not in ("IMAGE_SIDECAR_KEY_FILE", "IMAGE_SIDECAR_PASSPHRASE", "IMAGE_SIDECAR_FORMAT")}
        for persistent in (False, True):
            first, second, third = images[3 * persistent : 3 * persistent + 3]
            with mock.patch.dict(os.environ, env, clear=True):
                m = ImageSidecarManager(persistent=persistent)
                with m if not persistent else contextlib.nullcontext(m):
                    self.assertEqual(m.save_data(first, "face_detection", {"faces": []})["format"], "bin")
                    os.environ["IMAGE_SIDECAR_KEY_FILE"] = self.key
                    saved = m.save_data(second, "face_detection", {"faces": [], "embedding": [0.5] * 8})
                    with open(saved["path"], "rb") as f:
                        self.assertEqual(f.read(6), b"\x89ISC\x01\x02", "persistent=%s: the new sidecar is encrypted" % persistent)
                    del os.environ["IMAGE_SIDECAR_KEY_FILE"]
                    os.environ["IMAGE_SIDECAR_FORMAT"] = "json"
                    again = m.save_data(third, "quality", {"score": 25.0})
                    self.assertEqual((again["format"], again["path"][-5:]), ("json", ".json"), again)
                m.close()
        self.assertEqual(ImageSidecarManager(key_file=self.key).read_data(images[1])["face_detection"]["embedding"], [0.5] * 8)

    def test_key_file_encrypts_and_decrypts_through_the_server_and_the_cli(self) -> None:
        with ImageSidecarManager(key_file=self.key) as m:
            saved = m.save_data(self.lib.bare, "face_detection", {"success": True, "faces": [], "confidence": 0.22490839660167694})
            self.assertTrue(saved["created"])
            self.assertEqual(saved["format"], "bin")
            with open(saved["path"], "rb") as f:
                head = f.read(6)
            self.assertEqual(head, b"\x89ISC\x01\x02", "the new sidecar is an encrypted bin")
            self.assertEqual(m.read_data(self.lib.bare)["face_detection"]["confidence"], 0.22490839660167694)
        # Per-call CLI mode gets the key too.
        m2 = ImageSidecarManager(key_file=self.key)
        self.assertEqual(m2.read_data(self.lib.bare)["face_detection"]["faces"], [])
        # Without the key: ENCRYPTED, not CORRUPT, and never data.
        with ImageSidecarManager() as plain:
            with self.assertRaises(ImageSidecarError) as cm:
                plain.read_data(self.lib.bare)
            self.assertEqual(cm.exception.code, "ENCRYPTED")
