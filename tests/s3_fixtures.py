"""A real S3 API for tests: moto's ThreadedMotoServer on a free local port.

Import the fixtures into a test module (`from s3_fixtures import moto_s3_fixture,
s3_bucket_fixture`; pytest puts tests/ on sys.path) or a conftest; tests then ask for `moto_s3`
and `s3_bucket` (the fixtures' names). `moto_s3` starts one server per test session and points
every boto3 client (and so quilt3, which builds its clients through boto3) at it via
AWS_ENDPOINT_URL, with fake credentials and region us-east-1. `s3_bucket` gives each test its
own fresh bucket with versioning enabled, so objects get real version ids.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

REGION = "us-east-1"


@dataclass(frozen=True)
class MotoS3:
    endpoint_url: str

    def client(self):  # -> botocore S3 client; boto3 is imported lazily like in the sources
        import boto3

        return boto3.client("s3", region_name=REGION, endpoint_url=self.endpoint_url)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Environment for the whole session. quilt3 reads QUILT_* at import time, so they are set before
# any test imports it; AWS_CONFIG_FILE/AWS_SHARED_CREDENTIALS_FILE point nowhere so a developer's
# own ~/.aws can never redirect a test to a real account.
def _session_env(endpoint_url: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "QUILT_DISABLE_USAGE_METRICS": "true",
        "QUILT_MINIMIZE_STDOUT": "true",
    }


@pytest.fixture(scope="session", name="moto_s3")
def moto_s3_fixture() -> Iterator[MotoS3]:
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    with pytest.MonkeyPatch.context() as patch:
        for name, value in _session_env(endpoint).items():
            patch.setenv(name, value)
        patch.delenv("AWS_PROFILE", raising=False)
        try:
            yield MotoS3(endpoint_url=endpoint)
        finally:
            server.stop()


@pytest.fixture(name="s3_bucket")
def s3_bucket_fixture(moto_s3: MotoS3) -> str:
    """A new, empty, versioned bucket for one test; its name is returned."""
    name = f"lab-{uuid.uuid4().hex[:12]}"
    client = moto_s3.client()
    client.create_bucket(Bucket=name)
    client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


# --- event notifications as AWS documents them (moto sends none for delete markers, and
# none through EventBridge) ------------------------------------------------------------------


def s3_record(bucket: str, key: str, name: str, version: str | None = None) -> dict:
    """An S3 event notification as documented (notification-content-structure.html), for what
    moto does not send: it sends nothing for delete markers (nor for a missing bucket)."""
    obj = {"key": key.replace(" ", "+"), "sequencer": "0055AED6DCD90281E5"}
    if version:
        obj["versionId"] = version
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventTime": "2026-11-30T12:00:00.000Z",
                "eventName": name,
                "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
                "requestParameters": {"sourceIPAddress": "203.0.113.7"},
                "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810"},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "labsearch-events",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": obj,
                },
            }
        ]
    }


def eventbridge_event(bucket: str, key: str, detail_type: str) -> dict:
    """An S3 event delivered through EventBridge as documented (ev-events.html)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-11-30T12:00:00Z",
        "region": REGION,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {"key": key, "size": 5, "sequencer": "00617F08299329D189"},
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "123456789012",
            "reason": "PutObject" if detail_type == "Object Created" else "DeleteObject",
        },
    }
