"""Small boto3 helpers shared by the S3 object source and the Quilt source.

boto3 resolves endpoint (AWS_ENDPOINT_URL), credentials and region itself; we only fall back to
`settings.aws_region` when nothing else names a region, and turn the handful of failures a user
can fix (no bucket, no credentials, no access) into SourceErrors that say what to do.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from labsearch.errors import SourceError
from labsearch.settings import Settings

# Objects larger than this are not downloaded for a content summary: the asset still carries the
# key, size and version, and records why the content was not read.
DEFAULT_MAX_DOWNLOAD_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class S3Object:
    bucket: str
    key: str
    size: int
    version_id: str | None
    etag: str | None
    last_modified: datetime | None

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def client(settings: Settings) -> Any:
    import boto3

    session = boto3.session.Session()
    return session.client("s3", region_name=session.region_name or settings.aws_region)


def split_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix` → ("bucket", "some/prefix")."""
    if not uri.startswith("s3://"):
        raise SourceError(f"{uri!r} is not an S3 URI; write it as s3://bucket/prefix")
    bucket, _, prefix = uri[len("s3://") :].partition("/")
    if not bucket:
        raise SourceError(f"{uri!r} names no bucket; write it as s3://bucket/prefix")
    return bucket, prefix


def check_bucket(s3: Any, bucket: str, source_uri: str) -> None:
    """Raise a SourceError that names the bucket if it is missing or unreadable."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    try:
        s3.head_bucket(Bucket=bucket)
    except NoCredentialsError as exc:
        raise SourceError(
            f"{source_uri}: no AWS credentials found. Set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, before indexing an S3 source."
        ) from exc
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchBucket"):
            raise SourceError(
                f"{source_uri}: bucket {bucket!r} does not exist (check the name and "
                "AWS_ENDPOINT_URL / region)"
            ) from exc
        if code in ("403", "AccessDenied"):
            raise SourceError(
                f"{source_uri}: access to bucket {bucket!r} denied; the AWS identity in use "
                "needs s3:ListBucket and s3:GetObject on it"
            ) from exc
        raise SourceError(f"{source_uri}: cannot read bucket {bucket!r}: {exc}") from exc
    except BotoCoreError as exc:
        raise SourceError(f"{source_uri}: cannot reach S3 for bucket {bucket!r}: {exc}") from exc


def latest_objects(s3: Any, bucket: str, prefix: str) -> Iterator[S3Object]:
    """The current version of every object under `prefix`, with its version id.

    ListObjectVersions (not ListObjectsV2) because only it reports version ids; on an unversioned
    bucket S3 answers VersionId "null", which we report as None. Keys whose latest version is a
    delete marker are deleted objects and are skipped.
    """
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for version in page.get("Versions", []):
            if not version.get("IsLatest"):
                continue
            version_id = version.get("VersionId")
            yield S3Object(
                bucket=bucket,
                key=version["Key"],
                size=int(version.get("Size", 0)),
                version_id=None if version_id in (None, "null") else version_id,
                etag=(version.get("ETag") or "").strip('"') or None,
                last_modified=version.get("LastModified"),
            )


def current_object(s3: Any, bucket: str, key: str) -> S3Object | None:
    """The current version of one object, or None when it is gone (deleted, or its latest
    version is a delete marker: HEAD answers 404 then)."""
    from botocore.exceptions import ClientError

    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code", "")) in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    version_id = head.get("VersionId")
    return S3Object(
        bucket=bucket,
        key=key,
        size=int(head.get("ContentLength", 0)),
        version_id=None if version_id in (None, "null") else version_id,
        etag=(head.get("ETag") or "").strip('"') or None,
        last_modified=head.get("LastModified"),
    )


def download(s3: Any, bucket: str, key: str, version_id: str | None, dest: Path) -> None:
    """Download exactly the given version (not whatever is newest now) to `dest`."""
    extra = {"VersionId": version_id} if version_id else None
    s3.download_file(bucket, key, str(dest), ExtraArgs=extra)


def describe_error(exc: Exception) -> str:
    """A one-line reason for a failed S3 call, for SourceIssues and Asset.errors."""
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"S3 {error.get('Code', 'error')}: {error.get('Message') or exc}"
    return f"{type(exc).__name__}: {exc}"
