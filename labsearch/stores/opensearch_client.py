"""The opensearch-py client built from settings, and its errors translated into ours."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlparse

from opensearchpy import AWSV4SignerAuth, OpenSearch, RequestsHttpConnection
from opensearchpy import exceptions as os_errors

from labsearch.errors import ConfigError, LabsearchError, StoreUnavailableError
from labsearch.settings import Settings

# Statuses worth another try: overload (429) and node trouble (502-504).
RETRYABLE_STATUS = frozenset({429, 502, 503, 504})
POOL_SIZE = 16  # connections kept open per node


def hosts(settings: Settings) -> list[str]:
    """`LABSEARCH_OPENSEARCH_URL` may list several nodes, comma-separated."""
    urls = [url.strip() for url in settings.opensearch_url.split(",") if url.strip()]
    if not urls:
        raise ConfigError("LABSEARCH_OPENSEARCH_URL is empty; e.g. http://127.0.0.1:9200")
    return urls


def _loopback(url: str) -> bool:
    host = urlparse(url if "://" in url else f"http://{url}").hostname or ""
    return host in ("localhost", "127.0.0.1", "::1")


def build_client(settings: Settings) -> OpenSearch:
    """A client for the configured cluster: basic auth, TLS verification, or AWS SigV4."""
    options: dict[str, Any] = {
        "hosts": hosts(settings),
        "timeout": 30,
        # Connection errors are retried by the client once (another node, if any); longer
        # outages surface as StoreUnavailableError, and bulk writes retry with backoff.
        "max_retries": 1,
        "retry_on_timeout": False,
        # One connection per thread that may call at once: a rebuild's background bulk
        # requests and the API's concurrent searches (urllib3 keeps one by default and
        # reconnects for every other).
        "pool_maxsize": POOL_SIZE,
        "verify_certs": settings.opensearch_verify_certs,
        "ssl_show_warn": settings.opensearch_verify_certs,
        # gzip pays over a network; to a node on this machine it only costs (a quarter of a
        # bulk load's time, measured with bench/opensearch_bulk.py).
        "http_compress": not all(_loopback(url) for url in hosts(settings)),
    }
    if settings.opensearch_aws_region:
        options["http_auth"] = aws_auth(settings)
        # The SigV4 signer is a requests auth hook, so requests carries the calls.
        options["connection_class"] = RequestsHttpConnection
    elif settings.opensearch_user:
        password = settings.opensearch_password
        options["http_auth"] = (
            settings.opensearch_user,
            password.get_secret_value() if password else "",
        )
    return OpenSearch(**options)


def aws_auth(settings: Settings) -> AWSV4SignerAuth:
    """SigV4 for Amazon OpenSearch Service (`es`) or Serverless (`aoss`), with the credentials
    boto3 finds (environment, profile, instance role)."""
    import boto3

    credentials = boto3.Session().get_credentials()
    if credentials is None:
        raise ConfigError(
            "LABSEARCH_OPENSEARCH_AWS_REGION is set but no AWS credentials were found; set "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run with an IAM role."
        )
    return AWSV4SignerAuth(
        credentials, settings.opensearch_aws_region, settings.opensearch_aws_service
    )


@contextmanager
def translated_errors(url: str, what: str) -> Iterator[None]:
    """Raise client failures as labsearch errors that say what to do."""
    try:
        yield
    except (os_errors.ConnectionError, os_errors.ConnectionTimeout) as exc:
        raise StoreUnavailableError(
            f"OpenSearch at {url} cannot be reached while {what} ({exc.__class__.__name__}: "
            f"{exc.error if hasattr(exc, 'error') else exc}). Start the node "
            "(scripts/opensearch-node start) or check LABSEARCH_OPENSEARCH_URL."
        ) from exc
    except (os_errors.AuthenticationException, os_errors.AuthorizationException) as exc:
        raise ConfigError(
            f"OpenSearch at {url} refused our credentials while {what} ({exc.status_code}); "
            "check LABSEARCH_OPENSEARCH_USER/PASSWORD or the AWS role's access policy."
        ) from exc
    except os_errors.NotFoundError as exc:
        raise StoreUnavailableError(
            f"OpenSearch at {url}: the index is missing while {what} ({reason(exc)}); "
            "it may have been deleted: run `labsearch index --rebuild SOURCE...`."
        ) from exc
    except os_errors.TransportError as exc:
        if isinstance(exc.status_code, int) and exc.status_code in RETRYABLE_STATUS:
            raise StoreUnavailableError(
                f"OpenSearch at {url} is overloaded or unavailable while {what} "
                f"({exc.status_code}: {reason(exc)}); try again shortly."
            ) from exc
        raise LabsearchError(
            f"OpenSearch at {url} rejected a request while {what} "
            f"({exc.status_code}: {reason(exc)})"
        ) from exc


def reason(exc: os_errors.TransportError) -> str:
    info = exc.info if isinstance(exc.info, dict) else {}
    error = info.get("error")
    if isinstance(error, dict):
        root = (error.get("root_cause") or [{}])[0]
        return str(root.get("reason") or error.get("reason") or error)
    return str(exc.error)


PAGE = 1000  # documents per page when reading everything in id order


def pages_by_id(
    client: OpenSearch,
    url: str,
    index: str,
    query: dict[str, Any],
    fields: list[str] | bool,
    what: str,
    limit: int | None = None,
) -> Iterator[list[dict[str, Any]]]:
    """The hits of `query` in id order, a page at a time, paged with search_after (no
    10,000-hit window); at most `limit` hits in all. `what` names the work in errors."""
    seen = 0
    after: list[Any] | None = None
    while limit is None or seen < limit:
        size = PAGE if limit is None else min(PAGE, limit - seen)
        body: dict[str, Any] = {
            "query": query,
            "size": size,
            "sort": [{"id": "asc"}],
            "_source": fields,
            "track_total_hits": False,
        }
        if after is not None:
            body["search_after"] = after
        with translated_errors(url, what):
            page = client.search(index=index, body=body)["hits"]["hits"]
        if page:
            yield page
        seen += len(page)
        if len(page) < size:
            return
        after = page[-1]["sort"]
