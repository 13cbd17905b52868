"""The AWS Lambda handler (indexer/aws_lambda.py), called in-process the way Lambda's SQS event
source mapping calls it: real S3 notifications from moto's S3 -> SQS, wrapped in the SQS event
shape AWS documents, written to the real OpenSearch node. Plus the SAM template passes cfn-lint.

`deliver` plays the event source mapping: it receives up to 10 messages, calls the handler and
deletes the messages not reported in `batchItemFailures`, as Lambda does.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
from opensearch_fixtures import index_alias, opensearch_node, opensearch_settings  # noqa: F401
from s3_fixtures import REGION, moto_s3_fixture, s3_bucket_fixture, s3_record  # noqa: F401

from indexer import aws_lambda
from labsearch.access import Access
from labsearch.settings import Settings
from labsearch.stores import open_store
from labsearch.stores.protocol import SearchRequest

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = REPO_ROOT / "deploy" / "aws" / "template.yaml"
OPERATOR = Access.as_operator()


@dataclass
class Queue:
    url: str
    arn: str
    client: object

    def send(self, body: object) -> str:
        text = body if isinstance(body, str) else json.dumps(body)
        return self.client.send_message(QueueUrl=self.url, MessageBody=text)["MessageId"]

    def receive(self, wait: int = 1) -> list[dict]:
        return self.client.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=wait,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])

    def depth(self) -> int:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        attributes = self.client.get_queue_attributes(QueueUrl=self.url, AttributeNames=names)
        return sum(int(attributes["Attributes"][n]) for n in names)


def make_queue(sqs, name: str, **attributes: str) -> Queue:
    url = sqs.create_queue(QueueName=f"{name}-{uuid.uuid4().hex[:8]}", Attributes=attributes)[
        "QueueUrl"
    ]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return Queue(url, arn, sqs)


@dataclass
class Aws:
    s3: object
    bucket: str
    events: Queue  # receives the bucket's S3 event notifications
    dead_letters: Queue


@pytest.fixture
def aws(moto_s3, s3_bucket) -> Aws:
    import boto3

    sqs = boto3.client("sqs", region_name=REGION, endpoint_url=moto_s3.endpoint_url)
    dead_letters = make_queue(sqs, "labsearch-dlq")
    redrive = {"deadLetterTargetArn": dead_letters.arn, "maxReceiveCount": "1"}
    # A short visibility timeout so a failed message comes back within the test.
    events = make_queue(
        sqs, "labsearch-events", VisibilityTimeout="1", RedrivePolicy=json.dumps(redrive)
    )
    s3 = moto_s3.client()
    s3.put_bucket_notification_configuration(
        Bucket=s3_bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {"QueueArn": events.arn, "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]}
            ]
        },
    )
    return Aws(s3, s3_bucket, events, dead_letters)


@pytest.fixture
def configure(settings, monkeypatch, opensearch_node, index_alias, tmp_path):  # noqa: F811
    """Configure the function through its environment, as the template does; the handler reads
    it when a container starts (and `aws_lambda.reset()` starts a new one)."""

    def configure(sources: list[str], dead_letter_queue: str | None = None) -> Settings:
        aws_lambda.reset()
        values = opensearch_settings(
            opensearch_node, index_alias, tmp_path, model="all-MiniLM-L6-v2"
        )
        env = {
            "LABSEARCH_BACKEND": values.backend,
            "LABSEARCH_HOME": str(values.home),
            "LABSEARCH_CACHE_DIR": str(values.cache_dir),
            "LABSEARCH_MODEL": values.model,
            "LABSEARCH_OPENSEARCH_URL": values.opensearch_url,
            "LABSEARCH_OPENSEARCH_INDEX": values.opensearch_index,
            "LABSEARCH_LAMBDA_SOURCES": json.dumps(sources),
        }
        if dead_letter_queue:
            env["LABSEARCH_LAMBDA_DEAD_LETTER_QUEUE"] = dead_letter_queue
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return Settings()

    yield configure
    aws_lambda.reset()


def sqs_event(messages: list[dict], queue: Queue) -> dict:
    """The event Lambda's SQS event source mapping passes (services-sqs.html, "Example standard
    queue message event")."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": {
                    name: message["Attributes"][name]
                    for name in (
                        "ApproximateReceiveCount",
                        "SentTimestamp",
                        "SenderId",
                        "ApproximateFirstReceiveTimestamp",
                    )
                },
                "messageAttributes": {},
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue.arn,
                "awsRegion": REGION,
            }
            for message in messages
        ]
    }


def lambda_context() -> SimpleNamespace:
    return SimpleNamespace(
        function_name="labsearch-indexer",
        aws_request_id=str(uuid.uuid4()),
        get_remaining_time_in_millis=lambda: 300_000,
    )


@dataclass
class Delivery:
    message_ids: list[str]
    bodies: list[str]
    response: dict

    @property
    def failed(self) -> list[str]:
        return [failure["itemIdentifier"] for failure in self.response["batchItemFailures"]]


def deliver(queue: Queue) -> Delivery:
    """What the event source mapping does with one batch: receive, invoke, delete successes."""
    messages = queue.receive()
    assert messages, "nothing arrived in the queue"
    response = aws_lambda.handler(sqs_event(messages, queue), lambda_context())
    failed = {failure["itemIdentifier"] for failure in response["batchItemFailures"]}
    for message in messages:
        if message["MessageId"] not in failed:
            queue.client.delete_message(QueueUrl=queue.url, ReceiptHandle=message["ReceiptHandle"])
    return Delivery([m["MessageId"] for m in messages], [m["Body"] for m in messages], response)


def put(aws: Aws, key: str, text: str) -> str:
    return aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=text.encode())["VersionId"]


def search_ids(settings: Settings, text: str) -> list[str]:
    store = open_store(settings, 384)
    try:
        return [hit.asset.id for hit in store.search(SearchRequest(text=text, k=5), OPERATOR)]
    finally:
        store.close()


def stored(settings: Settings, asset_id: str):
    store = open_store(settings, 384)
    try:
        return store.get(asset_id, OPERATOR)
    finally:
        store.close()


# --- put, delete ------------------------------------------------------------------------------


@pytest.mark.integration
def test_put_makes_the_object_searchable(aws, configure):
    settings = configure([f"s3://{aws.bucket}/runs/"])
    key = "runs/R0042/summary.txt"
    version = put(aws, key, "NovaSeq run R0042 of liver sample LIV-0042")
    put(aws, "scratch/notes.txt", "outside every source: routed nowhere, acknowledged")

    delivery = deliver(aws.events)  # moto's s3:TestEvent and the two ObjectCreated:Put
    assert len(delivery.message_ids) == 3
    assert any("ObjectCreated:Put" in body for body in delivery.bodies)
    assert delivery.response == {"batchItemFailures": []}
    assert aws.events.depth() == 0

    asset_id = f"s3://{aws.bucket}/{key}"
    assert search_ids(settings, "LIV-0042")[:1] == [asset_id]
    assert stored(settings, asset_id).provenance.version_id == version
    assert stored(settings, f"s3://{aws.bucket}/scratch/notes.txt") is None


@pytest.mark.integration
def test_delete_removes_the_object_and_the_container_is_reused(aws, configure):
    settings = configure([f"s3://{aws.bucket}/"])
    key = "plates/P 7.csv"  # a space: S3 sends it as "plates/P+7.csv"
    asset_id = f"s3://{aws.bucket}/{key}"
    put(aws, key, "well,od\nA1,0.42\nplate P7 of sample KID-0007\n")
    assert deliver(aws.events).failed == []
    assert stored(settings, asset_id) is not None
    container = aws_lambda.runtime()

    marker = aws.s3.delete_object(Bucket=aws.bucket, Key=key)["VersionId"]  # versioned bucket
    # moto sends no notification for a delete marker; AWS sends this one.
    aws.events.send(s3_record(aws.bucket, key, "ObjectRemoved:DeleteMarkerCreated", marker))
    delivery = deliver(aws.events)
    assert delivery.failed == []
    assert stored(settings, asset_id) is None
    assert asset_id not in search_ids(settings, "KID-0007")
    assert aws_lambda.runtime() is container  # the model and store were opened once


# --- poison messages --------------------------------------------------------------------------


@pytest.mark.integration
def test_poison_goes_to_the_dead_letter_queue_with_its_reason(aws, configure):
    settings = configure([f"s3://{aws.bucket}/"], dead_letter_queue=aws.dead_letters.url)
    not_json = aws.events.send("this is not JSON")
    no_bucket = aws.events.send({"Records": [{"eventSource": "aws:s3", "s3": {"bucket": {}}}]})
    put(aws, "after-poison.txt", "processed in the same batch as the poison")

    delivery = deliver(aws.events)
    assert {not_json, no_bucket} <= set(delivery.message_ids)
    assert delivery.failed == []  # not retried: SQS deletes them
    assert aws.events.depth() == 0
    assert stored(settings, f"s3://{aws.bucket}/after-poison.txt") is not None

    letters = {
        m["MessageAttributes"]["labsearch-message-id"]["StringValue"]: m
        for m in aws.dead_letters.receive()
    }
    assert set(letters) == {not_json, no_bucket}
    assert letters[not_json]["Body"] == "this is not JSON"  # as it came, to replay it
    reason = letters[not_json]["MessageAttributes"][aws_lambda.REASON_ATTRIBUTE]["StringValue"]
    assert "not JSON" in reason
    reason = letters[no_bucket]["MessageAttributes"][aws_lambda.REASON_ATTRIBUTE]["StringValue"]
    assert "s3.bucket.name" in reason
    source_queue = letters[not_json]["MessageAttributes"]["labsearch-source-queue"]
    assert source_queue["StringValue"] == aws.events.arn


@pytest.mark.integration
def test_poison_without_a_dead_letter_queue_fails_and_the_redrive_policy_moves_it(
    aws, configure, caplog
):
    configure([f"s3://{aws.bucket}/"])  # no LABSEARCH_LAMBDA_DEAD_LETTER_QUEUE
    poison = aws.events.send("this is not JSON")
    with caplog.at_level("WARNING", logger="indexer.aws_lambda"):
        delivery = deliver(aws.events)
    assert poison in delivery.message_ids and delivery.failed == [poison]  # + s3:TestEvent
    logged = [json.loads(r.getMessage()) for r in caplog.records if r.name == "indexer.aws_lambda"]
    assert {"event": "poison_message", "message_id": poison}.items() <= logged[0].items()
    assert "not JSON" in logged[0]["reason"]

    # The queue's redrive policy (maxReceiveCount 1 here, 5 in the template) moves it on the
    # next receive after its visibility timeout.
    time.sleep(1.5)
    assert aws.events.receive(wait=0) == []
    assert [m["Body"] for m in aws.dead_letters.receive()] == ["this is not JSON"]


# --- a failing source -------------------------------------------------------------------------


@pytest.mark.integration
def test_a_failing_source_fails_only_its_records(aws, configure):
    missing = f"lab-missing-{uuid.uuid4().hex[:8]}"  # never created
    settings = configure([f"s3://{aws.bucket}/", f"s3://{missing}/"])
    put(aws, "runs/R0100.txt", "MiSeq run R0100 of sample LIV-0100")
    lost = aws.events.send(s3_record(missing, "runs/R0101.txt", "ObjectCreated:Put"))

    delivery = deliver(aws.events)
    assert len(delivery.message_ids) == 3  # s3:TestEvent, the put, the missing bucket's
    assert delivery.failed == [lost]  # SQS retries only that one
    assert stored(settings, f"s3://{aws.bucket}/runs/R0100.txt") is not None
    assert aws.events.depth() == 1


# --- the deployment template ------------------------------------------------------------------


def test_template_passes_cfn_lint():
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    if not cfn_lint.exists():
        pytest.fail("cfn-lint is not installed: pip install -e '.[dev]'", pytrace=False)
    result = subprocess.run(
        [str(cfn_lint), str(TEMPLATE)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_template_and_image_name_what_exists():
    """Every LABSEARCH_* variable the template sets is a setting; the image runs this handler."""
    template = TEMPLATE.read_text()
    variables = set(re.findall(r"\b(LABSEARCH_[A-Z_]+):", template))
    assert {"LABSEARCH_LAMBDA_SOURCES", "LABSEARCH_LAMBDA_DEAD_LETTER_QUEUE"} <= variables
    unknown = {v for v in variables if v[len("LABSEARCH_") :].lower() not in Settings.model_fields}
    assert not unknown
    assert "ReportBatchItemFailures" in template and "PackageType: Image" in template
    dockerfile = (TEMPLATE.parent / "Dockerfile").read_text()
    command = json.loads(re.search(r"^CMD (.+)$", dockerfile, re.M).group(1))
    module, _, function = command[0].rpartition(".")
    assert module == aws_lambda.__name__ and callable(getattr(aws_lambda, function))
