"""The local read path: an image's sidecar read in-process (no server round trip), with exactly the
library's pairing rules and decoders, or :class:`NotLocal` when the library must answer.

``read_local(image)`` returns the data of the first candidate sidecar, in the library's preference
order, that is plainly valid (none: ``{}``), after candidates the library certainly refuses as
corrupt (an empty file, JSON that is not UTF-8): the library falls back past those too. When all
candidates are such, it raises the library's CORRUPT error, message and path included. Files over
the size limit, special files and everything the decoder is unsure of go to the library, so errors
stay the library's. A candidate that decodes but is not sidecar-shaped is another tool's file
(docs/PAIRING.md §7, Google Photos Takeout's ``IMG.jpg.json``): passed over, as the library does.
"""
from __future__ import annotations

import os
import stat
import unicodedata
from typing import Any, Dict, List, Optional, Tuple

from .decode import KnownCorrupt, NotLocal, OtherJson, decode_sidecar
from .errors import ImageSidecarError
from .pairing import locate_candidates, split_name

# The library's default size limit (src/formats/value.ts DEFAULT_MAX_FILE_SIZE).
DEFAULT_MAX_FILE_SIZE = 64 * 1024 * 1024
ENV_LOCAL_READ = "IMAGE_SIDECAR_LOCAL_READ"

_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def local_reads_enabled() -> bool:
    """The kill switch: IMAGE_SIDECAR_LOCAL_READ=0 sends every read to the library."""
    return os.environ.get(ENV_LOCAL_READ, "1").strip().lower() not in ("0", "false", "no", "off")


def read_file_limited(path: str, max_size: int = DEFAULT_MAX_FILE_SIZE) -> bytes:
    """A regular file's bytes, refusing (NotLocal) anything else or anything over ``max_size``."""
    try:
        fd = os.open(path, _FLAGS)  # O_NONBLOCK: a FIFO planted as a sidecar must not block us
    except OSError as e:
        raise NotLocal("cannot open %s: %s" % (path, e)) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotLocal("not a regular file")
        if st.st_size > max_size:
            raise NotLocal("over the size limit")
        want = st.st_size + 1  # one more byte shows a file that grew meanwhile
        data = os.read(fd, want)
        if len(data) > st.st_size:
            # The library reads the size the file has when opened: one that grew meanwhile, or
            # whose size is not its length (/proc), is its answer.
            raise NotLocal("longer than its size")
        return data  # a short read of a regular file is its end
    except OSError as e:
        raise NotLocal("cannot read %s: %s" % (path, e)) from None
    finally:
        os.close(fd)


def _check_utf8(path: str) -> None:
    # A name that is not UTF-8 (Python holds it with surrogate escapes) cannot be named to the
    # library; reading it here would answer what the library cannot.
    if not path.isascii():
        try:
            path.encode("utf-8")
        except UnicodeEncodeError:
            raise NotLocal("a name that is not valid UTF-8") from None


def read_local(image_path: str, max_file_size: int = DEFAULT_MAX_FILE_SIZE) -> Dict[str, Any]:
    """The library's read (src/ops/read.ts) where its answer is certain, else :class:`NotLocal`.

    Candidates are tried in the library's preference order: the first that decodes is the answer;
    one the library certainly refuses as CORRUPT (:class:`KnownCorrupt`) falls back to the next, as
    the library's does; anything else (unreadable, a special file, over the size limit, a file the
    local decoder is not sure of) hands the whole read to the library. When every candidate is
    corrupt, the library's CORRUPT error is raised, with its message and path.
    """
    _check_utf8(image_path)
    candidates = locate_candidates(image_path)
    if not candidates:
        return {}
    corrupt: List[Tuple[str, str]] = []
    for c in candidates:
        # (A directory or FIFO in a sidecar's name is refused by read_file_limited: the library decides.)
        _check_utf8(c.path)
        raw = read_file_limited(c.path, max_file_size)
        try:
            data = decode_sidecar(raw)[0]
        except KnownCorrupt as e:
            corrupt.append((c.path, "%s: %s" % (c.path, e.detail)))
            continue
        except OtherJson:
            continue  # JSON that is not an object: another tool's file (the library passes it over too)
        if not sidecar_shaped(data, os.path.basename(c.path)):
            continue  # another tool's file: not this image's sidecar (the library passes it over too)
        if c.naming == "stem" and _may_be_left_behind(c, candidates, data):
            # A stem file beside the image's own name-ext file that records another image of its stem
            # may be that image's, left behind when it moved (docs/PAIRING.md section 3): whether the
            # recorded name is an image's is the library's extension set.
            raise NotLocal("a stem file that records another image of its stem")
        if c.naming == "stem" and recorded_image_name(data) is None and _name_ext_records_an_image(c, candidates, max_file_size):
            # A stem file that records no image ranks after the image's own name-ext file when that
            # one records the image (docs/PAIRING.md section 4): the library reads and decides.
            raise NotLocal("a stem file that records no image beside a name-ext file that records one")
        return data
    if not corrupt:
        return {}  # only other tools' files: the image has no sidecar
    if len(corrupt) == 1:
        return _raise_corrupt(corrupt[0][1], corrupt[0][0])
    # errors.corrupt(detail) without a path (read.ts): the message lists every candidate's.
    return _raise_corrupt("every candidate sidecar is corrupt: " + "; ".join(m for _, m in corrupt), None)


# src/analysis/operations.ts: KNOWN_OPERATIONS, ALIASES, REPORT_FILE_NAMES (discovery/extensions.ts).
_KNOWN_OPERATIONS = frozenset(
    ("face_detection", "object_detection", "ball_detection", "quality_assessment", "game_detection", "yolov8", "unified", "pose_detection")
)
_ALIASES = {
    "face_detector": "face_detection",
    "object_detector": "object_detection",
    "ball_detector": "ball_detection",
    "quality_assessor": "quality_assessment",
    "game_detector": "game_detection",
    "pose_detector": "pose_detection",
    "yolo_v8": "yolov8",
}
_REPORT_STEMS = ("game_detection", "game_detection_report")


def _is_upper(c: int) -> bool:
    return 65 <= c <= 90


def _is_lower_or_digit(c: int) -> bool:
    return 97 <= c <= 122 or 48 <= c <= 57


def _snake_case(key: str) -> str:
    """operations.ts toSnakeCase: ``FaceDetection`` -> ``face_detection``, ``Face detector`` -> ``face_detector``."""
    out = ""
    n = len(key)
    for i, ch in enumerate(key):
        c = ord(ch)
        if c in (45, 32):  # '-' and ' '
            if out and not out.endswith("_"):
                out += "_"
            continue
        if _is_upper(c):
            prev = ord(key[i - 1]) if i > 0 else 0
            nxt = ord(key[i + 1]) if i + 1 < n else 0
            starts_word = _is_lower_or_digit(prev) or (_is_upper(prev) and 97 <= nxt <= 122)
            if starts_word and out and not out.endswith("_"):
                out += "_"
            out += chr(c + 32)
        else:
            out += ch
    return out


def _is_known_operation_key(key: str) -> bool:
    if key in _KNOWN_OPERATIONS:
        return True
    snake = _snake_case(key)
    return _ALIASES.get(snake, snake) in _KNOWN_OPERATIONS


def _has_report_content(data: Dict[str, Any]) -> bool:
    if isinstance(data.get("games"), list):
        return True
    inner = data.get("data")
    return isinstance(inner, dict) and isinstance(inner.get("games"), list)


def sidecar_shaped(data: Dict[str, Any], name: str) -> bool:
    """The library's shape rule (src/analysis/operations.ts shapeOf == 'sidecar'): not a report (by
    its name or a ``games`` array), and a ``sidecar_info`` object or a known operation key in any
    spelling. Anything else that decodes is another tool's file (docs/PAIRING.md §7)."""
    stem, dot, ext = name.lower().rpartition(".")
    if dot and stem in _REPORT_STEMS and ext in ("json", "bin", "rkyv"):
        return False
    if _has_report_content(data):
        return False
    if isinstance(data.get("sidecar_info"), dict):
        return True
    return any(_is_known_operation_key(k) for k in data)


def recorded_image_name(data: Dict[str, Any]) -> Optional[str]:
    """src/analysis/image-identity.ts recordedImageName: the file name the record holds (NFC), or None."""
    info = data.get("sidecar_info")
    if not isinstance(info, dict):
        return None
    link = info.get("symlink_info")
    target = link.get("target_path") if isinstance(link, dict) else None
    p = target if isinstance(target, str) and target != "" else info.get("image_path")
    if not isinstance(p, str) or p == "":
        return None
    name = p[max(p.rfind("/"), p.rfind("\\")) + 1 :]
    return unicodedata.normalize("NFC", name) if name else None


def _name_ext_records_an_image(c: Any, candidates: List[Any], max_file_size: int) -> bool:
    """Does a name-ext file beside stem file `c` (on its side) record an image, or not decode here
    (src/discovery/pair.ts unrecordedStemFiles: whether it is this image is the library's answer)?"""
    for o in candidates:
        if o.side != c.side or o.naming != "name-ext":
            continue
        try:
            named = recorded_image_name(decode_sidecar(read_file_limited(o.path, max_file_size))[0])
        except Exception:
            return True
        if named is not None:
            return True
    return False


def _may_be_left_behind(c: Any, candidates: List[Any], data: Dict[str, Any]) -> bool:
    """Does stem file `c`, beside a name-ext file of the image on its side, record another name of its
    stem (src/discovery/pair.ts namesAnotherClaimant, but for the extension set)?"""
    name_ext = next((o for o in candidates if o.side == c.side and o.naming == "name-ext"), None)
    named = recorded_image_name(data)
    if name_ext is None or named is None:
        return False
    base = os.path.basename(name_ext.path)
    image = unicodedata.normalize("NFC", base[: len(base) - len(name_ext.ext) - 1])
    if named.lower() == image.lower():
        return False  # this image, under an extension whose case a rename changed
    stem = split_name(image)[0]
    # An image that claims this stem file too: by its stem, or by its whole name (A.jpg for A.jpg.bin beside A.jpg.png).
    return split_name(named)[0] == stem or named == stem


def _raise_corrupt(message: str, path: Optional[str]) -> Dict[str, Any]:
    raise ImageSidecarError(message, code="CORRUPT", path=path)
