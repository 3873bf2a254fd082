"""A local OpenSearch node without Docker, assembled from Maven artifacts.

Layout under the engine home (``LTRR_HOME``; default ``/var/lib/ltrr`` for root,
``~/.cache/ltrr`` otherwise)::

    dist/<version>-<key>/     an assembled node (core + plugins), shared by all local nodes
    dist/.partial-*           an assembly in progress; renamed into place only when complete
    nodes/<port>/             one node's data/, logs/, node.json and console.log
    clusters/<port>.json      a local multi-node cluster (``up --nodes N``): its size, name
                              and ports; its nodes live in nodes/<port>/, nodes/<port+1>/, ...

Assembly is atomic: artifacts are fetched and unpacked into ``dist/.partial-*`` and the
folder is renamed to its final name as the very last step, so an interrupted download or
a crash leaves no half-built node; leftovers are removed on the next ``up``.
OpenSearch refuses to run as root, so when we are root the node runs as a dedicated
system user that owns the node's folders.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ltrr_opensearch.engine import maven
from ltrr_opensearch.engine.java import Java, find_java
from ltrr_opensearch.engine.plugin_build import (
    PLUGIN_DIR,
    build_plugin,
    plugin_sources_available,
    source_digest,
)
from ltrr_opensearch.errors import EngineError


@dataclass(frozen=True)
class ModuleSpec:
    """A core module rebuilt from its published jars, for distributions that lack it."""

    name: str
    classname: str
    jars: tuple[str, ...]  # Maven coordinates (group:artifact:version), never core jars
    extended_plugins: str = ""
    permissions: tuple[str, ...] = ()  # security-manager grants (2.x runs with one)


@dataclass(frozen=True)
class Distribution:
    """What a node of one OpenSearch version is assembled from."""

    version: str
    java: tuple[int, int | None]  # supported Java major versions, inclusive
    core: str  # Maven coordinate of the minimal distribution
    plugins: tuple[str, ...]  # required plugin zips
    ltr_plugin: str  # the Learning to Rank plugin zip: installed when the repositories have it
    # sha256 of every pinned artifact (coordinate without packaging for module jars). Some
    # repositories serve the core zip without checksum files, so we verify it ourselves.
    sha256: Mapping[str, str] = field(default_factory=dict)
    modules: tuple[str, ...] = ("mapper-extras", "analysis-common", "lang-painless", "lang-mustache")
    build_modules: tuple[ModuleSpec, ...] = ()  # added when the core zip does not carry them


# The one place versions are pinned. 3.5.0 is the newest version for which every piece is
# on Maven Central (k-NN zips exist for 3.5.0.0 and 2.19.1.0 only). Its minimal zip
# already carries the modules we need. 2.19.1 is the fallback for Java 17 machines.
DISTRIBUTIONS: dict[str, Distribution] = {
    "3.5.0": Distribution(
        version="3.5.0",
        java=(21, None),
        core="org.opensearch.distribution.integ-test-zip:opensearch:3.5.0:zip",
        plugins=("org.opensearch.plugin:opensearch-knn:3.5.0.0:zip",),
        ltr_plugin="org.opensearch:ltr:3.5.0.0:zip",
        sha256={
            "org.opensearch.distribution.integ-test-zip:opensearch:3.5.0:zip":
                "b676ad392c95a94d8d2bd8785b8b922c7811536daf6a9ec0c7277a34bd8a17a9",
            "org.opensearch.plugin:opensearch-knn:3.5.0.0:zip":
                "99fdf3ac9ef95974e276298b83a58532bf21ba13bd5fd96a4b59465b7e613309",
        },
    ),
    "2.19.1": Distribution(
        version="2.19.1",
        java=(17, 23),  # 2.x needs the Java security manager, removed in Java 24
        core="org.opensearch.distribution.integ-test-zip:opensearch:2.19.1:zip",
        plugins=("org.opensearch.plugin:opensearch-knn:2.19.1.0:zip",),
        ltr_plugin="org.opensearch:opensearch-ltr:2.19.1.0:zip",
        sha256={
            "org.opensearch.distribution.integ-test-zip:opensearch:2.19.1:zip":
                "af7152d8b7f6f1cee09d47276b32b70479fe6dd8cdbb61213f84eb7f8098b261",
            "org.opensearch.plugin:opensearch-knn:2.19.1.0:zip":
                "eab8c9818865bc035212eab5068cdacae164baa09d4c152f49b736d6f6b0e85c",
            "org.opensearch.plugin:lang-painless:2.19.1":
                "3cf5e02efa40ff5b88e74e1ab66a0bc462de3509fab4a6a4ffe90b8d13777a9a",
            "org.opensearch.plugin:opensearch-scripting-painless-spi:2.19.1":
                "c2598797a5f6f897ce7e8d05f593ff96de3fbc56c52f299d63cddcae41556dda",
            "org.antlr:antlr4-runtime:4.13.1":
                "54665d2838cc66458343468efc539e454fc95b46a8a04b13c6ac43fc9be63505",
            "org.ow2.asm:asm:9.7": "adf46d5e34940bdf148ecdd26a9ee8eea94496a72034ff7141066b3eea5c4e9d",
            "org.ow2.asm:asm-util:9.7":
                "37a6414d36641973f1af104937c95d6d921b2ddb4d612c66c5a9f2b13fc14211",
            "org.ow2.asm:asm-tree:9.7":
                "62f4b3bc436045c1acb5c3ba2d8ec556ec3369093d7f5d06c747eb04b56d52b1",
            "org.ow2.asm:asm-commons:9.7":
                "389bc247958e049fc9a0408d398c92c6d370c18035120395d4cba1d9d9304b7a",
            "org.ow2.asm:asm-analysis:9.7":
                "7bc6bcbc21379948a0c8c467fb0f864206e5b818f6bc0b546872f5c9f941556f",
            "org.opensearch.plugin:mapper-extras-client:2.19.1":
                "93e85f305ddc3070fea5b83cc8d962bdcd30df20638352b02cf57276cc2bc5d5",
            "org.opensearch.plugin:analysis-common:2.19.1":
                "13fdc1071af42946b13153a62491a5e9b0ad214d44f7c8153d3afef60f558821",
            "org.opensearch.plugin:lang-mustache-client:2.19.1":
                "3d688c8d05e517ddad94e439c61183b642aa1784daf7a4d76964d518f6c17135",
            "com.github.spullara.mustache.java:compiler:0.9.14":
                "99a7e7855609135006f078e6de7ee69daad9c42f98e679d56f80653cb17526b9",
        },
        # The 2.19.1 minimal zip carries only transport-netty4; versions from the modules' POMs.
        build_modules=(
            ModuleSpec("lang-painless", "org.opensearch.painless.PainlessPlugin", (
                "org.opensearch.plugin:lang-painless:2.19.1",
                "org.opensearch.plugin:opensearch-scripting-painless-spi:2.19.1",
                "org.antlr:antlr4-runtime:4.13.1", "org.ow2.asm:asm:9.7",
                "org.ow2.asm:asm-util:9.7", "org.ow2.asm:asm-tree:9.7",
                "org.ow2.asm:asm-commons:9.7", "org.ow2.asm:asm-analysis:9.7"),
                permissions=('java.lang.RuntimePermission "createClassLoader"',
                             'java.lang.RuntimePermission "getClassLoader"')),
            ModuleSpec("mapper-extras", "org.opensearch.index.mapper.MapperExtrasPlugin",
                       ("org.opensearch.plugin:mapper-extras-client:2.19.1",)),
            ModuleSpec("analysis-common", "org.opensearch.analysis.common.CommonAnalysisPlugin",
                       ("org.opensearch.plugin:analysis-common:2.19.1",),
                       extended_plugins="lang-painless"),
            ModuleSpec("lang-mustache", "org.opensearch.script.mustache.MustachePlugin", (
                "org.opensearch.plugin:lang-mustache-client:2.19.1",
                "com.github.spullara.mustache.java:compiler:0.9.14"),
                permissions=('java.lang.reflect.ReflectPermission "suppressAccessChecks"',
                             'java.lang.RuntimePermission "accessDeclaredMembers"')),
        ),
    ),
}
PINNED_VERSION = "3.5.0"
FALLBACK_VERSION = "2.19.1"

SERVICE_USER = os.environ.get("LTRR_ENGINE_USER", "ltrr-opensearch")
DEFAULT_PORT = 9200
DEFAULT_HEAP = "1g"
CLUSTER_HEAP = "512m"  # per node of a local multi-node cluster
MAX_LOCAL_NODES = 9  # HTTP ports P..P+8, transport P+100..P+108: never overlapping


def engine_home() -> Path:
    if os.environ.get("LTRR_HOME"):
        return Path(os.environ["LTRR_HOME"]).resolve()
    if os.geteuid() == 0:
        return Path("/var/lib/ltrr")
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "ltrr"


def choose_distribution(version: str | None = None) -> tuple[Distribution, Java]:
    """The pinned version on Java 21+, else the fallback on Java 17-23."""
    order = [version] if version else [PINNED_VERSION, FALLBACK_VERSION]
    for name in order:
        if name not in DISTRIBUTIONS:
            raise EngineError(f"unknown OpenSearch version {name!r}",
                              hint=f"choose one of {', '.join(DISTRIBUTIONS)}")
        dist = DISTRIBUTIONS[name]
        java = find_java(*dist.java)
        if java:
            return dist, java
    wanted = " or ".join(f"Java {DISTRIBUTIONS[n].java[0]}+ for {DISTRIBUTIONS[n].version}"
                         for n in order)
    raise EngineError(f"no suitable Java found ({wanted})",
                      hint="install a JDK 21+ and set OPENSEARCH_JAVA_HOME to it")


# ---------------------------------------------------------------- assembly


@dataclass
class Manifest:
    version: str
    artifacts: dict[str, str]  # coordinate or file -> sha256
    plugins: list[str]
    ltr: str  # "installed from ..." or "unavailable: reason"
    assembled_at: float = field(default_factory=time.time)


def _spec_key(dist: Distribution, ltr_source: str | None) -> str:
    """Names the assembled node by what is in it: a local plugin zip counts by its content,
    so a rebuilt zip at the same path gives a new node rather than a stale cached one."""
    source = ltr_source
    if ltr_source and not ltr_source.startswith(("http://", "https://")):
        path = Path(ltr_source.removeprefix("file://")).expanduser()
        if path.is_file():
            source = "sha256:" + maven.sha256(path)
    elif ltr_source is None and plugin_sources_available():
        source = "ltrr-ltr-sources:" + source_digest()  # ours, should the official one be missing
    text = json.dumps([asdict(dist), source], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def assemble(
    dist: Distribution,
    java: Java,
    home: Path | None = None,
    ltr_source: str | None = None,
    refresh: bool = False,
    log: Callable[[str], None] = print,
) -> Path:
    """Return the folder of an assembled node, building and caching it if needed.

    ``ltr_source`` is a path or URL of an LTR plugin zip to use instead of Maven's (which
    then becomes required); without it, the Maven coordinate is tried and the node is
    assembled without LTR if the repositories do not have it.
    """
    home = home or engine_home()
    dist_root = home / "dist"
    _make_traversable(home)
    dist_root.mkdir(parents=True, exist_ok=True)
    final = dist_root / f"{dist.version}-{_spec_key(dist, ltr_source)}"
    # One assembly at a time per home: a concurrent `up` waits, then finds the node built
    # (two at once would each replace the other's finished folder, maybe under a running node).
    with (home / ".assembly.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _assemble_locked(dist, java, home, dist_root, final, ltr_source, refresh, log)


def _assemble_locked(dist: Distribution, java: Java, home: Path, dist_root: Path, final: Path,
                     ltr_source: str | None, refresh: bool, log: Callable[[str], None]) -> Path:
    for stale in dist_root.glob(".partial-*"):
        if not _owned_by_live_process(stale):
            shutil.rmtree(stale, ignore_errors=True)
    if final.is_dir() and (final / "ltrr-manifest.json").is_file() and not refresh:
        return final

    work = Path(tempfile.mkdtemp(prefix=".partial-", dir=dist_root))
    (work / "owner.pid").write_text(str(os.getpid()))
    try:
        log(f"assembling OpenSearch {dist.version} from Maven artifacts (cached afterwards)")
        downloads = work / "downloads"
        artifacts: dict[str, str] = {}
        core_zip = maven.fetch(dist.core, downloads, dist.sha256.get(dist.core))
        artifacts[dist.core] = maven.sha256(core_zip)
        node_dir = _unpack_core(core_zip, work)
        for module in dist.build_modules:
            artifacts.update(_build_module(node_dir, module, dist, java, downloads))
        _check_modules(node_dir, dist)

        plugin_zips: list[Path] = []
        for coordinate in dist.plugins:
            path = maven.fetch(coordinate, downloads, dist.sha256.get(coordinate))
            artifacts[coordinate] = maven.sha256(path)
            plugin_zips.append(path)

        ltr_zip, ltr_note = _resolve_ltr(dist, ltr_source, downloads, log, home, java)
        if ltr_zip:
            artifacts[ltr_source or dist.ltr_plugin] = maven.sha256(ltr_zip)
            plugin_zips.append(ltr_zip)

        for plugin_zip in plugin_zips:
            _install_plugin(node_dir, plugin_zip, java)
        plugins = sorted(p.name for p in (node_dir / "plugins").iterdir() if p.is_dir())

        manifest = Manifest(dist.version, artifacts, plugins, ltr_note)
        (node_dir / "ltrr-manifest.json").write_text(json.dumps(asdict(manifest), indent=2))
        shutil.rmtree(downloads)
        if final.exists():
            shutil.rmtree(final)
        node_dir.rename(final)  # the atomic step: the node exists whole or not at all
        return final
    finally:
        shutil.rmtree(work, ignore_errors=True)


def read_manifest(node_dir: Path) -> dict:
    return json.loads((node_dir / "ltrr-manifest.json").read_text())


def _resolve_ltr(dist: Distribution, ltr_source: str | None, downloads: Path,
                 log: Callable[[str], None], home: Path, java: Java) -> tuple[Path | None, str]:
    """The LTR plugin to install: the zip given, else the official one when the Maven
    repositories serve it, else ltrr's own (``plugin/``) built from source."""
    if ltr_source == "none":
        return None, "not installed (--ltr-plugin none)"
    if ltr_source:
        return _local_or_url(ltr_source, downloads), f"installed from {ltr_source}"
    try:
        return maven.fetch(dist.ltr_plugin, downloads), f"official, installed from {dist.ltr_plugin}"
    except maven.ArtifactNotFound as exc:
        official_missing = exc.message
    if dist.version != PINNED_VERSION or not plugin_sources_available():
        log(f"warning: {official_missing}; the node will run WITHOUT Learning to Rank "
            "(give a plugin zip with --ltr-plugin to add it)")
        return None, f"unavailable: {official_missing}"
    log(f"{official_missing}: installing ltrr's own LTR plugin instead")
    built = build_plugin(home, java=java, log=log)
    return built, f"ltrr-ltr, built from {PLUGIN_DIR} ({built.name})"


def _local_or_url(source: str, downloads: Path) -> Path:
    downloads.mkdir(parents=True, exist_ok=True)
    if source.startswith(("http://", "https://")):
        target = downloads / "ltr-plugin.zip"
        try:
            with urllib.request.urlopen(source, timeout=600) as resp, target.open("wb") as fh:  # noqa: S310
                shutil.copyfileobj(resp, fh)
        except (urllib.error.URLError, OSError) as exc:
            raise EngineError(f"cannot download the LTR plugin from {source}: {exc}") from None
        return target
    path = Path(source.removeprefix("file://")).expanduser()
    if not path.is_file():
        raise EngineError(f"LTR plugin zip {str(path)!r} does not exist")
    return path


def _unpack_core(core_zip: Path, work: Path) -> Path:
    try:
        with zipfile.ZipFile(core_zip) as archive:
            archive.extractall(work / "unpacked")
            modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
    except zipfile.BadZipFile:
        raise EngineError(f"{core_zip.name} is not a valid zip (corrupt download?)",
                          hint="delete it from ~/.m2/repository and run `ltrr engine up` again") from None
    for name, mode in modes.items():  # zipfile drops the executable bits
        if mode & 0o111:
            (work / "unpacked" / name).chmod(mode & 0o777)
    (top,) = [p for p in (work / "unpacked").iterdir() if p.is_dir()]
    return top


def _build_module(node_dir: Path, module: ModuleSpec, dist: Distribution, java: Java,
                  downloads: Path) -> dict[str, str]:
    folder = node_dir / "modules" / module.name
    if folder.exists():
        return {}
    folder.mkdir(parents=True)
    hashes = {}
    for coordinate in module.jars:
        jar = maven.fetch(f"{coordinate}:jar", downloads / module.name, dist.sha256.get(coordinate))
        hashes[coordinate] = maven.sha256(jar)
        shutil.copy2(jar, folder / jar.name)
    # Exactly the keys OpenSearch's PluginInfo knows: an unknown key fails start-up.
    descriptor = {
        "description": f"{module.name} (rebuilt by ltrr from its published jars)",
        "version": dist.version, "name": module.name, "classname": module.classname,
        "java.version": str(dist.java[0]), "opensearch.version": dist.version,
        "extended.plugins": module.extended_plugins, "has.native.controller": "false",
    }
    (folder / "plugin-descriptor.properties").write_text(
        "".join(f"{key}={value}\n" for key, value in descriptor.items()))
    if module.permissions:
        grants = "".join(f"  permission {p};\n" for p in module.permissions)
        (folder / "plugin-security.policy").write_text(f"grant {{\n{grants}}};\n")
    return hashes


def _check_modules(node_dir: Path, dist: Distribution) -> None:
    present = {p.name for p in (node_dir / "modules").iterdir()}
    missing = [m for m in dist.modules if m not in present]
    if missing:
        raise EngineError(f"the OpenSearch {dist.version} distribution lacks module(s) "
                          f"{', '.join(missing)}; this version cannot be launched locally")


def _install_plugin(node_dir: Path, plugin_zip: Path, java: Java) -> None:
    env = {**os.environ, "OPENSEARCH_JAVA_HOME": str(java.home), "JAVA_HOME": str(java.home)}
    proc = subprocess.run(
        [str(node_dir / "bin" / "opensearch-plugin"), "install", "--batch",
         plugin_zip.resolve().as_uri()],
        capture_output=True, text=True, env=env, timeout=600, check=False)
    if proc.returncode != 0:
        last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise EngineError(f"installing plugin {plugin_zip.name} failed: {last[0]}")


def _owned_by_live_process(partial: Path) -> bool:
    try:
        pid = int((partial / "owner.pid").read_text())
    except (OSError, ValueError):
        return False
    return pid != os.getpid() and _alive(pid)


def _make_traversable(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        path.chmod(0o755)
        for parent in path.parents:
            if not os.stat(parent).st_mode & 0o001:
                raise EngineError(
                    f"{parent} is not searchable by other users, so the node's user "
                    f"{SERVICE_USER!r} cannot reach {path}",
                    hint="set LTRR_HOME to a folder outside it, e.g. /var/lib/ltrr")


# ---------------------------------------------------------------- processes


@dataclass
class NodeState:
    port: int
    pid: int
    url: str
    version: str
    dist: str
    started_at: float


@dataclass(frozen=True)
class Peers:
    """How a node of a local multi-node cluster finds the others (instead of single-node)."""

    cluster_name: str
    node_name: str
    seed_hosts: tuple[str, ...]  # every member's transport address
    initial_cluster_managers: tuple[str, ...]  # node names that bootstrap the first election


class LocalNode:
    """One local node, identified by its HTTP port."""

    def __init__(self, port: int = DEFAULT_PORT, home: Path | None = None,
                 data_dir: Path | None = None, peers: Peers | None = None) -> None:
        self.port = port
        self.home = home or engine_home()
        self.dir = self.home / "nodes" / str(port)
        self.data_dir = data_dir or self.dir / "data"
        self.url = f"http://127.0.0.1:{port}"
        self.peers = peers
        self.cluster_name = peers.cluster_name if peers else "ltrr-local"
        self.process: subprocess.Popen | None = None  # set by start() in this process

    @property
    def node_name(self) -> str:
        """The cluster member's name, or the port for a lone node."""
        return self.peers.node_name if self.peers else f"node-{self.port}"

    @property
    def transport_port(self) -> int:
        """HTTP port + 100 (9200 -> 9300), so nodes on distinct HTTP ports never collide."""
        return self.port + 100

    def discovery_args(self) -> list[str]:
        if self.peers is None:
            return ["-Ediscovery.type=single-node"]
        return [f"-Enode.name={self.peers.node_name}",
                f"-Ediscovery.seed_hosts={','.join(self.peers.seed_hosts)}",
                # read only when the cluster first forms; a restart uses the stored state
                "-Ecluster.initial_cluster_manager_nodes="
                + ",".join(self.peers.initial_cluster_managers)]

    @property
    def state_file(self) -> Path:
        return self.dir / "node.json"

    @property
    def console_log(self) -> Path:
        return self.dir / "console.log"

    def state(self) -> NodeState | None:
        try:
            return NodeState(**json.loads(self.state_file.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def running(self) -> NodeState | None:
        state = self.state()
        return state if state and _alive(state.pid) else None

    def start(self, dist_dir: Path, java: Java, heap: str = DEFAULT_HEAP, fresh: bool = False,
              timeout: float = 180, wait: bool = True) -> NodeState:
        """Start the node; with ``wait``, return once its cluster is yellow (else at once)."""
        if self.running():
            raise EngineError(f"a node is already running on port {self.port}")
        if _port_answers(self.port):
            raise EngineError(f"port {self.port} is already in use by another process",
                              hint="choose another with --port")
        manifest = read_manifest(dist_dir)
        if fresh and self.data_dir.exists():
            shutil.rmtree(self.data_dir)
        for folder in (self.dir, self.data_dir, self.dir / "logs"):
            folder.mkdir(parents=True, exist_ok=True)

        cmd = [str(dist_dir / "bin" / "opensearch"),
               *self.discovery_args(),
               "-Enetwork.host=127.0.0.1",  # loopback keeps production bootstrap checks off
               f"-Ehttp.port={self.port}",
               # its own transport port: the default range would collide with another local node
               f"-Etransport.port={self.transport_port}",
               f"-Epath.data={self.data_dir}",
               f"-Epath.logs={self.dir / 'logs'}",
               f"-Ecluster.name={self.cluster_name}",
               # a dev node on a nearly full shared disk should not go read-only
               "-Ecluster.routing.allocation.disk.threshold_enabled=false"]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "OPENSEARCH_JAVA_HOME": str(java.home),
               "OPENSEARCH_JAVA_OPTS": f"-Xms{heap} -Xmx{heap}",
               "HOME": str(self.dir), "LANG": "C.UTF-8"}
        user_kwargs: dict[str, Any] = {}
        if os.geteuid() == 0:
            account = ensure_service_user()
            _chown_tree(dist_dir, account)
            _chown_tree(self.dir, account)
            _chown_tree(self.data_dir, account)
            user_kwargs = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}

        with self.console_log.open("ab") as console:
            proc = subprocess.Popen(cmd, cwd=str(dist_dir), env=env, stdout=console,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True, **user_kwargs)
        state = NodeState(self.port, proc.pid, self.url, manifest["version"], str(dist_dir),
                          time.time())
        self.state_file.write_text(json.dumps(asdict(state)))
        self.process = proc
        if wait:
            self._wait_until_ready(proc, timeout)
        return state

    def _wait_until_ready(self, proc: subprocess.Popen, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise EngineError(f"the node exited during start-up (code {proc.returncode}):\n"
                                  + self.tail(15), hint=f"full log: {self.console_log}")
            if _health_yellow(self.port):
                return
            time.sleep(1)
        self.stop()
        raise EngineError(f"the node did not answer within {timeout:.0f}s:\n" + self.tail(15),
                          hint="try a larger --timeout, or check the log with `ltrr engine logs`")

    def stop(self, timeout: float = 60) -> bool:
        """Stop the node (SIGTERM, then SIGKILL after ``timeout``); False if none ran."""
        state = self.running()
        if not state:
            self.state_file.unlink(missing_ok=True)
            return False
        _signal_group(state.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(state.pid) and time.monotonic() < deadline:
            time.sleep(0.5)
        if _alive(state.pid):
            _signal_group(state.pid, signal.SIGKILL)
            time.sleep(1)
        self.state_file.unlink(missing_ok=True)
        return True

    def resident_memory_mb(self) -> float | None:
        state = self.running()
        return _group_rss_mb(state.pid) if state else None

    def log_file(self) -> Path:
        main_log = self.dir / "logs" / f"{self.cluster_name}.log"
        return main_log if main_log.exists() else self.console_log

    def failure(self, lines: int = 8) -> str:
        """Why the process died: the last lines it printed, without stack frames and launcher
        warnings (the JVM's own errors and ``Likely root cause`` are there, not in the log)."""
        kept = [line for line in _read_tail(self.console_log).splitlines()
                if line.strip() and not line.startswith(("\tat ", "\t..."))
                and "no-jdk distributions" not in line]
        return "\n".join(kept[-lines:]) if kept else self.tail(lines)

    def tail(self, lines: int = 50) -> str:
        path = self.log_file()
        if not path.exists():
            return "(no log yet)"
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 200_000))
            text = fh.read().decode("utf-8", "replace")
        return "\n".join(text.splitlines()[-lines:])


class LocalCluster:
    """N local nodes forming one cluster on loopback: HTTP ports P..P+N-1, transport ports
    P+100..P+100+N-1, one folder per node (``nodes/<port>/``), every node cluster-manager
    eligible and a data node. ``clusters/<P>.json`` records the group, so ``status``, ``down``
    and ``logs`` on port P act on all of it."""

    def __init__(self, port: int, size: int, home: Path | None = None,
                 data_dir: Path | None = None) -> None:
        if not 2 <= size <= MAX_LOCAL_NODES:
            raise EngineError(f"a local cluster has 2 to {MAX_LOCAL_NODES} nodes, not {size}")
        self.port = port
        self.size = size
        self.home = home or engine_home()
        self.name = f"ltrr-cluster-{port}"
        self.data_dir = data_dir  # each node's data in <data_dir>/<port>; None: in its folder
        ports = [port + i for i in range(size)]
        names = tuple(f"ltrr-{p}" for p in ports)
        seeds = tuple(f"127.0.0.1:{p + 100}" for p in ports)
        self.nodes = [LocalNode(p, self.home, data_dir / str(p) if data_dir else None,
                                Peers(self.name, name, seeds, names))
                      for p, name in zip(ports, names, strict=True)]
        self.url = self.nodes[0].url

    @staticmethod
    def state_path(port: int, home: Path | None = None) -> Path:
        return (home or engine_home()) / "clusters" / f"{port}.json"

    @property
    def state_file(self) -> Path:
        return self.state_path(self.port, self.home)

    @classmethod
    def load(cls, port: int, home: Path | None = None) -> LocalCluster | None:
        """The cluster recorded at ``port``, running or not; None if none was started there."""
        try:
            recorded = json.loads(cls.state_path(port, home).read_text())
            data_dir = Path(recorded["data_dir"]) if recorded.get("data_dir") else None
            return cls(port, int(recorded["size"]), home, data_dir)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def running(self) -> list[NodeState]:
        return [state for node in self.nodes if (state := node.running())]

    def busy_ports(self) -> list[str]:
        """Ports of this cluster something else already listens on, named by their role."""
        busy = []
        for node in self.nodes:
            for kind, port in (("HTTP", node.port), ("transport", node.transport_port)):
                if _port_answers(port):
                    busy.append(f"{port} ({kind}, node {node.node_name})")
        return busy

    def check_ports(self) -> None:
        busy = self.busy_ports()
        if busy:
            raise EngineError("port(s) already in use by another process: " + ", ".join(busy),
                              hint="choose another base port with --port (this cluster uses "
                                   f"{self.port}-{self.port + self.size - 1} and "
                                   f"{self.port + 100}-{self.port + 100 + self.size - 1})")

    def start(self, dist_dir: Path, java: Java, heap: str = CLUSTER_HEAP, fresh: bool = False,
              timeout: float = 300) -> list[NodeState]:
        """Start every node, then wait until the cluster is yellow or green with all of them.
        A node that exits, or a cluster that does not form in time, stops the whole group."""
        if self.running():
            raise EngineError(f"nodes of the cluster on port {self.port} are already running",
                              hint="stop them with `ltrr engine down --port "
                                   f"{self.port}`")
        self.check_ports()
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(json.dumps({
            "name": self.name, "size": self.size, "heap": heap, "started_at": time.time(),
            "ports": [n.port for n in self.nodes],
            "transport_ports": [n.transport_port for n in self.nodes],
            "data_dir": str(self.data_dir) if self.data_dir else None}))
        states = []
        try:
            _ensure_keystore(dist_dir, java)
            for node in self.nodes:
                states.append(node.start(dist_dir, java, heap=heap, fresh=fresh, wait=False))
            self._wait_until_formed(timeout)
        except BaseException:
            self.stop()
            raise
        return states

    def _wait_until_formed(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for node in self.nodes:
                proc = node.process
                if proc is not None and proc.poll() is not None:
                    raise EngineError(
                        f"node {node.node_name} (port {node.port}) exited during start-up "
                        f"(code {proc.returncode}):\n" + node.failure(),
                        hint=f"full log: {node.log_file()}; the other nodes were stopped")
            # Formed, and every node serves HTTP: a node joins over transport before its
            # HTTP port is bound, so "3 nodes" from one node's health is not yet enough.
            if self.health(wait_for_nodes=True) and all(
                    http_get_json(f"{node.url}/", timeout=3) for node in self.nodes):
                return
            time.sleep(1)
        tails = "\n".join(f"--- {n.node_name}:\n{n.tail(5)}" for n in self.nodes)
        raise EngineError(f"the {self.size}-node cluster did not form within {timeout:.0f}s:\n"
                          + tails, hint="try a larger --timeout; the nodes were stopped")

    def health(self, wait_for_nodes: bool = False) -> dict | None:
        """``_cluster/health`` from the first node that answers; with ``wait_for_nodes``, only
        once every node has joined and the cluster is yellow or green (else None)."""
        query = (f"?wait_for_nodes={self.size}&wait_for_status=yellow&timeout=1s"
                 if wait_for_nodes else "")
        for node in self.nodes:
            health = http_get_json(f"{node.url}/_cluster/health{query}", timeout=3)
            if health:
                ready = health.get("status") in ("yellow", "green") and \
                    health.get("number_of_nodes") == self.size
                return health if ready or not wait_for_nodes else None
        return None

    def stop(self, timeout: float = 60) -> int:
        """Stop every node (the last one first); return how many were running."""
        stopped = sum(node.stop(timeout) for node in reversed(self.nodes))
        self.state_file.unlink(missing_ok=True)
        return stopped


def _ensure_keystore(dist_dir: Path, java: Java) -> None:
    """Nodes sharing one distribution share its config folder; each would create the missing
    keystore there at once and all but one fail (FileAlreadyExistsException), so make it first."""
    if (dist_dir / "config" / "opensearch.keystore").exists():
        return
    env = {**os.environ, "OPENSEARCH_JAVA_HOME": str(java.home)}
    proc = subprocess.run([str(dist_dir / "bin" / "opensearch-keystore"), "create"],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    if proc.returncode != 0:
        last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise EngineError(f"creating the node keystore in {dist_dir / 'config'} failed: {last[0]}")


def _read_tail(path: Path, size: int = 200_000) -> str:
    if not path.exists():
        return ""
    with path.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        fh.seek(max(0, fh.tell() - size))
        return fh.read().decode("utf-8", "replace")


def ensure_service_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        pass
    proc = subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                           "--shell", "/usr/sbin/nologin", SERVICE_USER],
                          capture_output=True, text=True, check=False)
    if proc.returncode not in (0, 9):  # 9: created concurrently
        raise EngineError(f"cannot create the system user {SERVICE_USER!r}: {proc.stderr.strip()}",
                          hint="OpenSearch refuses to run as root; create the user or run as non-root")
    return pwd.getpwnam(SERVICE_USER)


def _chown_tree(path: Path, account: pwd.struct_passwd) -> None:
    os.chown(path, account.pw_uid, account.pw_gid)
    for root, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            os.lchown(os.path.join(root, name), account.pw_uid, account.pw_gid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not alive
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _group_rss_mb(pgid: int) -> float:
    total_kb = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(") ", 1)[1].split()
            if int(fields[2]) != pgid:  # field 5 of /proc/pid/stat: process group
                continue
            for line in (stat.parent / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total_kb / 1024


def http_get_json(url: str, timeout: float = 2) -> dict | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - loopback only
            return json.loads(resp.read())
    except (OSError, ValueError):
        return None


def _port_answers(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _health_yellow(port: int) -> bool:
    health = http_get_json(
        f"http://127.0.0.1:{port}/_cluster/health?wait_for_status=yellow&timeout=1s", timeout=3)
    return health is not None and health.get("status") in ("yellow", "green")
