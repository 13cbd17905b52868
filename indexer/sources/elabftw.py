"""eLabFTW experiments and resources through its REST API v2: `elabftw+https://host[/prefix]`.

Shapes follow eLabFTW's published OpenAPI spec (apidoc/v2/openapi.yaml): `GET /api/v2/experiments`
and `GET /api/v2/items` list entities page by page (`limit`, `offset`); only `GET
/api/v2/{experiments|items}/{id}` returns an entity's links (`items_links`, `experiments_links`),
uploads and share link, so each listed entity is read once more in full. The API key goes in the
`Authorization` header, from `LABSEARCH_ELABFTW_API_KEY`; TLS verification follows
`LABSEARCH_ELABFTW_VERIFY_TLS`. `elabftw+http://` exists for tests against a local server.

Access: eLabFTW permissions are not copied; the settings' `access_rules` decide, matched against
the source URI and `{source URI}/team/{team id}` (so a rule can give one team's entries to one
group). Nothing matching means only the local operator sees them (fail closed).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlparse

import requests
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from indexer.access import resolve_groups
from indexer.sources._content import describe, normalize
from indexer.sources.base import Part, SourceIssue
from indexer.sources.eln import PackageRef, iso_date
from labsearch import identifiers as ids
from labsearch.errors import SourceError
from labsearch.schema import Asset, AssetKind, Entity, Link, LinkType, Provenance
from labsearch.settings import Settings

ENTITY_TYPES = ("experiments", "items")
# Resource categories that hold samples (eLabFTW resources are also instruments, reagents...).
_SAMPLE_CATEGORY = re.compile(r"sample|specimen|strain|cell line|biopsy|tissue", re.IGNORECASE)
TIMEOUT_SECONDS = 30
FULL_READ_WORKERS = 4


class ElabLink(BaseModel):
    """`link` in the spec: a row of items_links / experiments_links."""

    model_config = ConfigDict(extra="allow")

    entityid: int
    title: str | None = None
    category_title: str | None = None
    page: str | None = None
    type: str | None = None


class ElabUpload(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: int | None = None
    real_name: str | None = None
    comment: str | None = None
    filesize: int | None = None
    hash: str | None = None


class ElabEntity(BaseModel):
    """`experiment` / `item` in the spec; only what labsearch reads is declared."""

    model_config = ConfigDict(extra="allow")

    id: int
    title: str | None = None
    body: str | None = None
    content_type: int | None = None
    date: str | None = None
    created_at: str | None = None
    modified_at: str | None = None
    category: int | None = None
    category_title: str | None = None
    status_title: str | None = None
    tags: str | None = None
    fullname: str | None = None
    metadata: str | dict[str, Any] | None = None
    team: int | None = None
    userid: int | None = None
    elabid: str | None = None
    custom_id: int | None = None
    rating: int | None = None
    sharelink: str | None = None
    items_links: list[ElabLink] = Field(default_factory=list)
    experiments_links: list[ElabLink] = Field(default_factory=list)
    uploads: list[ElabUpload] = Field(default_factory=list)


class _TextFromHtml(HTMLParser):
    """Visible text of an HTML body, one line per block element."""

    BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "table"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _TextFromHtml()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


def parse_timestamp(value: str | None) -> datetime | None:
    """eLabFTW writes `2024-03-01 09:30:00` (server time, taken as UTC) or ISO 8601."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def entity_date(value: str | None) -> str | None:
    """The entity's `date`: `2024-03-01`, or `20240301` in older eLabFTW versions."""
    if not value:
        return None
    text = value.strip()
    if re.fullmatch(r"\d{8}", text):
        text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return iso_date(text)


class ElabFTWSource:
    """Assets for the experiments and resources (items) an eLabFTW API key can read."""

    def __init__(self, uri: str, settings: Settings, page_size: int = 100) -> None:
        self.uri = uri
        self.settings = settings
        self.page_size = page_size
        parsed = urlparse(uri)
        if parsed.scheme not in ("elabftw+https", "elabftw+http") or not parsed.netloc:
            raise SourceError(
                f"{uri!r} is not an eLabFTW source; write elabftw+https://host (optionally with "
                "the path eLabFTW is served under)"
            )
        self.host = parsed.netloc
        self.base_url = f"{parsed.scheme.removeprefix('elabftw+')}://{parsed.netloc}"
        self.base_url += parsed.path.rstrip("/")
        self.api_url = f"{self.base_url}/api/v2"

    def asset_id(self, entity_type: str, entity_id: int | str) -> str:
        return f"elabftw:{self.host}:{entity_type}:{entity_id}"

    # -- HTTP --------------------------------------------------------------------------------

    def _session(self) -> requests.Session:
        key = self.settings.elabftw_api_key
        if key is None or not key.get_secret_value().strip():
            raise SourceError(
                f"{self.uri}: no eLabFTW API key; create one in eLabFTW (user panel, API keys, "
                "read-only is enough) and set LABSEARCH_ELABFTW_API_KEY"
            )
        session = requests.Session()
        session.headers.update(
            {"Authorization": key.get_secret_value().strip(), "Accept": "application/json"}
        )
        session.verify = self.settings.elabftw_verify_tls
        return session

    def _get(
        self,
        session: requests.Session,
        path: str,
        params: dict[str, Any] | None = None,
        fatal: tuple[int, ...] = (401, 403),
    ) -> requests.Response:
        """GET an API path; `fatal` statuses (a refused key) end the scan with a SourceError."""
        url = f"{self.api_url}/{path}"
        try:
            response = session.get(url, params=params, timeout=TIMEOUT_SECONDS)
        except requests.exceptions.SSLError as exc:
            raise SourceError(
                f"{self.uri}: TLS verification of {self.host} failed ({exc}); install the "
                "server's CA certificate, or set LABSEARCH_ELABFTW_VERIFY_TLS=false for a "
                "test server"
            ) from exc
        except requests.RequestException as exc:
            raise SourceError(f"{self.uri}: cannot reach eLabFTW at {url}: {exc}") from exc
        if response.status_code in fatal:
            raise SourceError(
                f"{self.uri}: eLabFTW refused the API key ({response.status_code}: "
                f"{self._error_text(response)}); set LABSEARCH_ELABFTW_API_KEY to a valid key "
                "of a user who can read the entries"
            )
        return response

    @staticmethod
    def _error_text(response: requests.Response) -> str:
        """The spec's Error object (`code`, `message`, `description`), or the raw body."""
        try:
            body = response.json()
        except ValueError:
            return response.text.strip()[:200] or response.reason
        if isinstance(body, dict):
            parts = [str(body.get(k) or "").strip() for k in ("message", "description")]
            return ": ".join(p for p in parts if p) or response.reason
        return response.reason

    def _json(self, response: requests.Response, what: str) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise SourceError(
                f"{self.uri}: {what} did not answer JSON (HTTP {response.status_code}); is "
                f"{self.base_url} an eLabFTW server?"
            ) from exc

    def _pages(
        self, session: requests.Session, entity_type: str, extra: dict[str, str] | None = None
    ) -> Iterator[list[Any]]:
        """Every entity of a type, page by page, until an empty page ends the listing."""
        offset = 0
        seen: set[str] = set()
        while True:
            params = {"limit": self.page_size, "offset": offset, "scope": 3, **(extra or {})}
            response = self._get(session, entity_type, params)
            if response.status_code != 200:
                raise SourceError(
                    f"{self.uri}: listing {entity_type} failed (HTTP {response.status_code}: "
                    f"{self._error_text(response)})"
                )
            page = self._json(response, f"GET /api/v2/{entity_type}")
            if not isinstance(page, list):
                raise SourceError(
                    f"{self.uri}: GET /api/v2/{entity_type} returned {type(page).__name__}, "
                    "expected a list of entities (eLabFTW API v2)"
                )
            # repr: a broken server may send an id that is a list or an object (unhashable);
            # such an entry is reported later, it must not stop the listing here.
            new = [e for e in page if not (isinstance(e, dict) and repr(e.get("id")) in seen)]
            seen.update(repr(e.get("id")) for e in new if isinstance(e, dict))
            if new:
                yield new
            # Stop at the first empty page rather than a short one: a server or proxy that caps
            # `limit` lower than asked must not end the listing early. A server that ignores
            # `offset` would repeat the first page forever, hence the check for new ids.
            if not page or not new:
                return
            offset += len(page)

    def changed_since(self, since: datetime | None) -> tuple[list[str], datetime | None]:
        """Entries modified after `since` ("experiments:12", ...) and the newest modification
        time seen (the next poll's `since`). Listings are asked newest change first, so a poll
        reads one page when nothing changed; a server that ignores the order is read to the end.
        Deleted entries leave no trace here: the periodic full scan removes them."""
        changed: list[str] = []
        newest = since
        with self._session() as session:
            for entity_type in ENTITY_TYPES:
                extra = {"order": "lastchange", "sort": "desc"}
                for page in self._pages(session, entity_type, extra):
                    times = [parse_timestamp(e.get("modified_at")) for e in page]
                    for entity, when in zip(page, times, strict=True):
                        # `>=`: times have whole seconds, and an entry changed in the same
                        # second as the last poll must not be missed (re-reading it is cheap).
                        if since is None or when is None or when >= since:
                            changed.append(f"{entity_type}:{entity.get('id')}")
                        if when is not None and (newest is None or when > newest):
                            newest = when
                    ordered = all(
                        a is not None and b is not None and a >= b
                        for a, b in zip(times, times[1:], strict=False)
                    )
                    last = times[-1] if times else None
                    if since is not None and ordered and last is not None and last < since:
                        break
        return changed, newest

    def scan_part(self, keys: Sequence[str]) -> Part:
        """The entries `keys` name ("experiments:12"), read in full now; one that is gone (404)
        drops its asset."""
        wanted: list[tuple[str, int]] = []
        for key in dict.fromkeys(keys):
            entity_type, _, number = key.partition(":")
            if entity_type in ENTITY_TYPES and number.isdigit():
                wanted.append((entity_type, int(number)))
        roots = [self.asset_id(entity_type, number) for entity_type, number in wanted]

        def items() -> Iterator[Asset | SourceIssue]:
            with self._session() as session:
                for entity_type, number in wanted:
                    full, failure = self._read_full(session, entity_type, number)
                    if full is not None:
                        yield from self._entity(entity_type, full, full, None)
                    elif failure and "HTTP 404" not in failure:
                        yield SourceIssue(
                            self.uri,
                            f"/api/v2/{entity_type}/{number}",
                            failure,
                            keep=self.asset_id(entity_type, number),
                        )

        return Part(roots, items())

    def _read_full(
        self, session: requests.Session, entity_type: str, entity_id: int
    ) -> tuple[dict[str, Any] | None, str | None]:
        """The full entity (links, uploads, share link), or why it could not be read."""
        # 403 on one entry (its permissions changed since the listing) skips only its details
        response = self._get(session, f"{entity_type}/{entity_id}", fatal=(401,))
        if response.status_code == 200:
            full = self._json(response, f"GET /api/v2/{entity_type}/{entity_id}")
            if isinstance(full, dict):
                return full, None
            return None, f"full read returned {type(full).__name__}, not an entity"
        return None, f"full read failed (HTTP {response.status_code}: {self._error_text(response)})"

    # -- scan --------------------------------------------------------------------------------

    def scan(self) -> Iterator[Asset | SourceIssue]:
        session = self._session()
        # Full reads are one request per entry: a few in parallel keep large ELNs quick
        # without hammering the server (requests' connection pool is thread-safe).
        with session, ThreadPoolExecutor(max_workers=FULL_READ_WORKERS) as pool:
            for entity_type in ENTITY_TYPES:
                for page in self._pages(session, entity_type):
                    valid: list[dict[str, Any]] = []
                    for listed in page:
                        if isinstance(listed, dict) and isinstance(listed.get("id"), int):
                            valid.append(listed)
                        else:
                            yield SourceIssue(
                                self.uri,
                                f"/api/v2/{entity_type}",
                                f"entry without an integer id: {listed!r:.80}",
                            )
                    read = partial(self._read_full, session, entity_type)
                    reads = pool.map(read, [listed["id"] for listed in valid])
                    for listed, (full, failure) in zip(valid, reads, strict=True):
                        yield from self._entity(entity_type, listed, full, failure)

    def _entity(
        self,
        entity_type: str,
        listed: dict[str, Any],
        full: dict[str, Any] | None,
        failure: str | None,
    ) -> Iterator[Asset | SourceIssue]:
        location = f"/api/v2/{entity_type}/{listed['id']}"
        data = {**listed, **(full or {})}
        errors: list[str] = []
        if failure:
            # The listing alone still makes a useful asset; say what is missing and why.
            errors.append(f"{failure}; links and attachments are missing")
            yield SourceIssue(self.uri, location, failure)
        try:
            entity = ElabEntity.model_validate(data)
        except ValidationError as exc:
            for item in exc.errors():
                field = ".".join(str(p) for p in item["loc"])
                yield SourceIssue(self.uri, location, item["msg"], field=field)
            return
        extra_fields, problem = self._extra_fields(entity.metadata)
        if problem:
            errors.append(problem)
            yield SourceIssue(self.uri, location, problem, field="metadata")
        yield self._asset(entity_type, entity, extra_fields, errors)

    @staticmethod
    def _extra_fields(raw: str | dict[str, Any] | None) -> tuple[dict[str, Any], str | None]:
        """`metadata.extra_fields` as {name: value}; the API returns metadata as a JSON string."""
        if raw in (None, "", "null"):
            return {}, None
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except json.JSONDecodeError as exc:
                return {}, f"metadata is not valid JSON ({exc.msg}); custom fields skipped"
        if not isinstance(raw, dict):
            return {}, "metadata is not a JSON object; custom fields skipped"
        fields = raw.get("extra_fields") or {}
        if not isinstance(fields, dict):
            return {}, "metadata.extra_fields is not an object; custom fields skipped"
        values: dict[str, Any] = {}
        for name, spec in fields.items():
            value = spec.get("value") if isinstance(spec, dict) else spec
            if value in (None, "", []):
                continue
            unit = spec.get("unit") if isinstance(spec, dict) else None
            values[str(name)] = (
                f"{value} {unit}" if unit and isinstance(value, str | int) else value
            )
        return values, None

    def _is_sample(self, category: str | None) -> bool:
        return bool(category and _SAMPLE_CATEGORY.search(category))

    def _asset(
        self,
        entity_type: str,
        entity: ElabEntity,
        extra_fields: dict[str, Any],
        errors: list[str],
    ) -> Asset:
        is_experiment = entity_type == "experiments"
        is_sample = not is_experiment and self._is_sample(entity.category_title)
        tags = [t.strip() for t in (entity.tags or "").split("|") if t.strip()]
        title = (entity.title or "").strip() or f"Untitled {entity_type[:-1]} {entity.id}"
        body = entity.body or ""
        body_text = body if entity.content_type == 2 else html_to_text(body)

        sample_links = [link for link in entity.items_links if self._is_sample(link.category_title)]
        normalized = normalize({_key(k): v for k, v in extra_fields.items()})
        metadata: dict[str, Any] = {
            "elabftw_type": entity_type,
            "elabid": entity.elabid,
            "custom_id": entity.custom_id,
            "category": entity.category_title,
            "status": entity.status_title,
            "tags": tags,
            "author": entity.fullname,
            "team": entity.team,
            "userid": entity.userid,
            "rating": entity.rating or None,
            "extra_fields": extra_fields,
            "attachments": [u.real_name for u in entity.uploads if u.real_name],
        }
        metadata.update(normalized)
        samples = list(normalized.get("samples", []))
        samples += [link.title for link in sample_links if link.title]
        if is_sample:
            samples.insert(0, title)
        if samples:
            metadata["samples"] = list(dict.fromkeys(samples))
        if is_experiment:
            metadata.setdefault("experiment_id", entity.elabid or str(entity.id))
        day = entity_date(entity.date) or iso_date(entity.created_at)
        if day:
            metadata.setdefault("date", day)
        metadata = {k: v for k, v in metadata.items() if v not in (None, "", [], {})}

        links: list[Link] = []
        for link in entity.items_links:
            rel = LinkType.USES_SAMPLE if link in sample_links else LinkType.RELATED
            links.append(Link(rel=rel, target=self.asset_id("items", link.entityid)))
        for link in entity.experiments_links:
            links.append(
                Link(rel=LinkType.RELATED, target=self.asset_id("experiments", link.entityid))
            )
        for name, value in extra_fields.items():
            if "package" in name.lower() and isinstance(value, str):
                try:
                    package = PackageRef.parse(value)
                except ValueError as exc:
                    errors.append(f"custom field {name!r}: {exc}")
                    continue
                links.append(Link(rel=LinkType.DESCRIBES, target=package.asset_id))

        facts = [
            ("Category", entity.category_title),
            ("Status", entity.status_title),
            ("Author", entity.fullname),
            ("Tags", ", ".join(tags)),
            ("Linked resources", ", ".join(lk.title or "" for lk in entity.items_links)),
            ("Attachments", ", ".join(metadata.get("attachments", []))),
        ]
        text_parts = [body_text, *(f"{k}: {v}" for k, v in facts if v)]
        text_parts += describe(extra_fields)

        entity_kind = Entity.EXPERIMENT if is_experiment else None
        if is_sample:
            entity_kind = Entity.SAMPLE
        explicit = str(extra_fields.get("entity") or "").strip().lower()
        if explicit in Entity._value2member_map_:
            entity_kind = Entity(explicit)

        page = "experiments.php" if is_experiment else "database.php"
        url = entity.sharelink or f"{self.base_url}/{page}?mode=view&id={entity.id}"
        team_key = f"{self.uri.rstrip('/')}/team/{entity.team}" if entity.team is not None else ""
        created = parse_timestamp(entity.created_at)
        return Asset(
            id=self.asset_id(entity_type, entity.id),
            source=self.uri,
            kind=AssetKind.SAMPLE if is_sample else AssetKind.EXPERIMENT,
            entity=entity_kind,
            title=title,
            text="\n".join(p for p in text_parts if p),
            metadata=metadata,
            identifiers=ids.collect(
                [entity.elabid or ""],
                [title] if is_sample else [],
                samples,
                [str(metadata.get("run_id", ""))],
                metadata.get("attachments", []),
                ids.from_metadata(extra_fields),
                ids.from_text(f"{title}\n{body_text}"),
            ),
            links=list(dict.fromkeys(links)),
            provenance=Provenance(source=self.uri, eln_url=url, record_id=str(entity.id)),
            **resolve_groups(self.settings, self.uri, None, [team_key]).asset_fields(),
            created_at=created,
            updated_at=parse_timestamp(entity.modified_at) or created,
            errors=errors,
        )


def _key(name: str) -> str:
    """Custom field names as metadata keys: "Run ID" → "run_id"."""
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")
