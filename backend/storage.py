"""File storage for uploaded materials and generated files, outside the web root.

``Storage`` is the interface; ``LocalStorage`` (a folder, by default ``<instance>/storage``,
setting ``STORAGE_DIR``) is the default implementation, ``S3Storage`` (``STORAGE_BACKEND=s3``) keeps
the same keys as objects in an S3-compatible bucket, so several web hosts share one store.
Callers never see paths: they keep the opaque key that ``put`` returns.

Keys are generated here from random bytes (never from a user's file name), so an upload cannot
choose, guess or overwrite another file's location.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import os
import re
import secrets
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from .extensions import db

EXTENSION_KEY = "storage"
_UNCOMMITTED = "storage_uncommitted"  # Session.info: files put for the open transaction
_log = logging.getLogger(__name__)
_KEY_RE = re.compile(r"^[a-z0-9_-]{1,32}(/[a-z0-9_-]{1,32})*/[a-f0-9]{32}(\.[a-z0-9]{1,8})?$")
_PART_RE = re.compile(r"^[a-z0-9_-]{1,32}(/[a-z0-9_-]{1,32})*$")
_EXT_RE = re.compile(r"^[a-z0-9]{1,8}$")


class StorageError(RuntimeError):
    """A key that is malformed or names no stored file."""


class Storage(ABC):
    """Opaque-key blob storage. Implementations must make ``put`` atomic (all or nothing)."""

    @abstractmethod
    def put(self, data: bytes, *, prefix: str, extension: str | None = None) -> str:
        """Store ``data`` under a new random key below ``prefix``; return the key."""

    @abstractmethod
    def get(self, key: str) -> bytes:
        """The stored bytes; StorageError if there is no such file."""

    @abstractmethod
    def delete(self, key: str) -> bool:
        """Remove the file; False if it did not exist."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def check(self, *, min_free_bytes: int = 0) -> str:
        """Whether a file can be stored now (readiness): ``ok``, ``unavailable`` (a write fails
        or the store cannot be reached) or ``low_space`` (fewer than ``min_free_bytes`` free,
        where the store can tell). Never raises."""

    @staticmethod
    def new_key(prefix: str, extension: str | None = None) -> str:
        prefix = prefix.strip("/").lower()
        if not _PART_RE.match(prefix):
            raise StorageError(f"invalid storage prefix {prefix!r}")
        if extension is not None and not _EXT_RE.match(extension):
            raise StorageError(f"invalid extension {extension!r}")
        name = secrets.token_hex(16)  # 128 random bits
        return f"{prefix}/{name}" + (f".{extension}" if extension else "")

    @staticmethod
    def check_key(key: str) -> str:
        # Keys come back from the database, but a tampered or hand-made key must still never
        # resolve outside the storage root.
        if not isinstance(key, str) or not _KEY_RE.match(key):
            raise StorageError("invalid storage key")
        return key


class LocalStorage(Storage):
    """Files under one root folder; writes go to a temporary file and are renamed into place."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)

    def _path(self, key: str) -> Path:
        path = (self.root / self.check_key(key)).resolve()
        if self.root not in path.parents:
            raise StorageError("invalid storage key")
        return path

    def put(self, data: bytes, *, prefix: str, extension: str | None = None) -> str:
        key = self.new_key(prefix, extension)
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o600)
            # A reader never sees a half-written file: the name appears only once it is complete.
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return key

    def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError as exc:
            raise StorageError("stored file not found") from exc

    def delete(self, key: str) -> bool:
        try:
            self._path(key).unlink()
        except FileNotFoundError:
            return False
        return True

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def check(self, *, min_free_bytes: int = 0) -> str:
        # A real write, flushed to the disk: a read-only remount, a full disk or a lost mount
        # fails here (EROFS, ENOSPC, EIO) as a report's PDF would, while an os.access() check
        # would still say yes.
        try:
            fd, probe = tempfile.mkstemp(dir=self.root, prefix=".probe-")
            try:
                os.write(fd, b"ready")
                os.fsync(fd)
            finally:
                os.close(fd)
                os.unlink(probe)
            stats = os.statvfs(self.root)
        except OSError:
            _log.warning("storage check: cannot write below %s", self.root, exc_info=True)
            return "unavailable"
        if stats.f_bavail * stats.f_frsize < min_free_bytes:  # what an unprivileged writer has
            return "low_space"
        return "ok"


class S3Storage(Storage):
    """Objects in an S3-compatible bucket (AWS, MinIO, Ceph, a cloud's S3 API).

    A PUT is atomic on every S3 implementation (an object appears whole or not at all), and it
    carries the MD5 of the body, so a corrupted upload is refused by the server rather than stored.
    """

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        region: str | None = None,
    ) -> None:
        import boto3  # imported here: a local-storage deployment never loads botocore
        from botocore.config import Config

        self.bucket = bucket
        session = boto3.session.Session()
        connection = {
            "endpoint_url": endpoint_url or None,
            "aws_access_key_id": access_key_id or None,
            "aws_secret_access_key": secret_access_key or None,
            "region_name": region or None,
        }
        # Path-style works on every S3-compatible server; virtual hosts need DNS per bucket.
        style = {"signature_version": "s3v4", "s3": {"addressing_style": "path"}}
        self.client = session.client(
            "s3",
            **connection,
            config=Config(**style, connect_timeout=5, read_timeout=30, retries={"max_attempts": 3, "mode": "standard"}),
        )
        # The readiness probe answers within a load balancer's timeout: one short try, no retries.
        self.probe_client = session.client(
            "s3", **connection, config=Config(**style, connect_timeout=2, read_timeout=2, retries={"max_attempts": 1})
        )

    @staticmethod
    def _missing(exc: Exception) -> bool:
        error = getattr(exc, "response", {}).get("Error", {})
        return str(error.get("Code")) in {"404", "NoSuchKey", "NotFound"}

    def put(self, data: bytes, *, prefix: str, extension: str | None = None) -> str:
        key = self.new_key(prefix, extension)
        digest = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentMD5=digest)
        return key

    def get(self, key: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.check_key(key))
        except ClientError as exc:
            if self._missing(exc):
                raise StorageError("stored file not found") from exc
            raise
        return response["Body"].read()

    def delete(self, key: str) -> bool:
        # S3 DELETE succeeds for a missing key too; the interface reports whether it existed.
        if not self.exists(key):
            return False
        self.client.delete_object(Bucket=self.bucket, Key=key)
        return True

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self.check_key(key))
        except ClientError as exc:
            if self._missing(exc):
                return False
            raise
        return True

    def check(self, *, min_free_bytes: int = 0) -> str:
        # HeadBucket (one small request) proves the endpoint answers, the credentials are valid
        # and the bucket exists; a bucket has no free space to measure.
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.probe_client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError):
            _log.warning("storage check: bucket %s unavailable", self.bucket, exc_info=True)
            return "unavailable"
        return "ok"


def make_storage(settings, instance_path: str) -> Storage:
    """The storage the settings name (config has already checked the S3 settings)."""
    if settings.STORAGE_BACKEND == "s3":
        return S3Storage(
            settings.S3_BUCKET,
            endpoint_url=settings.S3_ENDPOINT_URL,
            access_key_id=settings.S3_ACCESS_KEY_ID,
            secret_access_key=settings.S3_SECRET_ACCESS_KEY,
            region=settings.S3_REGION,
        )
    return LocalStorage(settings.STORAGE_DIR or os.path.join(instance_path, "storage"))


def get_storage() -> Storage:
    """The app's storage, created on first use and cached on the app."""
    storage = current_app.extensions.get(EXTENSION_KEY)
    if storage is None:
        storage = make_storage(current_app.extensions["settings"], current_app.instance_path)
        current_app.extensions[EXTENSION_KEY] = storage
    return storage


def put_for_transaction(data: bytes, *, prefix: str, extension: str | None = None) -> str:
    """``put`` a file that a row of the current database transaction will reference.

    The file is stored first, so a row never points at nothing; if the transaction then ends
    without committing (an error later in the request, a failed commit, a rollback), the file is
    deleted again, so a failed request does not leave a file that nothing references either.
    """
    storage = get_storage()
    key = storage.put(data, prefix=prefix, extension=extension)
    db.session().info.setdefault(_UNCOMMITTED, []).append((storage, key))
    return key


@event.listens_for(Session, "after_commit")
def _files_committed(session: Session) -> None:
    session.info.pop(_UNCOMMITTED, None)


@event.listens_for(Session, "after_transaction_end")
def _files_not_committed(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is not None:  # a savepoint: the outer transaction decides
        return
    for storage, key in session.info.pop(_UNCOMMITTED, ()):
        try:
            storage.delete(key)
        except Exception:  # the request's own error matters more; the file is only garbage
            _log.warning("could not delete %s after its transaction rolled back", key, exc_info=True)
