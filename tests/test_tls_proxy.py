"""Secured connections for real: TLS and basic auth through nginx (Debian's nginx-light) in
front of the real node, with a CA made here by openssl. The security plugin is not served
here, so the proxy plays its part: it terminates TLS with a certificate signed by our CA and
checks the password against an htpasswd file (apr1 hashes from ``openssl passwd``).

Right CA and password: the catalog is loaded and searched through the pipeline, the CLI and
the service. Wrong CA: an error naming TLS verification. Wrong password: an error naming
the 401. The password (and its base64 ``Authorization`` form) appears nowhere: not in
logs (the CLI with ``--debug``, the service's JSON log), errors, metrics or explanations.

scripts/setup.sh installs nginx-light when it is missing and runs as root with apt-get;
elsewhere the module is skipped, saying so, when nginx is missing.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from ltrr_opensearch.config import Settings
from ltrr_opensearch.engine.client import cluster_info, make_client
from ltrr_opensearch.errors import ClusterUnreachable
from tests.test_service import free_port

pytestmark = pytest.mark.integration

USER = "ltrr-ops"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx")
                                  else None)


def _openssl(*args: str, cwd: Path) -> str:
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True,
                          check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _make_ca(folder: Path, name: str) -> None:
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-keyout", f"{name}.key", "-out", f"{name}.pem", "-subj", f"/CN={name}",
             cwd=folder)


@pytest.fixture(scope="module")
def tls_proxy(tmp_path_factory, base_settings):
    if NGINX is None:
        if os.environ.get("CI") == "true":
            pytest.fail("nginx is missing in CI: scripts/setup.sh installs nginx-light as root")
        pytest.skip("nginx is not installed (apt-get install -y nginx-light; scripts/setup.sh "
                    "does it when run as root)")
    folder = tmp_path_factory.mktemp("tls")
    os.chmod(folder, 0o755)  # nginx workers read the htpasswd file at request time
    _make_ca(folder, "ca")
    _make_ca(folder, "other-ca")
    (folder / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out",
             "server.csr", "-subj", "/CN=127.0.0.1", cwd=folder)
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "san.cnf",
             cwd=folder)
    password = secrets.token_urlsafe(18)
    hashed = _openssl("passwd", "-apr1", password, cwd=folder).strip()
    (folder / "htpasswd").write_text(f"{USER}:{hashed}\n")
    os.chmod(folder / "htpasswd", 0o644)
    upstream = urlsplit(base_settings.urls[0])
    port = free_port()
    user_line = "user root;\n" if os.geteuid() == 0 else ""
    (folder / "nginx.conf").write_text(f"""{user_line}daemon off;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 256; }}
http {{
  access_log {folder}/access.log;
  client_body_temp_path {folder}/body; proxy_temp_path {folder}/proxy;
  fastcgi_temp_path {folder}/fastcgi; uwsgi_temp_path {folder}/uwsgi;
  scgi_temp_path {folder}/scgi;
  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {folder}/server.pem;
    ssl_certificate_key {folder}/server.key;
    auth_basic "ltrr";
    auth_basic_user_file {folder}/htpasswd;
    client_max_body_size 100m;
    location / {{
      proxy_pass http://{upstream.hostname}:{upstream.port};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization "";
    }}
  }}
}}
""")
    proc = subprocess.Popen([NGINX, "-c", str(folder / "nginx.conf"), "-p", str(folder),
                             "-e", str(folder / "error.log")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while True:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"nginx did not start: {proc.stderr.read() if proc.stderr else ''}"
                        f"{(folder / 'error.log').read_text()}")
        time.sleep(0.1)
    try:
        yield {"url": f"https://127.0.0.1:{port}", "password": password,
               "ca": str(folder / "ca.pem"), "other_ca": str(folder / "other-ca.pem")}
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _secured(settings: Settings, proxy: dict, *, ca: str | None = None,
             password: str | None = None) -> Settings:
    return settings.with_overrides(url=proxy["url"], user=USER,
                                   password=password or proxy["password"],
                                   ca_certs=ca or proxy["ca"])


def _secrets(proxy: dict) -> list[str]:
    token = base64.b64encode(f"{USER}:{proxy['password']}".encode()).decode()
    return [proxy["password"], token]


def test_right_ca_and_password_load_and_search_through_the_pipeline(tls_proxy, settings,
                                                                     tmp_path):
    from ltrr_opensearch.catalog.embed import make_embedder
    from ltrr_opensearch.catalog.loader import load_catalog
    from ltrr_opensearch.pipeline import Pipeline
    from tests.test_retrieve import DOCS

    secured = _secured(settings, tls_proxy)
    client = make_client(secured)
    assert cluster_info(client, secured)["version"]["number"]
    path = tmp_path / "catalog.jsonl"
    path.write_text("".join(json.dumps({k: v for k, v in d.items() if k != "embedding"}) + "\n"
                            for d in DOCS))
    load_catalog(client, secured, path, embedder=make_embedder("tfidf"), quiet=True)
    client.indices.refresh(index=secured.catalog_alias)
    response = Pipeline.from_cluster(client, secured).search("love", k=3)
    assert response.shown and not any(r.error for r in response.results)


def test_a_wrong_ca_is_a_clear_tls_verification_error(tls_proxy, settings):
    secured = _secured(settings, tls_proxy, ca=tls_proxy["other_ca"])
    with pytest.raises(ClusterUnreachable) as caught:
        cluster_info(make_client(secured), secured)
    text = str(caught.value)
    assert "TLS certificate verification failed" in text, text
    assert "other-ca.pem" in text  # names the CA bundle that did not verify it
    assert not any(s in text for s in _secrets(tls_proxy))


def test_a_wrong_password_is_a_clear_401(tls_proxy, settings):
    wrong = "not-" + tls_proxy["password"]
    secured = _secured(settings, tls_proxy, password=wrong)
    with pytest.raises(ClusterUnreachable) as caught:
        cluster_info(make_client(secured), secured)
    text = str(caught.value)
    assert "refused the credentials (HTTP 401)" in text, text
    assert wrong not in text and tls_proxy["password"] not in text


def _env(proxy: dict, settings: Settings, password: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "LTRR_CONFIG"}
    env.update(LTRR_OPENSEARCH_URL=proxy["url"], LTRR_OPENSEARCH_USER=USER,
               LTRR_OPENSEARCH_PASSWORD=password or proxy["password"],
               LTRR_OPENSEARCH_CA_CERTS=proxy["ca"], LTRR_INDEX_PREFIX=settings.index_prefix)
    return env


def test_credentials_never_reach_logs_errors_metrics_or_explanations(tls_proxy, settings,
                                                                     tmp_path):
    from tests.test_retrieve import DOCS

    path = tmp_path / "catalog.jsonl"
    path.write_text("".join(json.dumps({k: v for k, v in d.items() if k != "embedding"}) + "\n"
                            for d in DOCS))
    captured: list[str] = []
    cli = [sys.executable, "-m", "ltrr_opensearch.cli", "--debug"]
    for args, password in ((["catalog", "load", str(path), "--embedder", "tfidf"], None),
                           (["search", "love", "--explain", "--json"], None),
                           (["doctor"], None),
                           (["search", "love"], "wrong-" + tls_proxy["password"])):
        done = subprocess.run([*cli, *args], env=_env(tls_proxy, settings, password),
                              capture_output=True, text=True, timeout=300, check=False)
        assert (done.returncode == 0) == (password is None) or args == ["doctor"], done.stderr
        captured += [done.stdout, done.stderr]
    assert "refused the credentials (HTTP 401)" in captured[-1]

    port = free_port()
    server = subprocess.Popen([*cli, "serve", "--port", str(port), "--no-bandit"],
                              env=_env(tls_proxy, settings), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as api:
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if api.get("/ready").status_code == 200:
                        break
                assert server.poll() is None and time.monotonic() < deadline, "not ready"
                time.sleep(0.2)
            answer = api.post("/search", json={"query": "love", "explain": True})
            assert answer.status_code == 200, answer.text
            captured += [answer.text, api.get("/metrics").text, api.get("/ready").text,
                         api.post("/search", json={"query": ""}).text]
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=30)
    captured += [out, err]
    assert '"path": "/search"' in err  # the service's request log was captured
    text = "\n".join(captured)
    assert "ltrr_http_request_seconds" in text and "timings_ms" in text
    leaks = [s for s in _secrets(tls_proxy) if s in text]
    assert not leaks, "a credential appeared in captured output"
