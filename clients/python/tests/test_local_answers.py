"""The cases the local read path answers itself although they are not plain reads (issue 19):
several candidates (the first valid one, after candidates the library certainly refuses), an empty
sidecar, JSON that is not UTF-8, a broken symlink chain. Each answer — data, or the CORRUPT error
with its message and path — must be exactly the library's (``read`` through ``serve --stdio``),
and every near miss the local path cannot be sure of must still be handed over.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import unittest
from typing import Any, Tuple
from unittest import mock

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(_HERE), _HERE]

from image_sidecar import ImageSidecarError, ImageSidecarManager  # noqa: E402
from image_sidecar import pairing  # noqa: E402
from image_sidecar.decode import KnownCorrupt, NotLocal, decode_sidecar, find_invalid_utf8  # noqa: E402
from image_sidecar.local import read_local  # noqa: E402
from image_sidecar.pairing import MAX_LINKS, locate_candidates  # noqa: E402
from _library import require_cli  # noqa: E402

JPEG = b"\xff\xd8\xff\xd9"
GOOD = {"face_detection": {"success": True, "faces": [{"confidence": 0.5, "bbox": [1, 2, 3.5, 4]}]}, "n": 25.0}
OTHER = {"yolov8": {"success": True, "objects": []}}


def outcome(fn: Any, image: str) -> Tuple[str, Any]:
    try:
        return ("ok", fn(image))
    except ImageSidecarError as e:
        return ("error", (e.code, e.message, e.path, e.details))


UTF8_CASES = [
    (b'{"a": "\xff"}', 7),
    (b'\xef\xbb\xbf{"a": "\xc3\x28"}', 10),  # after a BOM: offsets are into the file
    (b'{"a": "\xed\xa0\x80"}', 7),  # an encoded surrogate (Python's json would take it with surrogatepass)
    (b'{"a": "\xe0\x80\x80"}', 7),  # overlong
    (b'{"a": "\xf4\x90\x80\x80"}', 7),  # above U+10FFFF
    (b'{"a": "\xf5\x80\x80\x80"}', 7),  # a byte that starts nothing
    (b'{"a": "\x80"}', 7),  # a stray continuation byte
    (b'{"a": "ok \xc3\xa9", "b": "\xe2\x82"}', 21),  # a truncated sequence after a valid one
    (b'{"a": "\xf0\x9f\x98"', 7),  # truncated at the end of the file
    (b'  \n{"a": 1}\xc0', 11),  # trailing garbage that is not UTF-8 is found before any syntax error
    (b'{"a": \xc3\xa9, "b": \xff', 15),  # and before a syntax error earlier in the text
]


class DecoderVerdictTest(unittest.TestCase):
    """decode_sidecar alone: what is certain, and what is not."""

    def test_empty_file_is_known_corrupt(self) -> None:
        with self.assertRaises(KnownCorrupt) as cm:
            decode_sidecar(b"")
        self.assertEqual(cm.exception.detail, "empty file")

    def test_invalid_utf8_offsets(self) -> None:
        cases = UTF8_CASES
        for raw, at in cases:
            with self.subTest(raw=raw):
                self.assertEqual(find_invalid_utf8(raw, 3 if raw.startswith(b"\xef\xbb\xbf") else 0), at)
                with self.assertRaises(KnownCorrupt) as cm:
                    decode_sidecar(raw)
                self.assertEqual(cm.exception.detail, "invalid UTF-8 at byte %d" % at)

    def test_legacy_offsets_count_the_prefix(self) -> None:
        body = b'{"a":"\xff"}'
        raw = len(body).to_bytes(8, "little") + body
        with self.assertRaises(KnownCorrupt) as cm:
            decode_sidecar(raw)
        self.assertEqual(cm.exception.detail, "invalid UTF-8 at byte 14")

    def test_a_nul_near_the_start_is_not_certain(self) -> None:
        # The library calls such bytes "not a known sidecar format" before it looks at UTF-8.
        for raw in (b'{\x00\x00"a": "\xff"}', b'{"a":\x00\x00\x00 "\xff"}', b' {"\x00": "\xff"}'):
            with self.subTest(raw=raw):
                with self.assertRaises(NotLocal) as cm:
                    decode_sidecar(raw)
                self.assertNotIsInstance(cm.exception, KnownCorrupt)

    def test_syntax_errors_stay_with_the_library(self) -> None:
        for raw in (b'{"a": NaN}', b'{"a": 1', b"   ", b"\xef\xbb\xbf", b'{"a": 1, "a": 2}'):
            with self.subTest(raw=raw):
                with self.assertRaises(NotLocal) as cm:
                    decode_sidecar(raw)
                self.assertNotIsInstance(cm.exception, KnownCorrupt)


class LocalAnswersMatchTheLibraryTest(unittest.TestCase):
    def setUp(self) -> None:
        require_cli(self)
        self.root = tempfile.mkdtemp(prefix="isc-py-local-")
        self.m = ImageSidecarManager(local_reads=False)
        self.m.__enter__()

    def tearDown(self) -> None:
        self.m.__exit__(None, None, None)
        shutil.rmtree(self.root, ignore_errors=True)

    def put(self, rel: str, content: Any) -> str:
        p = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        if isinstance(content, (dict, list)):
            content = json.dumps(content, indent=2).encode()
        with open(p, "wb") as f:
            f.write(content)
        return p

    def link(self, rel: str, target: str) -> str:
        p = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        os.symlink(target, p)
        return p

    def assert_local_equals_library(self, image: str) -> Tuple[str, Any]:
        """The local path must answer (not hand over), and answer what the library answers."""
        try:
            local = outcome(read_local, image)
        except NotLocal as e:
            self.fail("handed over (%s): %s" % (e.reason, image))
        lib = outcome(self.m.read_data, image)
        self.assertEqual(local, lib, image)
        if local[0] == "ok":  # same types too: 25.0 stays a float
            self.assertEqual(json.dumps(local[1], sort_keys=True), json.dumps(lib[1], sort_keys=True))
        return local

    def assert_handed_over(self, image: str) -> None:
        with self.assertRaises(NotLocal) as cm:
            read_local(image)
        self.assertNotIsInstance(cm.exception, KnownCorrupt)

    # ------------------------------------------------------------------ what only the library can answer

    def test_a_configuration_file_at_or_above_the_folder_hands_the_read_over(self) -> None:
        # Its image extensions make IMG_1.txt an image that records IMG_1.json: the local read gave
        # IMG_1.jpg the text file's results; a malformed one is the library's USAGE error.
        img = self.put("lib/a/IMG_1.jpg", JPEG)
        self.put("lib/a/IMG_1.txt", b"notes")
        self.put("lib/a/IMG_1.json", dict(GOOD, sidecar_info={"image_path": os.path.join(self.root, "lib/a/IMG_1.txt")}))
        self.put("lib/.image-sidecar.json", {"imageExtensions": ["txt"]})
        self.assert_handed_over(img)
        self.assertEqual(self.m.read_data(img), {}, "IMG_1.json is the text image's")
        self.put("lib/.image-sidecar.json", b'{"imageExtension": ["txt"]}')
        self.assert_handed_over(img)
        with self.assertRaises(ImageSidecarError) as cm:
            self.m.read_data(img)
        self.assertEqual(cm.exception.code, "USAGE")

    def test_an_image_of_a_type_otherwise_never_one_hands_the_read_over(self) -> None:
        # IMG_1.xmp given explicitly is an image, and so is IMG_1.XMP beside it, which IMG_1.json records.
        img = self.put("IMG_1.xmp", b"<x/>")
        self.put("IMG_1.XMP", b"<x/>")
        self.put("IMG_1.json", dict(GOOD, sidecar_info={"image_path": os.path.join(self.root, "IMG_1.XMP")}))
        self.assert_handed_over(img)
        self.assertEqual(self.m.read_data(img), {})

    def test_names_equal_after_nfc_are_read_in_the_librarys_order_of_utf16_code_units(self) -> None:
        # U+F90D and U+2F8B1 both normalise to U+61F6: code points put U+F90D first, code units U+2F8B1.
        img = self.put("\u61f6.jpg", JPEG)
        self.put("\uf90d.json", {"face_detection": {"success": True, "faces": [], "which": "F90D"}})
        self.put("\U0002f8b1.json", {"face_detection": {"success": True, "faces": [], "which": "2F8B1"}})
        self.assertEqual(self.assert_local_equals_library(img)[1]["face_detection"]["which"], "2F8B1")

    def test_an_ascii_image_with_a_sidecar_equal_after_nfc_through_the_kelvin_sign(self) -> None:
        img = self.put("IMG_K.jpg", JPEG)
        self.put("IMG_\u212a.json", GOOD)
        self.assertEqual(self.assert_local_equals_library(img), ("ok", GOOD))

    def test_a_nul_in_the_path_is_a_usage_error_not_a_value_error(self) -> None:
        for local in (True, False):
            with self.assertRaises(ImageSidecarError) as cm:
                ImageSidecarManager(local_reads=local).read_data(os.path.join(self.root, "IMG\x00_1.jpg"))
            self.assertEqual(cm.exception.code, "USAGE")

    def test_a_file_longer_than_its_size_is_handed_over(self) -> None:
        # /proc files say 0 bytes and hold some: the library reads the size (an empty file, CORRUPT).
        img = self.put("P.jpg", JPEG)
        os.symlink("/proc/self/comm", os.path.join(self.root, "P.json"))
        self.assert_handed_over(img)

    def test_with_a_key_given_the_library_answers_until_it_has_accepted_the_keys_as_they_are(self) -> None:
        # It checks the key on every call (a missing key file is its error); a local read did not.
        img = self.put("IMG_1.jpg", JPEG)
        self.put("IMG_1.json", GOOD)
        key = os.path.join(self.root, "the.key")
        with mock.patch.dict(os.environ, {"IMAGE_SIDECAR_KEY_FILE": key}):
            m = ImageSidecarManager()
            with self.assertRaises(ImageSidecarError) as cm:
                m.read_data(img)
            self.assertEqual((cm.exception.code, m.read_counts), ("NOT_FOUND", {"local": 0, "library": 1}))
            self.assertEqual(m._run(["keygen", "-o", key]).returncode, 0)
            self.assertEqual(m.read_data(img), GOOD)  # the library's: it accepts the key
            self.assertEqual(m.read_data(img), GOOD)  # then local, while the key is as it was
            self.assertEqual(m.read_counts, {"local": 1, "library": 2})
            os.unlink(key)
            with self.assertRaises(ImageSidecarError):
                m.read_data(img)  # the key changed: the library again, and it refuses
            self.assertEqual(m.read_counts, {"local": 1, "library": 3})

    # ------------------------------------------------------------------ corrupt sidecars

    def test_empty_sidecar_is_the_librarys_corrupt_error(self) -> None:
        img = self.put("a/IMG_1.jpg", JPEG)
        self.put("a/IMG_1.json", b"")
        got = self.assert_local_equals_library(img)
        self.assertEqual(got[1][:3], ("CORRUPT", os.path.join(self.root, "a", "IMG_1.json") + ": empty file", os.path.join(self.root, "a", "IMG_1.json")))

    def test_non_utf8_json_is_the_librarys_corrupt_error(self) -> None:
        img = self.put("a/IMG_2.jpg", JPEG)
        self.put("a/IMG_2.json", json.dumps(GOOD, indent=2).encode()[:-5] + b'"\xc9x"}')
        self.assertEqual(self.assert_local_equals_library(img)[0], "error")
        img = self.put("a/IMG_3.jpg", JPEG)
        self.put("a/IMG_3.json", b"\xef\xbb\xbf" + json.dumps(GOOD).encode()[:-1] + b', "z": "\xed\xa0\x80"}')
        self.assertEqual(self.assert_local_equals_library(img)[0], "error")

    def test_through_a_symlink_the_error_names_the_target_side_sidecar(self) -> None:
        self.put("photos/IMG_4.jpg", JPEG)
        self.put("photos/IMG_4.json", b"")
        img = self.link("games/g1/IMG_4.jpg", "../../photos/IMG_4.jpg")
        self.assert_local_equals_library(img)

    def test_every_utf8_case_matches_the_library(self) -> None:
        for i, (raw, _) in enumerate(UTF8_CASES):
            with self.subTest(raw=raw):
                img = self.put("u/U_%d.jpg" % i, JPEG)
                self.put("u/U_%d.json" % i, raw)
                self.assertEqual(self.assert_local_equals_library(img)[0], "error")
        legacy_body = b'{"a":"\xff"}'
        img = self.put("u/L.jpg", JPEG)
        self.put("u/L.bin", len(legacy_body).to_bytes(8, "little") + legacy_body)
        self.assertEqual(self.assert_local_equals_library(img)[0], "error")

    # ------------------------------------------------------------------ several candidates

    def test_first_valid_candidate_wins(self) -> None:
        img = self.put("b/IMG_1.jpg", JPEG)
        self.put("b/IMG_1.json", GOOD)
        self.put("b/IMG_1.jpg.json", OTHER)
        self.assertEqual(self.assert_local_equals_library(img), ("ok", GOOD))

    def test_unrecorded_stem_file_beside_a_name_ext_file_that_records_the_image_is_handed_over(self) -> None:
        # docs/PAIRING.md section 4: the name-ext file ranks first; the library answers with it.
        img = self.put("b/IMG_3.jpg", JPEG)
        self.put("b/IMG_3.json", GOOD)
        recorded = dict(OTHER, sidecar_info={"image_path": img})
        self.put("b/IMG_3.jpg.json", recorded)
        self.assert_handed_over(img)
        self.assertEqual(self.m.read_data(img)["yolov8"], OTHER["yolov8"])

    def test_corrupt_preferred_candidates_fall_back_like_the_library(self) -> None:
        img = self.put("b/IMG_2.jpg", JPEG)
        self.put("b/IMG_2.bin", b"")
        self.put("b/IMG_2.json", b'{"a": "\xff"}')
        self.put("b/IMG_2.jpg.json", OTHER)
        self.assertEqual(self.assert_local_equals_library(img), ("ok", OTHER))

    def test_every_candidate_corrupt_is_one_error_listing_all(self) -> None:
        img = self.put("b/IMG_3.jpg", JPEG)
        self.put("b/IMG_3.json", b"")
        self.put("b/IMG_3.jpg.json", b'{"x": "\xfe"}')
        got = self.assert_local_equals_library(img)
        self.assertEqual(got[1][0], "CORRUPT")
        self.assertTrue(got[1][1].startswith("every candidate sidecar is corrupt: "), got)
        self.assertIsNone(got[1][2])

    def test_a_candidate_the_local_path_is_unsure_of_hands_the_whole_read_over(self) -> None:
        img = self.put("b/IMG_4.jpg", JPEG)
        self.put("b/IMG_4.json", b'{"a": NaN}')  # corrupt, but its message is the library's to write
        self.put("b/IMG_4.jpg.json", OTHER)
        self.assert_handed_over(img)
        img = self.put("b/IMG_5.jpg", JPEG)
        os.mkdir(os.path.join(self.root, "b", "IMG_5.bin"))  # a directory in a sidecar's name
        self.put("b/IMG_5.json", GOOD)
        self.assert_handed_over(img)

    # ------------------------------------------------------------------ broken symlink chains

    def test_json_that_is_not_an_object_is_another_tools_file_within_the_librarys_limits(self) -> None:
        # exiftool's -json dump: passed over locally, as by the library (docs/PAIRING.md section 7).
        img = self.put("x/IMG_1.jpg", JPEG)
        self.put("x/IMG_1.json", [{"SourceFile": "IMG_1.jpg", "ISO": 3200}])
        self.assertEqual(self.assert_local_equals_library(img), ("ok", {}))
        # Beyond the limits (a number a double cannot hold, nesting past the depth limit) the library
        # refuses the file: handed over, never passed over as {}.
        for i, body in enumerate((b"[1e400]", b"[[1, [2, -1e999]]]", b"[" * 600 + b"]" * 600)):
            img = self.put("y%d/IMG_1.jpg" % i, JPEG)
            self.put("y%d/IMG_1.json" % i, body)
            self.assert_handed_over(img)
            with self.assertRaises(ImageSidecarError):
                self.m.read_data(img)

    def test_a_sidecar_name_holding_no_file_is_handed_over_and_the_library_says_it_cannot_read_it(self) -> None:
        # A folder, a FIFO, a link to nothing (a sidecar link into an offline NAS): never {} (PAIRING.md §1).
        for name, make, code in (("folder", os.mkdir, "IO"), ("fifo", os.mkfifo, "IO"),
                                 ("dangling", lambda p: os.symlink(os.path.join(self.root, "offline", "x.bin"), p), "NOT_FOUND")):
            img = self.put("n/%s.jpg" % name, JPEG)
            make(os.path.join(self.root, "n", "%s.bin" % name))
            self.assert_handed_over(img)
            with self.assertRaises(ImageSidecarError) as cm:
                self.m.read_data(img)
            self.assertEqual(cm.exception.code, code, name)
            self.assertIn("%s.bin" % name, str(cm.exception))
            with self.assertRaises(ImageSidecarError):
                ImageSidecarManager().read_data(img)  # local reads on: handed over, the same answer
            # A folder too big to list (pairing.BIG_FOLDER) takes each name by stat: handed over too.
            with mock.patch.object(pairing, "BIG_FOLDER", 0):
                pairing._listings.clear()
                self.assert_handed_over(img)

    def test_broken_link_reads_the_sidecar_beside_where_it_points(self) -> None:
        self.put("photos/IMG_5.json", GOOD)  # the image is gone, its sidecar is not
        img = self.link("games/g1/IMG_5.jpg", "../../photos/IMG_5.jpg")
        self.assertEqual(self.assert_local_equals_library(img), ("ok", GOOD))

    def test_broken_link_without_any_sidecar_is_empty(self) -> None:
        img = self.link("games/g1/IMG_6.jpg", "../../photos/missing/IMG_6.jpg")
        self.assertEqual(self.assert_local_equals_library(img), ("ok", {}))

    def test_broken_link_falls_back_to_the_links_side(self) -> None:
        self.put("games/g2/IMG_7.json", OTHER)
        img = self.link("games/g2/IMG_7.jpg", "/nonexistent-isc/IMG_7.jpg")
        self.assertEqual(self.assert_local_equals_library(img), ("ok", OTHER))

    def test_broken_chain_of_several_links_with_dot_dot_and_absolute_hops(self) -> None:
        self.put("deep/x/IMG_8.json", GOOD)
        self.link("hop/a/IMG_8.jpg", os.path.join(self.root, "deep", "y", "..", "x", "IMG_8.jpg"))
        self.link("hop/b/IMG_8.jpg", "../a/./IMG_8.jpg")
        img = self.link("games/IMG_8.jpg", "../hop/b/IMG_8.jpg")
        self.assertEqual(self.assert_local_equals_library(img), ("ok", GOOD))

    def test_broken_chain_through_a_file_used_as_a_folder(self) -> None:
        self.put("f/notadir", b"x")
        img = self.link("games/IMG_9.jpg", "../f/notadir/IMG_9.jpg")  # ENOTDIR
        self.put("games/IMG_9.json", OTHER)
        self.assertEqual(self.assert_local_equals_library(img), ("ok", OTHER))

    def test_broken_link_to_an_empty_sidecar_is_the_librarys_error(self) -> None:
        self.put("photos/IMG_10.json", b"")
        img = self.link("games/IMG_10.jpg", "../photos/IMG_10.jpg")
        self.assertEqual(self.assert_local_equals_library(img)[0], "error")

    def test_loops_and_overlong_chains_are_handed_over(self) -> None:
        loop = self.link("loop/IMG_11.jpg", "IMG_11b.jpg")
        self.link("loop/IMG_11b.jpg", "IMG_11.jpg")
        self.put("loop/IMG_11.json", GOOD)
        self.assert_handed_over(loop)
        prev = "missing-end.jpg"
        for i in range(MAX_LINKS + 2):
            name = "c%02d.jpg" % i
            self.link("chain/" + name, prev)
            prev = name
        self.assert_handed_over(os.path.join(self.root, "chain", prev))
        # And the library does answer them (it is where they go).
        self.assertEqual(outcome(self.m.read_data, loop)[0] in ("ok", "error"), True)

    def test_a_broken_link_to_a_name_that_is_not_utf8_is_handed_over(self) -> None:
        # Node would read the link's bytes IMG_\xff as "IMG_\ufffd" and find IMG_\ufffd.json, another
        # image's sidecar: the library refuses the link (docs/BYTE-NAMES.md), never answering that file.
        self.put("photos/IMG_\ufffd.json", GOOD)
        img = os.path.join(self.root, "games", "IMG_13.jpg")
        os.makedirs(os.path.dirname(img), exist_ok=True)
        os.symlink(os.path.join(os.fsencode(self.root), b"photos", b"IMG_\xff.jpg"), os.fsencode(img))
        self.put("games/IMG_13.json", OTHER)
        self.assert_handed_over(img)
        kind, answer = outcome(self.m.read_data, img)
        self.assertEqual((kind, answer[0]), ("error", "USAGE"), answer)
        self.assertIn("not valid UTF-8", answer[1])
        # The same through a link that is not broken.
        with open(os.path.join(os.fsencode(self.root), b"photos", b"IMG_\xff.jpg"), "wb") as f:
            f.write(JPEG)
        self.assert_handed_over(img)

    def test_locate_gives_the_librarys_candidates_for_a_broken_link(self) -> None:
        self.put("photos/IMG_12.bin", b"")
        self.put("photos/IMG_12.json", GOOD)
        self.put("games/IMG_12.jpg.json", OTHER)
        img = self.link("games/IMG_12.jpg", "../photos/IMG_12.jpg")
        got = [c.path for c in locate_candidates(img)]
        detailed = self.m._connection().request("readDetailed", {"image": img})  # type: ignore[union-attr]
        self.assertEqual(got, [c["path"] for c in detailed["location"]["candidates"]])
        self.assertTrue(detailed["location"]["broken"])
        self.assertEqual(self.assert_local_equals_library(img), ("ok", GOOD))


if __name__ == "__main__":
    unittest.main()
