"""/readyz checks the file storage (issue 14, item 15): a service hall that cannot store a report
cannot print it, so storage that is read-only, failing or nearly full takes the host out of the
load balancer (503), and a storm of probes costs one real check every few seconds."""

from __future__ import annotations

import errno
import os

import pytest

from backend import health
from backend.storage import EXTENSION_KEY, LocalStorage


@pytest.fixture
def store(app, tmp_path, monkeypatch) -> LocalStorage:
    store = LocalStorage(tmp_path / "storage")
    monkeypatch.setitem(app.extensions, EXTENSION_KEY, store)
    monkeypatch.delitem(app.extensions, health.STORAGE_CHECK_CACHE, raising=False)
    return store


def test_writable_storage_is_ready_and_leaves_no_probe_behind(client, store):
    response = client.get("/readyz")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["checks"]["storage"] == "ok"
    assert list(store.root.iterdir()) == []


def test_read_only_storage_is_503(client, store, monkeypatch):
    # The test runs as root, for whom chmod does not stop a write: the file system's answer is
    # simulated where the probe meets it (the same errno a read-only remount gives).
    real_open = os.open

    def read_only(path, flags, *args, **kwargs):
        if str(path).startswith(str(store.root)) and flags & (os.O_WRONLY | os.O_RDWR):
            raise OSError(errno.EROFS, "Read-only file system")
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", read_only)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["checks"]["storage"] == "unavailable"
    assert body["checks"]["database"] == "ok"


def test_storage_folder_that_disappeared_is_503(client, store):
    store.root.rmdir()
    store.root.touch()  # a file where the folder was: nothing can be written below it
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["storage"] == "unavailable"


def test_storage_short_of_free_space_is_503(app, client, store, monkeypatch):
    free_mb = os.statvfs(store.root).f_bavail * os.statvfs(store.root).f_frsize // 2**20
    monkeypatch.setattr(app.extensions["settings"], "STORAGE_MIN_FREE_MB", free_mb + 1024)
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["checks"]["storage"] == "low_space"
    assert any("剩余空间" in warning for warning in body["warnings"])


def test_the_check_is_cached_for_a_few_seconds(app, client, store, monkeypatch):
    probes = []
    real_check = LocalStorage.check

    def counting(self, **kwargs):
        probes.append(1)
        return real_check(self, **kwargs)

    monkeypatch.setattr(LocalStorage, "check", counting)
    now = [1000.0]
    monkeypatch.setattr(health.time, "monotonic", lambda: now[0])
    for _ in range(20):
        assert client.get("/readyz").status_code == 200
    assert len(probes) == 1
    now[0] += app.extensions["settings"].STORAGE_CHECK_CACHE_SECONDS + 0.1
    client.get("/readyz")
    assert len(probes) == 2
