"""The shortcuts of the local read path (issue 19 bench) give exactly the answers of the slower code
they replace:
- a symlinked image's target from the kernel's name of an O_PATH descriptor (/proc/self/fd) equals
  ``os.path.realpath`` on every link shape (relative, absolute, chains, symlinked folders, ``..``
  after a symlinked folder), and is *not* used when the name does not lead back to the same file;
- JSON scanned with the decoder's C scanner directly equals ``JSONDecoder.decode`` with the same
  hooks, answers and refusals alike (whitespace, trailing data, no value);
- text starting with '{' skips format detection only where detection says "json";
- candidates found in a folder listing keep the preference order, NFC twins in on-disk name order,
  and paths in the root folder are joined as ``os.path.join`` joins them.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import sys
import tempfile
import unicodedata
import unittest
from typing import Any, Dict, List, Tuple
from unittest import mock

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(_HERE), _HERE]

from image_sidecar import ImageSidecarError, ImageSidecarManager  # noqa: E402
from image_sidecar import pairing  # noqa: E402
from image_sidecar.decode import _JSON, LEGACY_PREFIX, NotLocal, OtherJson, _check_list, decode_json, decode_sidecar, detect_format  # noqa: E402
from image_sidecar.local import read_local  # noqa: E402
from _library import require_cli  # noqa: E402

JPEG = b"\xff\xd8\xff\xd9"
_KERNEL_NAMES = bool(pairing._O_PATH) and os.path.isdir("/proc/self/fd")


def outcome(fn: Any, *args: Any) -> Tuple[str, Any]:
    try:
        return ("ok", fn(*args))
    except NotLocal as e:
        return ("not local", type(e).__name__)
    except ImageSidecarError as e:
        return ("error", (e.code, e.message, e.path))
    except ValueError as e:  # what JSONDecoder.decode raises for bad text
        return ("invalid", type(e).__name__)


class LinkTree:
    """root/real/sub/photos/a.jpg and friends, with symlinked folders and links of every shape."""

    def __init__(self) -> None:
        self.root = os.path.realpath(tempfile.mkdtemp(prefix="isc-py-fast-"))
        r = self.root
        self.photos = os.path.join(r, "real", "sub", "photos")
        os.makedirs(self.photos)
        os.makedirs(os.path.join(r, "games", "deep"))
        self.file(os.path.join(self.photos, "a.jpg"), JPEG)
        self.file(os.path.join(self.photos, "a.json"), b'{"sidecar_info": {}, "side": "photos"}')
        # '..' after a symlinked folder: physically real/, lexically root/ — both have a b.jpg.
        self.file(os.path.join(r, "real", "b.jpg"), JPEG)
        self.file(os.path.join(r, "real", "b.json"), b'{"sidecar_info": {}, "side": "real"}')
        self.file(os.path.join(r, "b.jpg"), JPEG)
        self.file(os.path.join(r, "b.json"), b'{"sidecar_info": {}, "side": "root"}')
        os.symlink(os.path.join("real", "sub"), os.path.join(r, "alias"))  # a symlinked folder
        self.links: Dict[str, str] = {}
        self.link("relative", "games/rel.jpg", "../real/sub/photos/a.jpg")
        self.link("absolute", "games/abs.jpg", os.path.join(self.photos, "a.jpg"))
        self.link("chain", "games/chain.jpg", "rel.jpg")
        self.link("through a symlinked folder", "games/alias.jpg", "../alias/photos/a.jpg")
        self.link("dot-dot after a symlinked folder", "games/dotdot.jpg", "../alias/../b.jpg")
        self.link("from a deeper folder, absolute through the alias", "games/deep/x.jpg", os.path.join(r, "alias", "photos", "a.jpg"))
        self.link("to a link in a symlinked folder", "games/deep/y.jpg", "../../alias/photos/../../sub/photos/a.jpg")
        self.broken = {
            "missing": self.link(None, "games/missing.jpg", "../real/gone.jpg"),
            "file used as a folder": self.link(None, "games/notdir.jpg", "../real/b.jpg/c.jpg"),
        }
        self.loop = self.link(None, "games/loop1.jpg", "loop2.jpg")
        self.link(None, "games/loop2.jpg", "loop1.jpg")

    def file(self, p: str, data: bytes) -> None:
        with open(p, "wb") as f:
            f.write(data)

    def link(self, name: Any, rel: str, target: str) -> str:
        p = os.path.join(self.root, rel)
        os.symlink(target, p)
        if name:
            self.links[name] = p
        return p

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


class FinalTargetTest(unittest.TestCase):
    def setUp(self) -> None:
        self.tree = LinkTree()

    def tearDown(self) -> None:
        self.tree.close()

    def test_equals_realpath_on_every_link_shape(self) -> None:
        for name, p in self.tree.links.items():
            with self.subTest(name):
                self.assertEqual(pairing._final_target(p), os.path.realpath(p))
        self.assertEqual(pairing._final_target(self.tree.links["dot-dot after a symlinked folder"]),
                         os.path.join(self.tree.root, "real", "b.jpg"), "'..' is taken after the link, physically")

    def test_broken_chains_and_loops(self) -> None:
        for name, p in self.tree.broken.items():
            with self.subTest(name):
                self.assertIsNone(pairing._final_target(p))
        with self.assertRaises(NotLocal):
            pairing._final_target(self.tree.loop)

    @unittest.skipUnless(_KERNEL_NAMES, "no O_PATH descriptors named in /proc on this system")
    def test_a_kernel_name_that_does_not_lead_back_is_not_used(self) -> None:
        other = os.path.join(self.tree.root, "b.jpg")  # exists, but another file
        real_readlink = os.readlink
        calls: List[str] = []

        def lying_readlink(p: Any, *a: Any, **kw: Any) -> Any:
            if isinstance(p, str) and p.startswith("/proc/self/fd/"):
                calls.append(p)
                return other
            return real_readlink(p, *a, **kw)

        with mock.patch.object(pairing.os, "readlink", lying_readlink):
            for name, p in self.tree.links.items():
                with self.subTest(name):
                    self.assertEqual(pairing._final_target(p), os.path.realpath(p))
        self.assertTrue(calls, "the kernel's name was asked for")

    @unittest.skipUnless(_KERNEL_NAMES, "no O_PATH descriptors named in /proc on this system")
    def test_deleted_or_unreachable_names_are_not_used(self) -> None:
        for bogus in ("/x/a.jpg (deleted)", "(unreachable)/a.jpg", ""):
            with self.subTest(bogus), mock.patch.object(pairing, "_FD_LINK", "/nonexistent-proc/%d"):
                p = self.tree.links["relative"]
                self.assertEqual(pairing._final_target(p), os.path.realpath(p))
            real_readlink = os.readlink
            with self.subTest(bogus), mock.patch.object(
                pairing.os, "readlink", lambda p, *a, b=bogus, **k: b if str(p).startswith("/proc/self/fd/") else real_readlink(p, *a, **k)
            ):
                p = self.tree.links["chain"]
                self.assertEqual(pairing._final_target(p), os.path.realpath(p))

    def test_without_kernel_names_realpath_decides(self) -> None:
        with mock.patch.object(pairing, "_O_PATH", 0):
            for name, p in self.tree.links.items():
                with self.subTest(name):
                    self.assertEqual(pairing._final_target(p), os.path.realpath(p))
            for p in self.tree.broken.values():
                self.assertIsNone(pairing._final_target(p))
            with self.assertRaises(NotLocal):
                pairing._final_target(self.tree.loop)


class LinkReadsMatchTheLibraryTest(unittest.TestCase):
    """The same link shapes, read locally and by the library (serve --stdio)."""

    def setUp(self) -> None:
        require_cli(self)
        self.tree = LinkTree()
        self.m = ImageSidecarManager(local_reads=False)
        self.m.__enter__()

    def tearDown(self) -> None:
        self.m.__exit__(None, None, None)
        self.tree.close()

    def test_every_link_shape(self) -> None:
        for name, p in list(self.tree.links.items()) + list(self.tree.broken.items()):
            with self.subTest(name):
                local = outcome(read_local, p)
                self.assertEqual(local[0], "ok", "answered locally")
                self.assertEqual(local, outcome(self.m.read_data, p))
        self.assertEqual(read_local(self.tree.links["dot-dot after a symlinked folder"]), {"sidecar_info": {}, "side": "real"})


# JSON texts around the scanner call: whitespace, what follows the value, no value at all.
SCANNER_TEXTS = [
    '{}', '{"a": 1}', ' {"a": 1}', '\n\t\r {"a": 1}', '{"a": 1}\n', '{"a": 1} \t\r\n ', '{"a": 1}x', '{"a": 1} {}',
    '{"a": 1}\x00', '{"a": 1}\u00a0', '\u00a0{"a": 1}', '\x0b{"a": 1}', '{"a": 1}\x0c', '', ' ', '\n\n', '[1, 2]', '"x"',
    '1', 'null', '{', '{"a": }', '{"a": 1,}', '{"a": [1, 2', '{"a": "\\u0000"}', '{"a": 1}//', '{"a": 25.0, "b": [1e5, -0.0]}',
    '{"a": {"a": {"a": 1}}, "b": [[1.5, 2], [3, 4.25]], "c": "{"}', '{"a": 1, "a": 2}', '{"a": NaN}', '{"a": 1e400}',
    # not an object at the top: another tool's file once it is within the library's limits
    '[{"SourceFile": "IMG.jpg", "ISO": 3200}]', '[]', 'true', '[1e400]', '1e400', '[[1, [2, -1e999]]]', '[{"a": 1, "a": 2}]',
]


class ScannerTest(unittest.TestCase):
    def test_decode_json_equals_json_decoder_decode(self) -> None:
        for text in SCANNER_TEXTS:
            with self.subTest(text=text):
                self.assertEqual(outcome(decode_json, text.encode("utf-8")), outcome(self._reference, text))

    @staticmethod
    def _reference(text: str) -> Any:
        """The code decode_json replaced: JSONDecoder.decode with the same hooks; a value that is not
        an object is checked as they check a list, then is another tool's file (OtherJson)."""
        value = _JSON.decode(text)
        if type(value) is not dict:
            if type(value) is list:
                _check_list(value)
            elif type(value) is float and value - value:
                raise NotLocal("a number that overflows a double")
            raise OtherJson()
        return value

    def test_values_and_types_survive_the_direct_scan(self) -> None:
        raw = b'{"n": 25.0, "i": 12345678901234567890, "f": [0.1, 1e-7], "s": "\\u00e9"}\n'
        got = decode_json(raw)
        self.assertEqual(got, {"n": 25.0, "i": 12345678901234567890, "f": [0.1, 1e-7], "s": "\u00e9"})
        self.assertIs(type(got["n"]), float)
        self.assertIs(type(got["i"]), int)


class JsonShortcutTest(unittest.TestCase):
    def test_text_starting_with_a_brace_is_json_to_detect_format(self) -> None:
        """The shortcut's premise, over random bytes: first byte '{', byte 8 not '{' (or shorter)."""
        rnd = random.Random(19)
        alphabet = bytes(range(256))
        checked = 0
        for _ in range(20000):
            n = rnd.randint(1, 24)
            raw = b"{" + bytes(rnd.choice(alphabet) for _ in range(n - 1))
            if rnd.random() < 0.3 and n > LEGACY_PREFIX:  # legacy look-alikes: an 8-byte length prefix
                raw = (n - LEGACY_PREFIX).to_bytes(8, "little") + raw[LEGACY_PREFIX:]
            if raw[0] == 0x7B and (len(raw) <= LEGACY_PREFIX or raw[LEGACY_PREFIX] != 0x7B):
                self.assertEqual(detect_format(raw), "json", raw)
                checked += 1
        self.assertGreater(checked, 5000)

    def test_a_legacy_file_whose_length_starts_with_a_brace_is_still_legacy(self) -> None:
        body = b'{"a": 1}' + b" " * (0x7B - 8)  # length 0x7B: the prefix's first byte is '{'
        raw = len(body).to_bytes(8, "little") + body
        self.assertEqual(raw[0], 0x7B)
        self.assertEqual(detect_format(raw), "legacy")
        self.assertEqual(decode_sidecar(raw), ({"a": 1}, "legacy"))

    def test_shortcut_and_detection_give_the_same_answers(self) -> None:
        for text in SCANNER_TEXTS:
            raw = text.encode("utf-8")
            if not raw.startswith(b"{"):
                continue
            with self.subTest(text=text):
                # With a BOM the shortcut is not taken: the same bytes after it must decode alike.
                self.assertEqual(outcome(decode_sidecar, raw)[0:1], outcome(decode_sidecar, b"\xef\xbb\xbf" + raw)[0:1])
                if outcome(decode_sidecar, raw)[0] == "ok":
                    self.assertEqual(decode_sidecar(raw)[0], decode_sidecar(b"\xef\xbb\xbf" + raw)[0])


class ListingOrderTest(unittest.TestCase):
    def setUp(self) -> None:
        self.root = os.path.realpath(tempfile.mkdtemp(prefix="isc-py-order-"))

    def tearDown(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def test_preference_order_and_nfc_twins_in_name_order(self) -> None:
        nfc = unicodedata.normalize("NFC", "caf\u00e9")
        nfd = unicodedata.normalize("NFD", nfc)
        for name in (nfc + ".jpg", nfc + ".json", nfd + ".json", nfc + ".bin", nfc + ".jpg.json"):
            with open(os.path.join(self.root, name), "wb") as f:
                f.write(b"{}")
        if len(os.listdir(self.root)) < 5:
            self.skipTest("this file system folds NFC and NFD names into one")
        got = [os.path.basename(c.path) for c in pairing.locate_candidates(os.path.join(self.root, nfc + ".jpg"))]
        self.assertEqual(got, [nfc + ".bin"] + sorted([nfc + ".json", nfd + ".json"]) + [nfc + ".jpg.json"])

    def test_root_folder_paths_are_joined_like_os_path_join(self) -> None:
        out: List[Any] = []
        with mock.patch.object(pairing, "_folder_names", lambda d: {"a.json": ["a.json"], "a.bin": ["a.bin"]}):
            pairing._find("/", "a.jpg", "target", out)
        self.assertEqual([c.path for c in out], ["/a.bin", "/a.json"])


if __name__ == "__main__":
    unittest.main()
