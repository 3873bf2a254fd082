"""Build ltrr's own Learning to Rank plugin (``plugin/``, Java, Maven) into an installable zip.

The official LTR plugin is not served by the Maven repositories many build machines reach,
so the engine side is part of this project. Built zips are cached under the engine home by
the digest of the plugin's sources: an unchanged tree is never rebuilt, a changed one always
is, wherever it lives.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from ltrr_opensearch.config import PROJECT_ROOT
from ltrr_opensearch.engine import maven
from ltrr_opensearch.engine.java import Java, find_java
from ltrr_opensearch.errors import EngineError

PLUGIN_DIR = PROJECT_ROOT / "plugin"
PLUGIN_NAME = "ltrr-ltr"  # the name in its descriptor (the official plugin's is opensearch-ltr)
MIN_JAVA = 21


def plugin_sources_available(plugin_dir: Path = PLUGIN_DIR) -> bool:
    return (plugin_dir / "pom.xml").is_file() and (plugin_dir / "src" / "main").is_dir()


def source_digest(plugin_dir: Path = PLUGIN_DIR) -> str:
    """sha256 over the pom and every file under src/ (paths and contents), target/ excluded."""
    digest = hashlib.sha256()
    files = [plugin_dir / "pom.xml", *sorted(p for p in (plugin_dir / "src").rglob("*") if p.is_file())]
    for path in files:
        digest.update(path.relative_to(plugin_dir).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def build_plugin(home: Path, *, plugin_dir: Path = PLUGIN_DIR, java: Java | None = None,
                 run_tests: bool = False, log: Callable[[str], None] = print,
                 timeout: float = 900) -> Path:
    """The plugin zip for the current sources: from the cache, or built with Maven now."""
    if not plugin_sources_available(plugin_dir):
        raise EngineError(f"the plugin sources are not at {plugin_dir}",
                          hint="run from a checkout of ltrr-opensearch, or pass a built zip "
                               "with --ltr-plugin")
    key = source_digest(plugin_dir)[:16]
    cache = home / "plugin"
    cached = cache / f"{PLUGIN_NAME}-{key}.zip"
    if cached.is_file() and not run_tests:
        return cached
    java = java or find_java(MIN_JAVA)
    if java is None:
        raise EngineError(f"building the LTR plugin needs a JDK {MIN_JAVA}+",
                          hint="install one and set JAVA_HOME to it")
    log(f"building the {PLUGIN_NAME} plugin with Maven (Java {java.major})")
    # A private target folder: concurrent builds of one checkout never read each other's output.
    with tempfile.TemporaryDirectory(prefix="ltrr-plugin-build-") as build_dir:
        cmd = [maven.mvn_executable(), "-B", "-ntp", "-f", str(plugin_dir / "pom.xml"),
               f"-Dltrr.build.dir={build_dir}", "package"]
        cmd += [] if run_tests else ["-q", "-DskipTests"]
        env = {**os.environ, "JAVA_HOME": str(java.home)}
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                                  check=False)
        except subprocess.TimeoutExpired:
            raise EngineError(f"building the plugin timed out after {timeout:.0f}s") from None
        zips = sorted(Path(build_dir).glob("*.zip"))
        if proc.returncode != 0 or not zips:
            raise EngineError("building the LTR plugin failed:\n" + _tail(proc.stdout + proc.stderr),
                              hint=f"run `mvn -f {plugin_dir / 'pom.xml'} package` to see the "
                                   "whole output")
        if run_tests:
            log(surefire_summary(proc.stdout))
        cache.mkdir(parents=True, exist_ok=True)
        partial = cache / f".{cached.name}.partial"
        shutil.copyfile(zips[0], partial)
        partial.replace(cached)  # atomic: a cached zip is always whole
    return cached


def install_line(zip_path: Path) -> str:
    return f"bin/opensearch-plugin install --batch file://{zip_path.resolve()}"


def surefire_summary(output: str) -> str:
    """Surefire's closing count ("Tests run: 12, Failures: 0, Errors: 0, Skipped: 0")."""
    totals = [line.split("] ", 1)[-1].strip() for line in output.splitlines()
              if "Tests run:" in line and "Time elapsed" not in line]
    return f"plugin unit tests (Maven Surefire): {totals[-1]}" if totals else \
        "plugin unit tests (Maven Surefire): no test ran"


def _tail(output: str, lines: int = 25) -> str:
    kept = [line for line in output.splitlines() if "sun.misc.Unsafe" not in line
            and "terminally deprecated" not in line]
    return "\n".join(kept[-lines:])
