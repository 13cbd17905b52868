"""One small exception hierarchy. Each error carries the HTTP status the API answers with, and a
message that says what went wrong and what to do about it."""

from __future__ import annotations


class LabsearchError(Exception):
    """Base class: anything labsearch raises on purpose."""

    status: int = 500


class ConfigError(LabsearchError):
    """A setting is missing or wrong."""

    status = 500


class InvalidRequestError(LabsearchError):
    status = 400


class QueryTooExpensiveError(InvalidRequestError):
    """A read ran past the store's time budget and was stopped."""


class RequestCancelledError(LabsearchError):
    """The client went away before its answer was ready, so the work was stopped."""

    status = 499  # "client closed request": nobody reads it, but logs and tests see it


class InvalidFilterError(InvalidRequestError):
    """A filter does not follow the grammar in labsearch/filters.py."""


class SourceError(LabsearchError):
    """A source URI cannot be read at all (unknown scheme, missing directory, no access)."""

    status = 400


class ModelMismatchError(LabsearchError):
    """The index was built with another embedding model than the one configured."""

    status = 503

    def __init__(self, index_model: str, index_dim: int, model: str, dim: int) -> None:
        self.index_model, self.index_dim, self.model, self.dim = index_model, index_dim, model, dim
        super().__init__(
            f"the index was built with embedding model {index_model!r} ({index_dim} dimensions) "
            f"but labsearch is configured with {model!r} ({dim} dimensions). Set LABSEARCH_MODEL="
            f"{index_model!r} to use this index, or rebuild it for the new model with "
            "`labsearch index --rebuild SOURCE...`."
        )


class IndexLockedError(LabsearchError):
    """Another `labsearch index` is writing to the same store."""

    status = 409


class WriterBusyError(LabsearchError):
    """Another writer holds what a push would write (a rebuild, a sync of that source): try
    again shortly. The API answers 503 with Retry-After."""

    status = 503
    retry_after_seconds = 5


class StoreUnavailableError(LabsearchError):
    """The search backend cannot be reached (e.g. the OpenSearch node is down)."""

    status = 503


class NotFoundError(LabsearchError):
    """Missing, or not visible to the caller: both look the same from outside."""

    status = 404


class AuthError(LabsearchError):
    status = 401


class ForbiddenError(LabsearchError):
    status = 403


class RateLimitedError(LabsearchError):
    """Too many requests (or failed sign-ins); the API answers 429 with Retry-After."""

    status = 429

    def __init__(self, message: str, retry_after_seconds: int | None = None) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class LLMError(LabsearchError):
    """The language model backend failed or is not configured."""

    status = 502
