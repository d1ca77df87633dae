"""The local JSON decoder's checks, one shape at a time (issue 19's fast paths).

decode_json sums number lists and lists of number lists at C speed and counts containers as its
hook checks them (no scan of the text); every shape a sum can hide a ±inf in, and every way a
deep nest can be built, must still be handed to the library (NotLocal), exactly as before.
"""
from __future__ import annotations

import os
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from image_sidecar.decode import LOCAL_MAX_DEPTH, NotLocal, decode_json, decode_sidecar  # noqa: E402


def dec(text: str):
    return decode_json(text.encode("utf-8"))


class OverflowTest(unittest.TestCase):
    SHAPES = [
        '{"a": 1e400}',
        '{"a": -1e400}',
        '{"a": [1.0, 1e400]}',
        '{"a": [1, 1e400]}',
        '{"a": [-1e400, 1e400]}',  # sums to nan, not inf
        '{"a": [[1.0, 2.0], [3.0, 1e400]]}',
        '{"a": [[1e400], [1.0]]}',
        '{"a": [[[1e400]]]}',
        '{"a": [true, 1e400]}',
        '{"a": ["x", 1e400]}',
        '{"a": [{}, 1e400]}',
        '{"a": [[1.0], {}, [1e400]]}',
        '{"a": [[1.0], "", [1e400]]}',
        '{"a": [[1.0], 1e400]}',
        '{"a": [{"b": [1e400]}]}',
        '{"a": [[{"b": 1e400}]]}',
    ]

    def test_every_shape_is_handed_over(self) -> None:
        for text in self.SHAPES:
            with self.subTest(text=text):
                with self.assertRaises(NotLocal):
                    dec(text)

    def test_constants_are_handed_over(self) -> None:
        for text in ('{"a": NaN}', '{"a": [Infinity]}', '{"a": [1, -Infinity]}'):
            with self.subTest(text=text):
                with self.assertRaises(NotLocal):
                    dec(text)

    def test_a_huge_int_next_to_floats_goes_to_the_library(self) -> None:
        with self.assertRaises(NotLocal):
            decode_sidecar(('{"a": [1.5, %s]}' % ("9" * 400)).encode())

    def test_plain_values_keep_their_types(self) -> None:
        v = dec('{"f": 25.0, "i": 25, "big": 1234567890123456789012, "l": [1.5, 2, 3], "ll": [[1, 2.0], []], "e": [], "m": [1, "x", null, true]}')
        self.assertIs(type(v["f"]), float)
        self.assertIs(type(v["i"]), int)
        self.assertEqual(v["big"], 1234567890123456789012)
        self.assertEqual([type(x) for x in v["l"]], [float, int, int])
        self.assertEqual(v["ll"], [[1, 2.0], []])
        self.assertIs(type(v["ll"][0][1]), float)
        self.assertEqual(v["m"], [1, "x", None, True])


class DuplicateKeyTest(unittest.TestCase):
    def test_duplicates_anywhere_are_handed_over(self) -> None:
        for text in ('{"a": 1, "a": 1}', '{"x": [{"a": 1, "a": 2}]}', '{"x": [[{"k": [], "k": []}]]}', '{"x": {"y": {"z": 1, "z": 1}}}'):
            with self.subTest(text=text):
                with self.assertRaises(NotLocal):
                    dec(text)


def lists(depth: int) -> str:
    """An object holding lists nested so that the whole document is `depth` deep ({} is 1)."""
    return '{"a": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"


def objects(depth: int) -> str:
    return '{"a": ' * (depth - 1) + "{}" + "}" * (depth - 1)


def mixed(depth: int) -> str:
    """Objects and lists alternating, lists of number lists at the bottom (the C-speed path)."""
    inner = "[[1.0, 2.0]]"
    levels = depth - 3  # the outer object, and the two lists of `inner`
    text = inner
    for i in range(levels):
        text = '{"k": %s}' % text if i % 2 == 0 else "[%s]" % text
    return '{"a": %s}' % text


class DepthTest(unittest.TestCase):
    def test_shallow_enough_is_read_locally(self) -> None:
        for build in (lists, objects, mixed):
            with self.subTest(build=build.__name__):
                self.assertIsInstance(dec(build(LOCAL_MAX_DEPTH - 1)), dict)

    def test_at_the_bound_and_beyond_goes_to_the_library(self) -> None:
        for build in (lists, objects, mixed):
            for depth in (LOCAL_MAX_DEPTH, LOCAL_MAX_DEPTH + 1, 600, 5000):
                with self.subTest(build=build.__name__, depth=depth):
                    with self.assertRaises(NotLocal):
                        decode_sidecar(build(depth).encode())

    def test_concurrent_decodes_never_lose_the_bound(self) -> None:
        # The container count is shared by threads: it may only grow, so a deep document is still
        # refused while other threads decode.
        errors = []

        def deep() -> None:
            for _ in range(50):
                try:
                    decode_sidecar(mixed(LOCAL_MAX_DEPTH + 1).encode())
                    errors.append("a too-deep document was read locally")
                except NotLocal:
                    pass

        def shallow() -> None:
            for _ in range(200):
                dec('{"a": [[1.0, 2.0], [3.0]], "b": {"c": [1, 2]}}')

        threads = [threading.Thread(target=deep) for _ in range(2)] + [threading.Thread(target=shallow) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])


if __name__ == "__main__":
    unittest.main()
