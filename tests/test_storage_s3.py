"""S3-compatible storage against a real S3 API server on loopback (moto in server mode): the same
contract as the local folder, and a report's PDF going to the bucket."""

from __future__ import annotations

import socket

import boto3
import pytest
import sqlalchemy as sa
from botocore.exceptions import ClientError

from backend.actors import Actor
from backend.config import ConfigError, load_settings
from backend.extensions import db
from backend.issued_reports.keys import EXTENSION_KEY as KEYS_EXTENSION
from backend.issued_reports.keys import ReportKeys
from backend.issued_reports.models import IssuedReport
from backend.issued_reports.operations import STORAGE_PREFIX, issue_report
from backend.storage import EXTENSION_KEY, S3Storage, StorageError, get_storage, make_storage
from backend.subjects.models import Subject
from reports import signing, tokens
from tests.conftest import TEST_PII_KEY
from tests.factories import make_department, make_uscc, record_input, write_records

BUCKET = "credit-files"
CREDENTIALS = {"access_key_id": "test-access-key", "secret_access_key": "test-secret-key"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=CREDENTIALS["access_key_id"],
        aws_secret_access_key=CREDENTIALS["secret_access_key"],
        region_name="us-east-1",
    ).create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


@pytest.fixture
def store(s3_endpoint) -> S3Storage:
    return S3Storage(BUCKET, endpoint_url=s3_endpoint, region="us-east-1", **CREDENTIALS)


def test_put_get_exists_delete_round_trip(store):
    key = store.put(b"%PDF-1.7 hello", prefix="materials/202610", extension="pdf")
    assert key.startswith("materials/202610/") and key.endswith(".pdf")
    assert store.exists(key)
    assert store.get(key) == b"%PDF-1.7 hello"
    # The object really is in the bucket under that key (another client sees it).
    raw = store.client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert raw == b"%PDF-1.7 hello"
    assert store.delete(key) is True
    assert not store.exists(key)
    assert store.delete(key) is False
    with pytest.raises(StorageError):
        store.get(key)


def test_keys_are_random_and_binary_content_survives(store):
    payload = bytes(range(256)) * 100
    keys = {store.put(payload, prefix="m") for _ in range(5)}
    assert len(keys) == 5
    assert all(store.get(k) == payload for k in keys)


@pytest.mark.parametrize("key", ["../etc/passwd", "m/../../x", "/etc/passwd", "", "m/short", None])
def test_malformed_keys_never_reach_the_bucket(store, key):
    with pytest.raises(StorageError):
        store.get(key)
    with pytest.raises(StorageError):
        store.exists(key)


def test_a_missing_bucket_is_an_error_not_a_missing_file(s3_endpoint):
    # A misconfigured bucket must surface as an error, never read as "this file does not exist".
    other = S3Storage("no-such-bucket", endpoint_url=s3_endpoint, **CREDENTIALS)
    with pytest.raises(ClientError, match="NoSuchBucket"):
        other.put(b"x", prefix="m")
    with pytest.raises(ClientError):
        other.get("m/" + "a" * 32)


def test_get_storage_picks_s3_from_settings(app, s3_endpoint, monkeypatch):
    settings = app.extensions["settings"]
    monkeypatch.delitem(app.extensions, EXTENSION_KEY, raising=False)
    monkeypatch.setattr(settings, "STORAGE_BACKEND", "s3")
    monkeypatch.setattr(settings, "S3_BUCKET", BUCKET)
    monkeypatch.setattr(settings, "S3_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setattr(settings, "S3_ACCESS_KEY_ID", CREDENTIALS["access_key_id"])
    monkeypatch.setattr(settings, "S3_SECRET_ACCESS_KEY", CREDENTIALS["secret_access_key"])
    store = get_storage()
    assert isinstance(store, S3Storage)
    assert store.bucket == BUCKET
    assert get_storage() is store
    # Not monkeypatch.delitem: that would put this S3 storage back at teardown, for every later
    # test of the session (its moto server stops with this module).
    app.extensions.pop(EXTENSION_KEY)


def test_local_is_the_default(tmp_path):
    settings = load_settings(tmp_path, {"ENV": "testing", "PII_ENCRYPTION_KEYS": TEST_PII_KEY})
    assert settings.STORAGE_BACKEND == "local"
    assert make_storage(settings, str(tmp_path)).root == (tmp_path / "storage").resolve()


def test_issue_report_stores_its_pdf_in_the_bucket(app, store, tmp_path, monkeypatch):
    token_key = tmp_path / "t1.pem"
    tokens.save_private_key(tokens.generate_key(), token_key)
    pdf_key, pdf_cert = signing.generate_self_signed(directory=tmp_path)
    private = tokens.load_private_key(token_key)
    keys = ReportKeys("t1", private, tokens.trust_keys([("t1", private)]), str(pdf_key), str(pdf_cert), (), None)
    monkeypatch.setitem(app.extensions, KEYS_EXTENSION, keys)
    monkeypatch.setitem(app.extensions, EXTENSION_KEY, store)

    uscc = make_uscc()
    write_records(record_input(make_department(), uscc=uscc))
    subject = db.session.scalar(sa.select(Subject).where(Subject.uscc == uscc))
    issued = issue_report(Actor.cli("test"), subject, "enterprise")
    db.session.commit()

    report = db.session.scalar(sa.select(IssuedReport).where(IssuedReport.number == issued.report.number))
    assert report.pdf_key.startswith(STORAGE_PREFIX + "/")
    body = store.client.get_object(Bucket=BUCKET, Key=report.pdf_key)["Body"].read()
    assert body == issued.pdf
    assert body.startswith(b"%PDF")


PROD = {
    "ENV": "production",
    "SECRET_KEY": "p" * 40,
    "PII_ENCRYPTION_KEYS": TEST_PII_KEY,
    "PII_HASH_KEY": "hash",
    "STORAGE_BACKEND": "s3",
}


@pytest.mark.parametrize(
    ("missing", "extra"),
    [
        ("S3_BUCKET", {"S3_ACCESS_KEY_ID": "a", "S3_SECRET_ACCESS_KEY": "b"}),
        ("S3_ACCESS_KEY_ID", {"S3_BUCKET": BUCKET, "S3_SECRET_ACCESS_KEY": "b"}),
        ("S3_SECRET_ACCESS_KEY", {"S3_BUCKET": BUCKET, "S3_ACCESS_KEY_ID": "a"}),
    ],
)
def test_production_with_s3_refuses_to_start_without_bucket_or_credentials(tmp_path, missing, extra):
    with pytest.raises(ConfigError, match=missing):
        load_settings(tmp_path, {**PROD, **extra}, environ={})


def test_development_with_s3_needs_the_bucket_but_may_use_ambient_credentials(tmp_path):
    base = {"ENV": "development", "PII_ENCRYPTION_KEYS": TEST_PII_KEY, "STORAGE_BACKEND": "s3"}
    with pytest.raises(ConfigError, match="S3_BUCKET"):
        load_settings(tmp_path, base, environ={})
    assert load_settings(tmp_path, {**base, "S3_BUCKET": BUCKET}, environ={}).S3_BUCKET == BUCKET


def test_unknown_backend_and_plain_http_endpoint_in_production_refused(tmp_path):
    with pytest.raises(ConfigError, match="STORAGE_BACKEND"):
        load_settings(tmp_path, {"ENV": "testing", "PII_ENCRYPTION_KEYS": TEST_PII_KEY, "STORAGE_BACKEND": "ftp"})
    creds = {"S3_BUCKET": BUCKET, "S3_ACCESS_KEY_ID": "a", "S3_SECRET_ACCESS_KEY": "b"}
    with pytest.raises(ConfigError, match="S3_ENDPOINT_URL"):
        load_settings(tmp_path, {**PROD, **creds, "S3_ENDPOINT_URL": "http://minio:9000"}, environ={})


def test_readiness_check_asks_the_bucket(app, client, s3_endpoint, monkeypatch):
    from backend import health

    monkeypatch.delitem(app.extensions, health.STORAGE_CHECK_CACHE, raising=False)
    store = S3Storage(BUCKET, endpoint_url=s3_endpoint, region="us-east-1", **CREDENTIALS)
    monkeypatch.setitem(app.extensions, EXTENSION_KEY, store)
    response = client.get("/readyz")
    assert response.status_code == 200 and response.get_json()["checks"]["storage"] == "ok"

    for broken in (
        S3Storage("no-such-bucket", endpoint_url=s3_endpoint, region="us-east-1", **CREDENTIALS),
        S3Storage(BUCKET, endpoint_url=f"http://127.0.0.1:{_free_port()}", region="us-east-1", **CREDENTIALS),
    ):
        monkeypatch.setitem(app.extensions, EXTENSION_KEY, broken)
        response = client.get("/readyz")
        assert response.status_code == 503, broken.bucket
        assert response.get_json()["checks"]["storage"] == "unavailable"
