"""The one place an OpenSearch client is made.

Credentials travel only in ``http_auth``; host URLs never carry ``user:pw@`` (Settings
strips them), so opensearch-py's logs and our error messages never carry a secret.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy import exceptions as os_exc

from ltrr_opensearch.config import Settings
from ltrr_opensearch.engine.serializer import OrjsonSerializer
from ltrr_opensearch.errors import ClusterUnreachable, LtrrError

logger = logging.getLogger(__name__)


def make_client(settings: Settings, **options: Any) -> OpenSearch:
    """An opensearch-py client configured from ``settings`` (auth, TLS, timeouts, retries);
    ``options`` go to the client as given (e.g. ``pool_maxsize`` for a threaded server)."""
    hosts = list(settings.urls)  # already free of credentials (see Settings.__post_init__)
    user = settings.user
    password = settings.password.reveal() if settings.password else None

    kwargs: dict[str, Any] = {
        "hosts": hosts,
        "timeout": settings.timeout,
        "max_retries": settings.max_retries,
        "retry_on_timeout": True,
        "http_compress": False,
        "serializer": OrjsonSerializer(),  # the stdlib json encoder was on the search path
    }
    if user:
        kwargs["http_auth"] = (user, password or "")
    if any(h.startswith("https://") for h in hosts):
        kwargs["use_ssl"] = True
        kwargs["verify_certs"] = settings.verify_certs
        kwargs["ssl_show_warn"] = settings.verify_certs
        if settings.ca_certs:
            kwargs["ca_certs"] = settings.ca_certs
    kwargs.update(options)
    # URLs as displayed (no credentials); the password is never formatted anywhere.
    logger.debug("OpenSearch client for %s (basic auth: %s, TLS verify: %s, timeout %ss, "
                 "retries %d)", settings.display_urls, "yes" if user else "no",
                 kwargs.get("verify_certs", "n/a"), settings.timeout, settings.max_retries)
    return OpenSearch(**kwargs)


UNREACHABLE_HINT = "start a local node with `ltrr engine up`, or set LTRR_OPENSEARCH_URL / --url"


def unreachable(settings: Settings, doing: str | None = None, reason: str | None = None,
                hint: str = UNREACHABLE_HINT) -> ClusterUnreachable:
    """The one "cannot reach OpenSearch" error: the (redacted) URLs, what we were doing, why."""
    text = f"cannot reach OpenSearch at {settings.display_urls}"
    if doing:
        text += f" while {doing}"
    if reason:
        text += f": {reason}"
    return ClusterUnreachable(text, hint=hint)


def cluster_info(client: OpenSearch, settings: Settings) -> dict[str, Any]:
    """``GET /`` or a :class:`ClusterUnreachable` that names the (redacted) URL and the fix."""
    try:
        return client.info()
    except os_exc.SSLError as exc:
        raise unreachable(settings, reason=tls_reason(exc, settings), hint=TLS_HINT) from None
    except os_exc.ConnectionError as exc:
        raise unreachable(settings, reason=_short_reason(exc)) from None
    except os_exc.AuthenticationException:
        raise ClusterUnreachable(
            f"OpenSearch at {settings.display_urls} refused the credentials (HTTP 401)",
            hint="check LTRR_OPENSEARCH_USER and LTRR_OPENSEARCH_PASSWORD",
        ) from None
    except os_exc.AuthorizationException:
        raise ClusterUnreachable(
            f"OpenSearch at {settings.display_urls} denied access (HTTP 403)",
            hint="the user needs cluster monitor and index permissions",
        ) from None
    except os_exc.TransportError as exc:
        raise LtrrError(
            f"OpenSearch at {settings.display_urls} answered with an error: {exc.status_code}"
        ) from None


TLS_HINT = ("set LTRR_OPENSEARCH_CA_CERTS (or [opensearch] ca_certs) to the CA bundle that "
            "signed the cluster's certificate")


def tls_reason(exc: Exception, settings: Settings) -> str:
    """Why the TLS handshake failed, naming the CA bundle that did not verify the server."""
    text = str(getattr(exc, "info", None) or exc)
    bundle = f"the CA bundle {settings.ca_certs}" if settings.ca_certs else "the system CAs"
    if "certificate verify failed" in text.lower():
        detail = text.lower().split("certificate verify failed", 1)[1].split(" (_ssl", 1)[0]
        detail = detail.split(")", 1)[0].strip(" :()'\"") or "not trusted"
        return (f"TLS certificate verification failed ({detail}): the server's certificate "
                f"is not signed by {bundle}")
    return f"TLS handshake failed ({type(getattr(exc, 'info', exc)).__name__})"


def _short_reason(exc: Exception) -> str:
    text = str(getattr(exc, "info", None) or exc)
    for marker in ("Connection refused", "timed out", "Name or service not known",
                   "certificate verify failed", "No route to host"):
        if marker.lower() in text.lower():
            return marker.lower()
    return "connection failed"


def error_text(error: Any) -> str:
    """``type: reason`` of the most specific cause OpenSearch gave ("all shards failed" is not)."""
    if isinstance(error, Mapping) and isinstance(error.get("error"), (Mapping, str)):
        error = error["error"]
    if not isinstance(error, Mapping):
        return str(error)
    roots = error.get("root_cause")
    if isinstance(roots, list) and roots and isinstance(roots[0], Mapping):
        error = roots[0]
    text = f"{error.get('type', 'error')}: {error.get('reason', '')}".strip()
    cause = error.get("caused_by")
    if isinstance(cause, Mapping) and cause.get("reason"):
        text += f" (caused by {cause.get('type', 'error')}: {cause['reason']})"
    return text
