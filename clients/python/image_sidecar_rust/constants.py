"""``OperationType`` and ``SidecarFormat``: the earlier package's constants, plain strings.

``OperationType.YOLOV8 == "yolov8"``; calling the class checks and normalises a name
case-insensitively (``OperationType("YOLOv8") == "yolov8"``, a ``str``), and raises
``ValueError("Unknown operation: x")`` for anything else, ``"unknown"`` included.
``SidecarFormat`` also accepts ``"bin"`` (the earlier class refused the value its own
``get_default_format()`` returned).
"""
from __future__ import annotations


class OperationType(str):
    FACE_DETECTION = "face_detection"
    OBJECT_DETECTION = "object_detection"
    BALL_DETECTION = "ball_detection"
    QUALITY_ASSESSMENT = "quality_assessment"
    GAME_DETECTION = "game_detection"
    YOLOV8 = "yolov8"
    UNIFIED = "unified"

    def __new__(cls, value: object) -> "OperationType":
        name = str(value).strip().lower()
        if name not in _OPERATIONS:
            raise ValueError("Unknown operation: %s" % value)
        return str.__new__(cls, name)

    def __repr__(self) -> str:
        return "OperationType(%s)" % str.__repr__(self)


_OPERATIONS = frozenset(v for k, v in vars(OperationType).items() if k.isupper())


class SidecarFormat(str):
    JSON = "json"
    BINARY = "binary"
    BIN = "bin"
    RKYV = "rkyv"

    def __new__(cls, value: object) -> "SidecarFormat":
        name = str(value).strip().lower()
        if name not in _FORMATS:
            raise ValueError("Unknown format: %s" % value)
        return str.__new__(cls, name)

    @property
    def library_name(self) -> str:
        """The library's name of this format (``binary`` → ``bin``)."""
        return "bin" if self == "binary" else str(self)

    def __repr__(self) -> str:
        return "SidecarFormat(%s)" % str.__repr__(self)


_FORMATS = frozenset(v for k, v in vars(SidecarFormat).items() if k.isupper())
