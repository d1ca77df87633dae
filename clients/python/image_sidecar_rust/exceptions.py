"""The earlier package's exceptions: ``SidecarError(message, error_code=None)`` with ``.message`` and
``.error_code``; the others subclass it. Our client's :class:`image_sidecar.ImageSidecarError` is
translated into these, keeping its code (``CORRUPT``, ``NOT_FOUND``, ...) as ``error_code``."""
from __future__ import annotations

from typing import Optional


class SidecarError(Exception):
    def __init__(self, message: str, error_code: Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = error_code

    def __str__(self) -> str:
        return self.message if self.error_code is None else "[%s] %s" % (self.error_code, self.message)


class ValidationError(SidecarError):
    """validate_sidecars failed (not: found invalid files — those are results)."""


class StatisticsError(SidecarError):
    """get_statistics / get_format_statistics failed."""


class FormatError(SidecarError, ValueError):
    """A format name is unknown, or a conversion failed. Also a ValueError: the earlier package's
    ``set_default_format`` raised one, and ``except ValueError`` still catches it."""


class IOWarning(SidecarError):
    """Kept for imports of the earlier package; never raised."""


__all__ = ["SidecarError", "ValidationError", "StatisticsError", "FormatError", "IOWarning"]
