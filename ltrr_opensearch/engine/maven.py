"""Fetch artifacts from the user's Maven repositories (Maven Central, or their mirror).

We call Maven itself rather than HTTP so that the machine's mirrors, proxies and
credentials in ``~/.m2/settings.xml`` apply, as ops teams expect. Pinned artifacts are
checked against their sha256; others must pass Maven's strict checksum policy.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from ltrr_opensearch.errors import EngineError

DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"


class ArtifactNotFound(EngineError):
    """The repositories answered, but do not have this artifact."""


def mvn_executable() -> str:
    exe = shutil.which("mvn")
    if not exe:
        raise EngineError("Maven (`mvn`) is not installed",
                          hint="install Maven (e.g. `apt-get install maven`) or use docker/compose.yml")
    return exe


def fetch(coordinate: str, dest_dir: Path, sha256_pin: str | None = None,
          timeout: float = 1800) -> Path:
    """Copy ``group:artifact:version:type`` into ``dest_dir``; return the file's path.

    With ``sha256_pin`` the file must have exactly that digest (some repositories serve
    artifacts without checksum files, which Maven's strict mode refuses outright); without
    one, Maven's strict checksum policy (``-C``) must accept it.
    """
    group, artifact, version, packaging = coordinate.split(":")
    dest_dir.mkdir(parents=True, exist_ok=True)
    strict = [] if sha256_pin else ["-C"]
    cmd = [mvn_executable(), "-B", "-q", *strict, f"{DEPENDENCY_PLUGIN}:copy",
           f"-Dartifact={coordinate}", f"-DoutputDirectory={dest_dir}"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise EngineError(f"Maven timed out after {timeout:.0f}s fetching {coordinate}") from None
    target = dest_dir / f"{artifact}-{version}.{packaging}"
    if proc.returncode != 0 or not target.is_file():
        detail = _first_error(proc.stdout + proc.stderr)
        if "could not find artifact" in detail.lower() or "was not found" in detail.lower():
            raise ArtifactNotFound(f"{coordinate} is not in your Maven repositories")
        raise EngineError(f"Maven could not fetch {coordinate}: {detail}",
                          hint="check network access to Maven Central or your mirror in ~/.m2/settings.xml")
    if sha256_pin:
        actual = sha256(target)
        if actual != sha256_pin:
            raise EngineError(
                f"{coordinate} does not match its pinned sha256 (expected {sha256_pin}, "
                f"got {actual}): a corrupt or tampered download",
                hint=f"delete it from your local Maven repository (~/.m2/repository/"
                     f"{group.replace('.', '/')}/{artifact}/{version}) and run `ltrr engine up` again")
    return target


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _first_error(output: str) -> str:
    for line in output.splitlines():
        if "[ERROR]" in line and line.strip() != "[ERROR]":
            return line.split("[ERROR]", 1)[1].strip()[:400]
    return output.strip().splitlines()[-1][:400] if output.strip() else "no output"
