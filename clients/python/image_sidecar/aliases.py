"""The earlier tool's command names, installed by ``pip install`` as console scripts:
``image-sidecar-rust`` and ``sportball-sidecar-rust`` run the image-sidecar CLI with the same
arguments (``validate``, ``validate-json``, ``stats``, ``format-stats``, ``convert``, ``cleanup``,
``export``, ...), so unchanged wrappers that look the old tool up on PATH find this one.

Exit codes follow the old tool: findings (our exit 1: invalid files, failed conversions) exit 0,
because its wrappers raise on any non-zero exit; usage and fatal errors still exit 2 with the
message on stderr. stdout and stderr pass straight through.
"""
from __future__ import annotations

import os
import subprocess
import sys
from typing import List, Optional

from .errors import INSTALL_HINT
from .locate import locate_binary

# Our CLI's "findings" exit status; the old tool reported findings with 0.
EXIT_FINDINGS = 1


def main(argv: Optional[List[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "image-sidecar-rust"
    located = locate_binary()
    if located.command is None:
        sys.stderr.write("%s: error [NOT_INSTALLED]: image-sidecar is not available: %s. %s\n" % (name, located.reason, INSTALL_HINT))
        return 2
    try:
        code = subprocess.call(located.command + args)
    except KeyboardInterrupt:
        return 130
    except OSError as e:
        sys.stderr.write("%s: error [IO]: could not run %s: %s\n" % (name, located.command[0], e))
        return 2
    if code < 0:  # killed by a signal: report it the shell's way
        return 128 - code
    return 0 if code == EXIT_FINDINGS else code


if __name__ == "__main__":
    sys.exit(main())
