"""Command prefixes that make a write fail as on a full disk or a read-only folder, for the fault
tests of the server and of the workspace (importable by name, unlike a conftest)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest


def limited(nbytes: int) -> list[str]:
    """A prefix that runs a command with RLIMIT_FSIZE: a write past ``nbytes`` in any file fails
    with EFBIG, as on a full disk, for root too and without a mount."""
    code = ("import os, resource, sys; n = int(sys.argv[1]); "
            "resource.setrlimit(resource.RLIMIT_FSIZE, (n, n)); os.execv(sys.argv[2], sys.argv[2:])")
    return [sys.executable, "-c", code, str(nbytes)]


def unprivileged() -> list[str]:
    """A prefix under which permission bits hold, so a chmod makes a folder read-only.

    Root ignores them; as root, ``setpriv`` drops the capabilities that let it (the process
    stays root and owns its files). Skips where neither works.
    """
    probe = Path(tempfile.mkdtemp())
    try:
        probe.chmod(0o555)
        candidates: list[list[str]] = [[]]
        if os.geteuid() == 0 and shutil.which("setpriv"):
            candidates.append(["setpriv", "--inh-caps=-all",
                               "--bounding-set=-dac_override,-dac_read_search,-fowner", "--"])
        for i, prefix in enumerate(candidates):
            create = [sys.executable, "-c", "import sys; open(sys.argv[1], 'x')", str(probe / str(i))]
            if subprocess.run([*prefix, *create], capture_output=True).returncode != 0:
                return prefix
    finally:
        probe.chmod(0o755)
        shutil.rmtree(probe)
    pytest.skip("running as root and cannot drop the capabilities that bypass permission bits (no setpriv "
                "or no CAP_SETPCAP), so a read-only folder cannot be made")
