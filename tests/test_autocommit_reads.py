"""PostgreSQL: the public reads (on_primary/on_replica with autocommit) use a twin engine whose
connections are in autocommit from the start (backend/app.py, _add_autocommit_engines), and
leave the shared pool's connections in their transactional mode."""

from __future__ import annotations

import pytest
from flask import current_app

from backend.extensions import AUTOCOMMIT_ENGINES, db, on_primary


@pytest.fixture
def postgresql(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has no transaction round trips to spare")


def _autocommit(connection) -> bool:
    return connection.connection.driver_connection.autocommit


@pytest.mark.usefixtures("postgresql")
def test_public_reads_run_in_autocommit_on_their_own_pool():
    twin = current_app.extensions[AUTOCOMMIT_ENGINES][db.engine]

    assert on_primary(_autocommit, autocommit=True) is True
    assert twin.pool.checkedin() == 1  # the connection went back to the twin's pool

    assert on_primary(_autocommit) is False  # reads that need a transaction still get one
    assert db.session.connection().connection.driver_connection.autocommit is False
    assert on_primary(lambda connection: connection.exec_driver_sql("SELECT 1").scalar(), autocommit=True) == 1
    assert twin.pool.checkedin() == 1  # the same connection again, none left checked out


@pytest.mark.usefixtures("postgresql")
def test_disposing_an_engine_disposes_its_twin():
    twin = current_app.extensions[AUTOCOMMIT_ENGINES][db.engine]
    on_primary(_autocommit, autocommit=True)
    assert twin.pool.checkedin() == 1

    db.session.close()
    db.engine.dispose()

    assert twin.pool.checkedin() == 0  # its connections closed with the engine's
    assert on_primary(_autocommit, autocommit=True) is True  # and new ones are made on demand
