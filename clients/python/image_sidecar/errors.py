"""Exceptions raised by the image-sidecar client."""
from __future__ import annotations

from typing import Any, Dict, Optional

INSTALL_HINT = (
    "Install it with `npm install image-sidecar` (in the project, or `npm install -g image-sidecar`), "
    "or set IMAGE_SIDECAR_BIN to the path of the `image-sidecar` executable or its cli.cjs."
)


class ImageSidecarError(Exception):
    """A failure reported by image-sidecar, with its stable error code.

    ``code`` is the library's code (``NOT_FOUND``, ``CORRUPT``, ``USAGE``, ``LOCK_TIMEOUT``, ...),
    or one of the client's own: ``TIMEOUT`` (no answer in time), ``SERVER_EXITED`` (the server
    process died), ``BAD_OUTPUT`` (the CLI printed something that is not the expected JSON).
    """

    def __init__(
        self,
        message: str,
        code: str = "INTERNAL",
        path: Optional[str] = None,
        details: Optional[Dict[str, Any]] = None,
        returncode: Optional[int] = None,
        stderr: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.path = path
        self.details = details
        self.returncode = returncode
        self.stderr = stderr

    def __str__(self) -> str:
        return "[%s] %s" % (self.code, self.message)


class ImageSidecarNotFound(ImageSidecarError):
    """The image-sidecar executable could not be found (``ImageSidecarManager.available`` is False)."""

    def __init__(self, reason: str) -> None:
        super().__init__("image-sidecar is not available: %s. %s" % (reason, INSTALL_HINT), code="NOT_INSTALLED")
