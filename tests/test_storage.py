"""File storage: random keys, atomic writes, no way out of the root."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

from backend.extensions import db
from backend.storage import LocalStorage, Storage, StorageError, get_storage, put_for_transaction


def test_put_get_exists_delete(tmp_path):
    store = LocalStorage(tmp_path)
    key = store.put(b"%PDF-1.7 hello", prefix="materials/202610", extension="pdf")
    assert key.startswith("materials/202610/")
    assert key.endswith(".pdf")
    assert store.exists(key)
    assert store.get(key) == b"%PDF-1.7 hello"
    assert oct(os.stat(tmp_path / key).st_mode & 0o777) == "0o600"
    assert store.delete(key) is True
    assert not store.exists(key)
    assert store.delete(key) is False
    with pytest.raises(StorageError):
        store.get(key)


def test_keys_are_random_and_writes_leave_no_temporary_files(tmp_path):
    store = LocalStorage(tmp_path)
    keys = {store.put(b"x", prefix="m") for _ in range(50)}
    assert len(keys) == 50
    names = [p.name for p in (tmp_path / "m").iterdir()]
    assert len(names) == 50
    assert not [n for n in names if n.startswith(".tmp-")]


def test_a_failed_write_leaves_nothing(tmp_path, monkeypatch):
    store = LocalStorage(tmp_path)

    def boom(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        store.put(b"data", prefix="m")
    assert list((tmp_path / "m").iterdir()) == []


@pytest.mark.parametrize(
    "key",
    ["../etc/passwd", "m/../../x", "/etc/passwd", "m/" + "a" * 32 + "/../x", "m\\x", "", "m/short", None],
)
def test_malformed_keys_never_resolve(tmp_path, key):
    store = LocalStorage(tmp_path)
    with pytest.raises(StorageError):
        store.get(key)
    with pytest.raises(StorageError):
        store.exists(key)


def test_bad_prefix_or_extension_refused(tmp_path):
    store = LocalStorage(tmp_path)
    with pytest.raises(StorageError):
        store.put(b"x", prefix="../up")
    with pytest.raises(StorageError):
        store.put(b"x", prefix="m", extension="pdf/../x")


def test_get_storage_is_created_once_under_the_configured_folder(app, tmp_path, monkeypatch):
    monkeypatch.delitem(app.extensions, "storage", raising=False)
    monkeypatch.setattr(app.extensions["settings"], "STORAGE_DIR", str(tmp_path / "files"))
    store = get_storage()
    assert isinstance(store, Storage)
    assert store is get_storage()
    assert store.root == (tmp_path / "files").resolve()
    monkeypatch.delitem(app.extensions, "storage")


def test_a_file_put_for_a_transaction_stays_only_if_the_transaction_commits(app, tmp_path, monkeypatch):
    store = LocalStorage(tmp_path / "store")
    monkeypatch.setitem(app.extensions, "storage", store)

    def put_in_a_transaction(data: bytes) -> str:
        key = put_for_transaction(data, prefix="reports", extension="pdf")
        db.session.execute(sa.text("SELECT 1"))
        assert store.exists(key)  # stored before the row that will reference it is committed
        return key

    committed = put_in_a_transaction(b"kept")
    db.session.commit()
    rolled_back = put_in_a_transaction(b"rolled back")
    db.session.rollback()
    abandoned = put_in_a_transaction(b"never committed")
    db.session.remove()  # a request's end after an error: closed without commit
    assert store.exists(committed)
    assert not store.exists(rolled_back)
    assert not store.exists(abandoned)
    # A later transaction's rollback does not touch files already committed.
    db.session.execute(sa.text("SELECT 1"))
    db.session.rollback()
    assert store.get(committed) == b"kept"


def test_a_file_that_cannot_be_deleted_after_a_rollback_does_not_hide_the_error(app, tmp_path, monkeypatch, caplog):
    store = LocalStorage(tmp_path / "store")
    monkeypatch.setitem(app.extensions, "storage", store)
    key = put_for_transaction(b"x", prefix="reports")
    db.session.execute(sa.text("SELECT 1"))

    def delete_fails(key):
        raise OSError("read-only file system")

    monkeypatch.setattr(store, "delete", delete_fails)
    db.session.rollback()  # no exception from the clean-up
    assert store.exists(key)
    assert "could not delete" in caplog.text
