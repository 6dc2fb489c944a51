"""File storage: random keys, atomic writes, no way out of the root."""

from __future__ import annotations

import os

import pytest

from backend.storage import LocalStorage, Storage, StorageError, get_storage


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
