"""The reference Python decoder of image-sidecar's file formats (docs/FORMAT.md), standard library only.

``decode_sidecar(raw)`` turns the bytes of a ``.json``, ``.bin``, ``.rkyv`` or legacy sidecar into
the same object the library reads, numbers included (ints stay ints, floats stay floats, big
integers in JSON stay exact). The format is told by content, never by extension, as the library does.

It is deliberately *narrower* than the library: whenever a file is not plainly valid — a damaged
header or checksum, an unknown version or flag, anything the CBOR subset does not allow, NaN or
Infinity, a nesting depth near the limit, an integer beyond 2^53 in a ``.bin``, a number beyond a
double or a duplicate key in JSON, an encrypted or unknown layout — it raises :class:`NotLocal` instead of guessing, and the
caller asks the library (through ``serve --stdio``), so every error and finding is exactly the
library's. It never raises anything else, whatever the bytes (the fuzz tests hold it to that).
"""
from __future__ import annotations

import array
import itertools
import json
import struct
import sys
import zlib
from typing import Any, Dict, List, Tuple

MAGIC = b"\x89ISC"
HEADER_SIZE = 16
VERSION = 1
FLAG_ALIGNED = 0x01
LEGACY_PREFIX = 8
# The library's nesting limit is 512 ({} is depth 1); we hand anything close to it to the library.
LOCAL_MAX_DEPTH = 500
MAX_SAFE_INTEGER = 2 ** 53 - 1
BOM = b"\xef\xbb\xbf"
_BIG_ENDIAN = sys.byteorder != "little"

_HEADER = struct.Struct("<4sBBHII")
_BE16 = struct.Struct(">H").unpack_from
_BE32 = struct.Struct(">I").unpack_from
_BE64 = struct.Struct(">Q").unpack_from
_F64 = struct.Struct(">d").unpack_from
_U64LE = struct.Struct("<Q").unpack_from
_INF = float("inf")
_SIMPLE = {0xF4: False, 0xF5: True, 0xF6: None}

# JSON numbers that would overflow a double (1e400) are refused by the library; Python's json reads
# them as inf. They are found in the object hook (one call per object, not per number): a value,
# or the sum of a list of numbers, that is not finite. No regex over the text, no parse_float hook
# (which costs ~30 % of json.loads).
class NotLocal(Exception):
    """The local reader is not sure: ask the library. ``reason`` says why (for tests and debugging)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class OtherJson(NotLocal):
    """JSON that parses, within the library's limits, and is not an object (exiftool's ``-json`` dump is
    an array): another tool's file, never a sidecar (docs/PAIRING.md section 7). The reader passes it
    over, as the library does."""

    def __init__(self) -> None:
        super().__init__("JSON that is not an object")


class KnownCorrupt(NotLocal):
    """The library certainly refuses these bytes as CORRUPT, with exactly ``detail`` as its message
    (without the ``<path>: `` prefix it adds). Raised only where the library's rule is mirrored
    exactly (an empty file; invalid UTF-8 in JSON text, at the byte the library names); a caller
    that only knows :class:`NotLocal` still hands it to the library, which says the same."""

    def __init__(self, detail: str) -> None:
        super().__init__("corrupt: " + detail)
        self.detail = detail


def detect_format(raw: bytes) -> str:
    """``bin``, ``rkyv``, ``legacy``, ``json`` or ``unknown``: the library's detectFormat rule."""
    n = len(raw)
    if n >= HEADER_SIZE and raw[:4] == MAGIC:
        if raw[4] != VERSION or raw[6] != 0 or raw[7] != 0:
            return "unknown"
        return "bin" if raw[5] == 0 else "rkyv" if raw[5] == FLAG_ALIGNED else "unknown"
    if n > LEGACY_PREFIX and raw[LEGACY_PREFIX] == 0x7B and _U64LE(raw, 0)[0] == n - LEGACY_PREFIX:
        return "legacy"
    start = 3 if raw[:3] == BOM else 0
    stripped = raw[start:start + 64].lstrip(b" \t\r\n")
    if stripped[:1] == b"{":
        return "json"
    if not stripped and start + 64 < n:  # a long run of whitespace: look at the rest
        rest = raw[start:].lstrip(b" \t\r\n")
        return "json" if rest[:1] == b"{" else "unknown"
    return "unknown"


def decode_sidecar(raw: bytes) -> Tuple[Dict[str, Any], str]:
    """``(data, format)`` of a whole sidecar file, or :class:`NotLocal` (:class:`KnownCorrupt` when
    the library's CORRUPT message is certain)."""
    if not raw:
        raise KnownCorrupt("empty file")  # the library's first check after the size limit (codec.ts)
    # Text that starts with '{' is JSON to detect_format unless byte 8 is '{' too (a legacy prefix
    # is possible then): the common case without its slicing.
    if raw[0] == 0x7B and (len(raw) <= LEGACY_PREFIX or raw[LEGACY_PREFIX] != 0x7B):
        try:
            return decode_json(raw), "json"
        except UnicodeDecodeError:
            raise _invalid_utf8(raw, 0, True) from None
        except _DECODER_DEFECTS as e:
            raise _defect(e) from None
    fmt = detect_format(raw)
    try:
        start = 3 if raw[:3] == BOM else 0
        # The library parses any text that is not bin or legacy as JSON: an object, or an array
        # (exiftool's -json dump: another tool's file, OtherJson) read the same way.
        if fmt == "json" or (fmt == "unknown" and raw[start:start + 64].lstrip(b" \t\r\n")[:1] == b"["):
            try:
                return decode_json(raw[start:] if start else raw), "json"
            except UnicodeDecodeError:
                raise _invalid_utf8(raw, start, True) from None
        if fmt == "bin" or fmt == "rkyv":
            return decode_bin(raw), fmt
        if fmt == "legacy":
            try:
                return decode_json(raw[LEGACY_PREFIX:]), fmt
            except UnicodeDecodeError:
                raise _invalid_utf8(raw, LEGACY_PREFIX, False) from None
    except NotLocal:
        raise
    except _DECODER_DEFECTS as e:
        raise _defect(e) from None
    raise NotLocal("not a format the local reader knows (%s)" % fmt)


# A defect of this reader on some input must not become the caller's exception: the library decides.
_DECODER_DEFECTS = (ValueError, TypeError, IndexError, KeyError, OverflowError, RecursionError, MemoryError, struct.error)


def _defect(e: BaseException) -> NotLocal:
    return NotLocal("local decoder failed: %s: %s" % (type(e).__name__, e))


def find_invalid_utf8(raw: bytes, start: int = 0) -> int:
    """The offset of the first byte that starts no valid UTF-8 sequence, or -1: the library's
    findInvalidUtf8 (src/formats/value.ts) rule for rule, so the offset it names is the same."""
    i = start
    end = len(raw)
    while i < end:
        b = raw[i]
        if b < 0x80:
            i += 1
            continue
        lo, hi = 0x80, 0xBF
        if 0xC2 <= b <= 0xDF:
            need = 1
        elif 0xE0 <= b <= 0xEF:
            need = 2
            if b == 0xE0:
                lo = 0xA0  # overlong
            if b == 0xED:
                hi = 0x9F  # surrogates
        elif 0xF0 <= b <= 0xF4:
            need = 3
            if b == 0xF0:
                lo = 0x90  # overlong
            if b == 0xF4:
                hi = 0x8F  # above U+10FFFF
        else:
            return i
        if i + need >= end:
            return i  # truncated sequence
        if not lo <= raw[i + 1] <= hi:
            return i
        for k in range(2, need + 1):
            if not 0x80 <= raw[i + k] <= 0xBF:
                return i
        i += need + 1
    return -1


def _invalid_utf8(raw: bytes, start: int, plain_json: bool) -> NotLocal:
    """What the library says of JSON text (from ``start``) that is not UTF-8: ``invalid UTF-8 at
    byte N`` — once it has got that far. For a ``.json`` file it first refuses text whose first
    bytes hold a NUL ("not a known sidecar format": legacyMismatchReason, binaryStartReason in
    codec.ts); those go to the library."""
    if plain_json:
        first = start
        while raw[first] in b" \t\r\n":  # the '{' or '[' of the text follows this whitespace
            first += 1
        if b"\0" in raw[:first + 8]:
            return NotLocal("invalid UTF-8 after a NUL near the start")
    bad = find_invalid_utf8(raw, start)
    if bad < 0:  # Python's strict decoder and the library's disagree: not sure, ask the library
        return NotLocal("invalid UTF-8 that the library's rule does not find")
    return KnownCorrupt("invalid UTF-8 at byte %d" % bad)


# ---------------------------------------------------------------------------- JSON

def _no_constant(name: str) -> Any:
    raise NotLocal("%s is not valid JSON" % name)


# Counts the containers (objects and lists) of the documents being decoded, for the depth bound in
# decode_json: depth never exceeds the number of containers. Shared by threads: a concurrent decode
# only makes the count larger, which costs a depth walk, never a wrong answer (next() is atomic).
_containers_built = itertools.count()
_count_container = _containers_built.__next__


_OVERFLOW = "a number that overflows a double"
_SUM_OVERFLOW = "a number that overflows a double (or a list whose sum does)"


def _check_list(values: List[Any]) -> None:
    """Counts the list (and the lists in it) and refuses ±inf among its numbers; objects check
    themselves. Iterative: a deep nest of lists must not exhaust Python's stack before the depth
    bound sends it to the library.

    The shapes sidecars hold are summed at C speed without raising: a list of numbers (``sum``;
    ±inf anywhere makes the sum non-finite, so may a huge finite sum: handed over too) and a list
    of number lists such as landmarks or boxes (``sum(map(sum, ...))``). Anything else goes item by
    item; a sum that fails half-way (TypeError) has not decided anything, the item walk does.
    """
    stack = [values]
    while stack:
        values = stack.pop()
        _count_container()
        if not values:
            continue
        t = type(values[0])
        total: Any = None
        try:
            if t is float or t is int:
                total = sum(values)
            elif t is list:
                total = sum(map(sum, values))
                for _ in values:  # the inner lists are containers too (an empty object summed as 0 only over-counts)
                    _count_container()
        except TypeError:
            total = None
        if total is None:
            for v in values:
                tv = type(v)
                if tv is float:
                    if v - v:  # nan for ±inf, 0.0 for every finite float
                        raise NotLocal(_OVERFLOW)
                elif tv is list:
                    stack.append(v)
        elif total - total:
            raise NotLocal(_SUM_OVERFLOW)


def _object(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    """Every JSON object: refuse duplicate keys (the library does) and numbers beyond a double."""
    _count_container()
    d = dict(pairs)
    if len(d) != len(pairs):
        raise NotLocal("duplicate key in a JSON object")
    for v in d.values():
        t = type(v)
        if t is float:
            if v - v:  # nan for ±inf, 0.0 for every finite float
                raise NotLocal(_OVERFLOW)
        elif t is list:
            _check_list(v)
    return d


# Built once: json.loads(text, **hooks) would build a new decoder (and scanner) on every call.
_JSON = json.JSONDecoder(parse_constant=_no_constant, object_pairs_hook=_object)
# Its C scanner, called directly: JSONDecoder.decode is the same call wrapped in two regex matches
# for the whitespace around the value, done here with str methods.
_scan = _JSON.scan_once

# The library refuses ints of more than 4300 digits (src/formats/numbers.ts MAX_INT_DIGITS, Python's
# default int_max_str_digits), and so does json.loads — unless this interpreter's limit was raised
# (sys.set_int_max_str_digits, PYTHONINTMAXSTRDIGITS=0) or it has none (before 3.11, 3.10.7, 3.9.14).
# Then the ints are checked here (a parse_int hook, used only then).
MAX_INT_DIGITS = 4300
_get_int_digits_limit = getattr(sys, "get_int_max_str_digits", None)


def _checked_int(token: str) -> int:
    if len(token) - (token[0] == "-") > MAX_INT_DIGITS:
        raise NotLocal("an integer of more than %d digits" % MAX_INT_DIGITS)
    return int(token)


_scan_checking_ints = json.JSONDecoder(parse_constant=_no_constant, object_pairs_hook=_object, parse_int=_checked_int).scan_once


def _scanner() -> Any:
    limit = _get_int_digits_limit() if _get_int_digits_limit is not None else 0
    return _scan if 0 < limit <= MAX_INT_DIGITS else _scan_checking_ints
_JSON_SPACE = " \t\n\r"  # JSON's whitespace (json.decoder.WHITESPACE)


def decode_json(raw: bytes) -> Dict[str, Any]:
    """JSON text (UTF-8, no BOM) holding one object (:class:`OtherJson` for any other value). Python's
    ``json`` keeps every number exactly."""
    text = raw.decode("utf-8")  # strict, like the library's fatal TextDecoder
    start = 0 if text[:1] == "{" else len(text) - len(text.lstrip(_JSON_SPACE))
    before = _count_container()
    try:
        value, end = _scanner()(text, start)
    except StopIteration as e:  # no value starts there: what JSONDecoder.decode raises
        raise json.JSONDecodeError("Expecting value", text, e.value) from None
    if end != len(text) and text[end:].strip(_JSON_SPACE):  # what JSONDecoder.decode raises
        raise json.JSONDecodeError("Extra data", text, len(text) - len(text[end:].lstrip(_JSON_SPACE)))
    # The hooks check objects and the lists in them; a value that is not an object is checked here,
    # with the library's limits (±inf refused, depth bounded) before it can be another tool's file.
    t = type(value)
    if t is list:
        _check_list(value)
    elif t is float and value - value:
        raise NotLocal(_OVERFLOW)
    # Depth never exceeds the number of containers, counted by the hooks as they check them (no
    # scan of the text: counting '[' bytes cost as much as the hooks).
    if _count_container() - before - 1 >= LOCAL_MAX_DEPTH and _depth(value) >= LOCAL_MAX_DEPTH:
        raise NotLocal("nesting close to the depth limit")
    if t is not dict:
        raise OtherJson()
    return value


def _depth(value: Any) -> int:
    """Nesting depth ({} is 1), iteratively."""
    deepest = 0
    stack: List[Tuple[Any, int]] = [(value, 1)]
    while stack:
        v, d = stack.pop()
        if d > deepest:
            deepest = d
        children = v.values() if type(v) is dict else v
        for c in children:
            if type(c) is dict or type(c) is list:
                stack.append((c, d + 1))
    return deepest


# ---------------------------------------------------------------------------- bin / rkyv

def decode_bin(raw: bytes) -> Dict[str, Any]:
    """Our container: header (magic, version 1, flags 0/1, reserved 0, length, CRC-32), then one CBOR map."""
    n = len(raw)
    if n < HEADER_SIZE:
        raise NotLocal("truncated bin header")
    magic, version, flags, reserved, length, crc = _HEADER.unpack_from(raw, 0)
    if magic != MAGIC or version != VERSION or flags not in (0, FLAG_ALIGNED) or reserved != 0:
        raise NotLocal("unknown bin header")
    if length != n - HEADER_SIZE:
        raise NotLocal("body length does not match the file")
    body = memoryview(raw)[HEADER_SIZE:]
    if zlib.crc32(body) != crc:
        raise NotLocal("checksum mismatch")
    if n == HEADER_SIZE or raw[HEADER_SIZE] >> 5 != 5:
        raise NotLocal("top-level CBOR item is not a map")
    value, end = _Cbor(raw).item(HEADER_SIZE, 0)
    if end != n:
        raise NotLocal("bytes after the CBOR item")
    return value


class _Cbor:
    """The strict CBOR subset of docs/FORMAT.md. Anything outside it raises NotLocal."""

    __slots__ = ("b", "n")

    def __init__(self, b: bytes) -> None:
        self.b = b
        self.n = len(b)

    def _arg(self, ai: int, p: int) -> Tuple[int, int]:
        """The head's argument (ai >= 24) and the position after it."""
        b = self.b
        if ai == 24:
            if p >= self.n:
                raise NotLocal("truncated head")
            return b[p], p + 1
        if ai == 25:
            if p + 2 > self.n:
                raise NotLocal("truncated head")
            return _BE16(b, p)[0], p + 2
        if ai == 26:
            if p + 4 > self.n:
                raise NotLocal("truncated head")
            return _BE32(b, p)[0], p + 4
        if ai == 27:
            if p + 8 > self.n:
                raise NotLocal("truncated head")
            return _BE64(b, p)[0], p + 8
        raise NotLocal("indefinite length or reserved head")

    def item(self, p: int, depth: int) -> Tuple[Any, int]:
        b = self.b
        if p >= self.n:
            raise NotLocal("truncated item")
        ib = b[p]
        p += 1
        major = ib >> 5
        ai = ib & 31
        if major == 3:  # text
            if ai >= 24:
                ai, p = self._arg(ai, p)
            end = p + ai
            if end > self.n:
                raise NotLocal("text runs past the end")
            try:
                return b[p:end].decode("utf-8"), end
            except UnicodeDecodeError:
                raise NotLocal("invalid UTF-8 in a text string") from None
        if major == 0:
            if ai >= 24:
                ai, p = self._arg(ai, p)
                if ai > MAX_SAFE_INTEGER:
                    raise NotLocal("integer beyond 2^53")
            return ai, p
        if major == 7:
            if ai == 27:
                if p + 8 > self.n:
                    raise NotLocal("truncated float")
                v = _F64(b, p)[0]
                if v != v or v == _INF or v == -_INF:
                    raise NotLocal("NaN or Infinity")
                return v, p + 8
            if ai == 20:
                return False, p
            if ai == 21:
                return True, p
            if ai == 22:
                return None, p
            raise NotLocal("simple value or float width outside the subset")
        if major == 5:  # map
            if ai >= 24:
                ai, p = self._arg(ai, p)
            if depth + 1 >= LOCAL_MAX_DEPTH:
                raise NotLocal("nesting close to the depth limit")
            if ai * 2 > self.n - p:
                raise NotLocal("map claims more items than bytes remain")
            out: Dict[str, Any] = {}
            item = self.item
            d1 = depth + 1
            n = self.n
            for _ in range(ai):
                if p >= n:
                    raise NotLocal("truncated map")
                kb = b[p]
                if kb >> 5 != 3:
                    raise NotLocal("map key is not a text string")
                if (kb & 31) < 24:  # short key: inline
                    end = p + 1 + (kb & 31)
                    if end > n:
                        raise NotLocal("text runs past the end")
                    try:
                        key = b[p + 1:end].decode("utf-8")
                    except UnicodeDecodeError:
                        raise NotLocal("invalid UTF-8 in a map key") from None
                    p = end
                else:
                    key, p = item(p, d1)
                # The common scalars inline (a call per item is most of the decoder's time).
                if p < n:
                    vb = b[p]
                    if vb < 24:
                        out[key] = vb
                        p += 1
                        continue
                    if vb == 0xFB and p + 9 <= n:
                        v = _F64(b, p + 1)[0]
                        if v - v:
                            raise NotLocal("NaN or Infinity")
                        out[key] = v
                        p += 9
                        continue
                    if 0xF4 <= vb <= 0xF6:
                        out[key] = _SIMPLE[vb]
                        p += 1
                        continue
                value, p = item(p, d1)
                out[key] = value
            if len(out) != ai:
                raise NotLocal("duplicate map key")
            return out, p
        if major == 4:  # array
            if ai >= 24:
                ai, p = self._arg(ai, p)
            if depth + 1 >= LOCAL_MAX_DEPTH:
                raise NotLocal("nesting close to the depth limit")
            if ai > self.n - p:
                raise NotLocal("array claims more items than bytes remain")
            arr = []
            append = arr.append
            item = self.item
            d1 = depth + 1
            n = self.n
            for _ in range(ai):
                if p < n:
                    vb = b[p]
                    if vb < 24:
                        append(vb)
                        p += 1
                        continue
                    if vb == 0xFB and p + 9 <= n:
                        v = _F64(b, p + 1)[0]
                        if v - v:
                            raise NotLocal("NaN or Infinity")
                        append(v)
                        p += 9
                        continue
                v, p = item(p, d1)
                append(v)
            return arr, p
        if major == 1:
            if ai >= 24:
                ai, p = self._arg(ai, p)
            if ai >= MAX_SAFE_INTEGER:
                raise NotLocal("integer beyond -2^53")
            return -1 - ai, p
        if major == 6:
            if ib == 0xD8 and p < self.n and b[p] == 86:
                return self._floats(p + 1)
            raise NotLocal("a tag other than 86")
        raise NotLocal("byte string outside tag 86")

    def _floats(self, p: int) -> Tuple[List[float], int]:
        """RFC 8746 tag 86: float64 little endian, as one byte string or indefinite chunks (.rkyv)."""
        b = self.b
        if p >= self.n:
            raise NotLocal("truncated tag 86")
        ib = b[p]
        p += 1
        if ib >> 5 != 2:
            raise NotLocal("tag 86 around something other than bytes")
        if (ib & 31) == 31:
            chunks = []
            while True:
                if p >= self.n:
                    raise NotLocal("unterminated byte string")
                cb = b[p]
                p += 1
                if cb == 0xFF:
                    break
                if cb >> 5 != 2 or (cb & 31) == 31:
                    raise NotLocal("bad chunk in an indefinite byte string")
                ln = cb & 31
                if ln >= 24:
                    ln, p = self._arg(ln, p)
                if ln > self.n - p:
                    raise NotLocal("chunk runs past the end")
                if ln:
                    chunks.append(memoryview(b)[p:p + ln])
                p += ln
            data: Any = b"".join(chunks)
        else:
            ln = ib & 31
            if ln >= 24:
                ln, p = self._arg(ln, p)
            if ln > self.n - p:
                raise NotLocal("byte string runs past the end")
            data = memoryview(b)[p:p + ln]
            p += ln
        if len(data) % 8 or not len(data):
            raise NotLocal("tag 86 payload is not a whole number of doubles")
        floats = array.array("d")
        floats.frombytes(data)
        if _BIG_ENDIAN:
            floats.byteswap()
        total = sum(floats)  # NaN or ±Infinity anywhere makes the sum non-finite
        if total != total or total == _INF or total == -_INF:
            raise NotLocal("NaN or Infinity in a float block (or a sum that overflows)")
        return floats.tolist(), p
