"""A built wheel carries the whole package: every subpackage, template and data file.

An editable install (scripts/setup.sh) hides a stale package list, because it
imports from the checkout; `pip install .` on another machine does not.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.timeout(300)
def test_the_wheel_holds_every_module_and_data_file(tmp_path):
    # A clean copy: setuptools reuses a build/ folder it finds, hiding what the
    # package list really selects.
    tree = tmp_path / "src"
    ignore = shutil.ignore_patterns("build", "*.egg-info", "__pycache__", ".*")
    shutil.copytree(REPO / "monitor", tree / "monitor", ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, tree / name)
    pip = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps"]
    built = subprocess.run(
        [*pip, "--no-build-isolation", "--wheel-dir", str(tmp_path), str(tree)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("monitor-*.whl")
    inside = set(zipfile.ZipFile(wheel).namelist())
    src = REPO / "monitor"
    wanted = {
        p.relative_to(REPO).as_posix()
        for p in src.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    missing = sorted(wanted - inside)
    assert not missing, f"not in the wheel: {missing[:20]}"
