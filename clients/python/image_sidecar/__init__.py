"""Python client for image-sidecar (standard library only).

    from image_sidecar import ImageSidecarManager

    with ImageSidecarManager() as m:          # one long-lived `image-sidecar serve --stdio`
        data = m.read_data("photos/IMG_1.jpg")  # {} when there is no sidecar
        m.save_data("photos/IMG_1.jpg", "face_detection", {"success": True, "faces": []})
"""
from .client import ImageSidecarManager
from .datasets import load_embeddings
from .errors import ImageSidecarError, ImageSidecarNotFound
from .locate import locate_binary
from .server import ServerConnection

__all__ = ["ImageSidecarManager", "ImageSidecarError", "ImageSidecarNotFound", "ServerConnection", "load_embeddings", "locate_binary"]
__version__ = "0.1.0"
