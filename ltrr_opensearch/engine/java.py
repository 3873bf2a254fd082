"""Find a Java runtime new enough for the OpenSearch version we launch."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

_VERSION = re.compile(r'version "(\d+)(?:\.(\d+))?')


@dataclass(frozen=True)
class Java:
    home: Path
    major: int


def java_major(home: Path) -> int | None:
    """The major version of ``home/bin/java``, or None if it does not run."""
    exe = home / "bin" / "java"
    if not exe.is_file():
        return None
    try:
        out = subprocess.run([str(exe), "-version"], capture_output=True, text=True,
                             timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = _VERSION.search(out.stderr + out.stdout)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 and match.group(2) else major  # "1.8" -> 8


def candidate_homes() -> list[Path]:
    """Java homes to consider, the explicitly configured ones first."""
    homes: list[Path] = []
    for var in ("OPENSEARCH_JAVA_HOME", "JAVA_HOME"):
        if os.environ.get(var):
            homes.append(Path(os.environ[var]))
    jvm_root = Path("/usr/lib/jvm")
    if jvm_root.is_dir():
        homes.extend(sorted(p for p in jvm_root.iterdir() if p.is_dir() and not p.is_symlink()))
    return homes


def find_java(min_major: int, max_major: int | None = None) -> Java | None:
    """The newest Java in [min_major, max_major] among the candidates (configured ones win)."""
    found: list[Java] = []
    for index, home in enumerate(candidate_homes()):
        major = java_major(home)
        if major is None or major < min_major or (max_major and major > max_major):
            continue
        if index < 2 and home in (Path(os.environ.get("OPENSEARCH_JAVA_HOME", "")),
                                  Path(os.environ.get("JAVA_HOME", ""))):
            return Java(home, major)
        found.append(Java(home, major))
    return max(found, key=lambda j: j.major, default=None)
