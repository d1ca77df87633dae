"""``import image_sidecar_rust``: the earlier tool's Python package API, on top of image-sidecar.

    from image_sidecar_rust import ImageSidecar, OperationType

    sc = ImageSidecar()                                   # cheap: create one per image if you like
    doc = sc.read_data("photos/IMG_1.jpg")                # {} when there is no sidecar
    sc.save_data("photos/IMG_1.jpg", OperationType.YOLOV8, json.dumps(result))   # dict or JSON string

Same names, constants and result keys as the earlier package (``image_sidecar_rust`` 0.2.0), without
its bugs: JSON strings are accepted, a whole document is merged key by key, ``"bin"`` is a format,
symlinks resolve fully, numbers keep their type. See clients/python/README.md.
"""
from .core import ImageSidecar
from .exceptions import SidecarError, StatisticsError, ValidationError
from .constants import OperationType, SidecarFormat

__version__ = "0.2.0+image-sidecar.0.1.0"
__all__ = ["ImageSidecar", "SidecarFormat", "OperationType", "SidecarError", "ValidationError", "StatisticsError"]
