"""Short-lived download links for S3 assets, signed locally by boto3 (no call to AWS)."""

from __future__ import annotations

from urllib.parse import unquote

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, NoCredentialsError

from labsearch.errors import ConfigError, InvalidRequestError
from labsearch.models import PresignResponse
from labsearch.schema import Asset


def s3_location(asset: Asset) -> tuple[str, str, str | None]:
    """Bucket, key and version of the asset's S3 object, or InvalidRequestError if it has none.

    Parsed by hand, not with urlparse: S3 keys may contain '#', '?' and spaces, which a URL
    parser would cut off as fragment or query.
    """
    provenance = asset.provenance
    for candidate in (provenance.s3_uri, provenance.physical_key):
        if not candidate or not candidate.startswith("s3://"):
            continue
        location, version = candidate.removeprefix("s3://"), provenance.version_id
        if "?versionId=" in location:  # Quilt physical keys carry the version this way
            location, _, from_uri = location.rpartition("?versionId=")
            version = version or unquote(from_uri)
        bucket, _, key = location.partition("/")
        if bucket and key:
            return bucket, key, version
    raise InvalidRequestError(
        f"asset {asset.id!r} is not stored in S3, so there is no download link to sign; "
        "open it through its catalog, ELN or file link instead"
    )


class Presigner:
    def __init__(self, region: str, expiry_seconds: int) -> None:
        self.region = region
        self.expiry_seconds = expiry_seconds
        self._client = None

    @property
    def client(self):  # noqa: ANN201 - boto3 clients have no importable static type
        # Created on first use: boto3 reads AWS_ENDPOINT_URL and credentials from the environment.
        if self._client is None:
            self._client = boto3.client(
                "s3", region_name=self.region, config=Config(signature_version="s3v4")
            )
        return self._client

    def presign(self, asset: Asset) -> PresignResponse:
        bucket, key, version = s3_location(asset)
        params = {"Bucket": bucket, "Key": key}
        if version:
            params["VersionId"] = version
        try:
            url = self.client.generate_presigned_url(
                "get_object", Params=params, ExpiresIn=self.expiry_seconds
            )
        except NoCredentialsError as exc:
            raise ConfigError(
                "no AWS credentials to sign download links; configure them for the API server "
                "(AWS_PROFILE, AWS_ACCESS_KEY_ID or an instance role)"
            ) from exc
        except BotoCoreError as exc:
            raise ConfigError(f"cannot sign a link for s3://{bucket}/{key}: {exc}") from exc
        return PresignResponse(
            url=url,
            expires_in=self.expiry_seconds,
            s3_uri=f"s3://{bucket}/{key}",
            version_id=version,
        )
