"""deploy/backup.sh and deploy/restore.sh on a copy: build a database with demo data and an issued
report, back it up, destroy the database and the files, restore, and check that everything is
back, byte for byte, and that the restored report still verifies. SQLite always; PostgreSQL when
the suite runs on it (TEST_DATABASE_URL)."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import secrets
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import sqlalchemy as sa

from backend.app import create_app
from backend.extensions import db, limiter
from reports import signing, tokens

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
APP_SETTINGS = (
    "DATABASE_URL",
    "STORAGE_DIR",
    "SECRET_KEY",
    "PII_ENCRYPTION_KEYS",
    "PII_HASH_KEY",
    "REPORT_SIGNING_KEYS",
    "REPORT_PDF_KEY_PATH",
    "REPORT_PDF_CERT_PATH",
    "PUBLIC_BASE_URL",
)
COUNTED_TABLES = ("subject", "credit_record", "department", "issued_report", "audit_event", "staff_user")


def _run(args: list[str], env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    if check and result.returncode != 0:
        pytest.fail(f"{args} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def _flask(env: dict[str, str], *args: str) -> str:
    return _run([sys.executable, "-m", "flask", "--app", "backend.app:create_app", *args], env).stdout


def _settings_env(tmp_path: Path, database_url: str) -> dict[str, str]:
    """A production-like configuration: its own secrets, report keys and storage folder."""
    keys = tmp_path / "keys"
    keys.mkdir()
    tokens.save_private_key(tokens.generate_key(), keys / "k1.pem")
    pdf_key, pdf_cert = signing.generate_self_signed(directory=keys)
    base = {k: v for k, v in os.environ.items() if not k.startswith("CREDIT_") and k != "TEST_DATABASE_URL"}
    return {
        **base,
        "ENV": "development",  # demo-data is refused in production
        "DATABASE_URL": database_url,
        "STORAGE_DIR": str(tmp_path / "storage"),
        "SECRET_KEY": secrets.token_urlsafe(40),
        "PII_ENCRYPTION_KEYS": "k1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
        "PII_HASH_KEY": secrets.token_urlsafe(16),
        "REPORT_SIGNING_KEYS": f"k1:{keys / 'k1.pem'}",
        "REPORT_PDF_KEY_PATH": str(pdf_key),
        "REPORT_PDF_CERT_PATH": str(pdf_cert),
        "PUBLIC_BASE_URL": "https://credit.example.test",
        "RATELIMIT_ENABLED": "false",
    }


def _snapshot(url: str) -> dict:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            counts = {t: conn.scalar(sa.text(f"SELECT count(*) FROM {t}")) for t in COUNTED_TABLES}
            report = conn.execute(sa.text("SELECT number, pdf_key, pdf_hash FROM issued_report")).one()
            names = conn.scalars(sa.text("SELECT name FROM subject WHERE kind = 'legal' ORDER BY id")).all()
    finally:
        engine.dispose()
    return {"counts": counts, "report": tuple(report), "names": names}


def _build(env: dict[str, str], tmp_path: Path) -> tuple[dict, bytes]:
    _flask(env, "db", "upgrade")
    _flask(env, "credit", "demo-data", "--enterprises", "20", "--seed", "1", "--quiet")
    engine = sa.create_engine(env["DATABASE_URL"])
    with engine.connect() as conn:
        uscc = conn.scalar(sa.text("SELECT uscc FROM subject WHERE kind = 'legal' ORDER BY id LIMIT 1"))
    engine.dispose()
    out = tmp_path / "issued.pdf"
    _flask(env, "credit", "issue-report", uscc, "--kind", "enterprise", "--out", str(out))
    before = _snapshot(env["DATABASE_URL"])
    assert before["counts"]["subject"] >= 20 and before["counts"]["issued_report"] == 1
    return before, out.read_bytes()


def _backup(env: dict[str, str], tmp_path: Path) -> Path:
    result = _run(["bash", str(DEPLOY / "backup.sh"), str(tmp_path / "backups")], env)
    folder = Path(result.stdout.strip().splitlines()[-1])
    assert folder.is_dir() and folder.name.startswith("credit-")
    names = sorted(p.name for p in folder.iterdir())
    assert names[-1] == "storage.tar.gz" and "manifest.txt" in names and "SHA256SUMS" in names
    manifest = _manifest(folder)
    assert manifest["storage_files"] == "1"
    assert manifest["alembic_revision"] not in {"", "unknown"}
    return folder


def _restore(env: dict[str, str], backup: Path, *flags: str, check: bool = True) -> subprocess.CompletedProcess:
    return _run(["bash", str(DEPLOY / "restore.sh"), *flags, str(backup)], env, check=check)


def _verify_restored(env: dict[str, str], before: dict, pdf: bytes) -> None:
    after = _snapshot(env["DATABASE_URL"])
    assert after == before
    number, pdf_key, pdf_hash = after["report"]
    stored = Path(env["STORAGE_DIR"]) / pdf_key
    assert stored.read_bytes() == pdf
    assert hashlib.sha256(pdf).hexdigest() == pdf_hash

    # The restored platform still answers for the report: registered, identical, signed.
    saved = (limiter.enabled, limiter.initialized)
    app = create_app({**{k: env[k] for k in APP_SETTINGS}, "ENV": "testing", "RATELIMIT_ENABLED": False})
    try:
        response = app.test_client().post(
            "/api/v1/verify",
            data={"file": (io.BytesIO(stored.read_bytes()), "report.pdf")},
            content_type="multipart/form-data",
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        data = response.get_json()
        assert data["report"]["number"] == number
        assert data["report"]["status"] == "valid"
        assert data["file"]["identical"] is True
        assert data["file"]["signature_valid"] is True, data["file"]
    finally:
        limiter.enabled, limiter.initialized = saved
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _manifest(backup: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in (backup / "manifest.txt").read_text().splitlines())


def _round_trip(env: dict[str, str], tmp_path: Path, destroy_database) -> None:
    before, pdf = _build(env, tmp_path)
    backup = _backup(env, tmp_path)
    # The keys its data needs: the PII key of the demo's natural persons, the report's QR key.
    manifest = _manifest(backup)
    assert (manifest["pii_key_ids"], manifest["report_key_ids"]) == ("k1", "k1")
    assert len(manifest["app_commit"]) == 40  # the checkout's commit, read with safe.directory

    # A live database is never overwritten by accident, and the refusal changes nothing.
    refused = _restore(env, backup, check=False)
    assert refused.returncode == 1
    assert "--force" in refused.stderr and "not empty" in refused.stderr
    assert _snapshot(env["DATABASE_URL"]) == before

    destroy_database()
    shutil.rmtree(env["STORAGE_DIR"])
    result = _restore(env, backup)
    assert "files restored: 1 of 1" in result.stdout
    _verify_restored(env, before, pdf)

    # --force over a live copy works too, and keeps the replaced files aside.
    _restore(env, backup, "--force")
    _verify_restored(env, before, pdf)
    assert list(Path(env["STORAGE_DIR"]).parent.glob("storage.before-restore-*"))


def test_sqlite_backup_and_restore(tmp_path):
    path = tmp_path / "credit.db"
    env = _settings_env(tmp_path, f"sqlite:///{path}")

    def destroy():
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)

    _round_trip(env, tmp_path, destroy)


def _pg_server_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        pytest.skip("PostgreSQL variant: runs when the suite runs on PostgreSQL (TEST_DATABASE_URL)")
    return url


def test_postgresql_backup_and_restore(tmp_path):
    server = urlsplit(_pg_server_url().replace("postgresql+psycopg://", "postgresql://"))
    name = f"credit_restore_{secrets.token_hex(4)}"
    admin = urlunsplit(server._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def destroy():
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')

    env = _settings_env(tmp_path, urlunsplit(server._replace(scheme="postgresql+psycopg", path=f"/{name}")))
    try:
        _round_trip(env, tmp_path, destroy)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_postgresql_restore_without_createdb_refuses_before_anything_changes(tmp_path):
    """A role that may not create databases learnt it from pg_restore's failure, after the
    checks; now the restore says so first, naming the privilege."""
    server = urlsplit(_pg_server_url().replace("postgresql+psycopg://", "postgresql://"))
    admin = urlunsplit(server._replace(path="/postgres"))
    role, name = f"credit_nocreatedb_{secrets.token_hex(4)}", f"credit_absent_{secrets.token_hex(4)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN NOCREATEDB PASSWORD 'pw'")
    try:
        backup = tmp_path / "credit-20260101T000000Z"
        backup.mkdir()
        (backup / "database.pgdump").write_bytes(b"PGDMP not reached")
        with tarfile.open(backup / "storage.tar.gz", "w:gz"):
            pass
        (backup / "manifest.txt").write_text(
            "format=credit-backup-1\ndatabase_kind=postgresql\ndatabase_file=database.pgdump\n"
            "storage_files=0\npii_key_ids=\nreport_key_ids=\n"
        )
        lines = [
            f"{hashlib.sha256((backup / n).read_bytes()).hexdigest()}  {n}\n"
            for n in ("database.pgdump", "storage.tar.gz", "manifest.txt")
        ]
        (backup / "SHA256SUMS").write_text("".join(lines))
        url = urlunsplit(
            server._replace(
                scheme="postgresql+psycopg",
                netloc=f"{role}:pw@{server.hostname}:{server.port or 5432}",
                path=f"/{name}",
            )
        )
        env = _settings_env(tmp_path, url)
        refused = _restore(env, backup, check=False)
        assert refused.returncode == 1
        assert "may not create databases (CREATEDB)" in refused.stderr, refused.stderr
        assert not Path(env["STORAGE_DIR"]).exists()
        with psycopg.connect(admin, autocommit=True) as conn:
            assert conn.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (name,)).fetchone() == (0,)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP ROLE IF EXISTS {role}")


def test_postgresql_password_never_reaches_a_command_line(tmp_path):
    """psql and pg_dump got DATABASE_URL, password included, as an argument: visible to every
    user of the machine in ps. Now they read it from a PGPASSFILE removed afterwards."""
    server = urlsplit(_pg_server_url().replace("postgresql+psycopg://", "postgresql://"))
    admin = urlunsplit(server._replace(path="/postgres"))
    name = f"credit_pgpass_{secrets.token_hex(4)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(urlunsplit(server._replace(path=f"/{name}")), autocommit=True) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num text)")
        conn.execute("INSERT INTO alembic_version VALUES ('0001')")
    try:
        shims, calls = tmp_path / "bin", tmp_path / "calls.txt"
        shims.mkdir()
        for tool in ("psql", "pg_dump"):
            real = shutil.which(tool)
            shim = shims / tool
            shim.write_text(
                f'#!/bin/bash\nprintf "%s\\n" "$*" >> {calls}\n'
                f'[ -r "$PGPASSFILE" ] && cat "$PGPASSFILE" >> {calls}.pass\nexec {real} "$@"\n'
            )
            shim.chmod(0o755)
        user = server.username or "postgres"
        url = urlunsplit(
            server._replace(
                scheme="postgresql+psycopg",
                netloc=f"{user}:s3cret%3Apw@{server.hostname}:{server.port or 5432}",
                path=f"/{name}",
            )
        )
        env = {**_settings_env(tmp_path, url), "PATH": f"{shims}:{os.environ['PATH']}", "TMPDIR": str(tmp_path)}
        _backup_with_a_file(env, tmp_path)
        argv = calls.read_text()
        assert "--format=custom" in argv and "information_schema" in argv  # pg_dump and psql ran
        assert "s3cret" not in argv
        assert set(Path(f"{calls}.pass").read_text().splitlines()) == {"*:*:*:*:s3cret\\:pw"}
        assert not list(tmp_path.glob("credit-pgpass.*"))  # removed at the end
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_damaged_backup_is_refused_before_anything_changes(tmp_path):
    path = tmp_path / "credit.db"
    env = _settings_env(tmp_path, f"sqlite:///{path}")
    _flask(env, "db", "upgrade")
    backup = _backup_with_a_file(env, tmp_path)
    path.unlink()
    shutil.rmtree(env["STORAGE_DIR"])
    archive = backup / "storage.tar.gz"
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    archive.write_bytes(bytes(data))
    result = _restore(env, backup, check=False)
    assert result.returncode == 1
    assert "checksums do not match" in result.stderr
    assert not path.exists()
    assert not Path(env["STORAGE_DIR"]).exists()


def _with_manifest(backup: Path, **values: str) -> None:
    """Rewrites manifest.txt with some values changed, and SHA256SUMS with it."""
    manifest = {**_manifest(backup), **values}
    (backup / "manifest.txt").write_text("".join(f"{k}={v}\n" for k, v in manifest.items()))
    sums = []
    for line in (backup / "SHA256SUMS").read_text().splitlines():
        name = line.split()[-1]
        sums.append(f"{hashlib.sha256((backup / name).read_bytes()).hexdigest()}  {name}\n")
    (backup / "SHA256SUMS").write_text("".join(sums))


def test_restore_names_the_keys_a_backup_needs_before_touching_anything(tmp_path):
    """After `rotate-pii` and the old key's removal, a backup from before the rotation needs the
    old key: the restore refused only after it had replaced the database, on the first k2026
    value read. Now it refuses first, naming every missing key."""
    path = tmp_path / "credit.db"
    env = _settings_env(tmp_path, f"sqlite:///{path}")
    _flask(env, "db", "upgrade")
    backup = _backup_with_a_file(env, tmp_path)
    assert (_manifest(backup)["pii_key_ids"], _manifest(backup)["report_key_ids"]) == ("", "")
    _with_manifest(backup, pii_key_ids="k0,k1", report_key_ids="r2025,k1")
    path.unlink()
    shutil.rmtree(env["STORAGE_DIR"])

    refused = _restore(env, backup, check=False)
    assert refused.returncode == 1
    assert "PII_ENCRYPTION_KEYS: k0; REPORT_SIGNING_KEYS: r2025" in refused.stderr, refused.stderr
    assert "nothing was restored" in refused.stderr
    assert not path.exists() and not Path(env["STORAGE_DIR"]).exists()

    # The retired keys back in the ring, after the active one: the restore goes ahead.
    old_pii = "k0:" + base64.b64encode(secrets.token_bytes(32)).decode()
    tokens.save_private_key(tokens.generate_key(), tmp_path / "r2025.pem")
    ring = {
        **env,
        "PII_ENCRYPTION_KEYS": f"{env['PII_ENCRYPTION_KEYS']}, {old_pii}",
        "REPORT_SIGNING_KEYS": f"{env['REPORT_SIGNING_KEYS']},r2025:{tmp_path / 'r2025.pem'}",
    }
    assert "files restored: 1 of 1" in _restore(ring, backup).stdout
    assert path.exists()


def test_restore_can_be_told_to_go_ahead_without_a_withdrawn_key(tmp_path):
    path = tmp_path / "credit.db"
    env = _settings_env(tmp_path, f"sqlite:///{path}")
    _flask(env, "db", "upgrade")
    backup = _backup_with_a_file(env, tmp_path)
    _with_manifest(backup, report_key_ids="leaked")
    path.unlink()
    shutil.rmtree(env["STORAGE_DIR"])
    result = _restore(env, backup, "--allow-missing-keys")
    assert "REPORT_SIGNING_KEYS: leaked (restoring anyway" in result.stderr
    assert path.exists()


def _backup_with_a_file(env: dict[str, str], tmp_path: Path) -> Path:
    storage = Path(env["STORAGE_DIR"]) / "materials"
    storage.mkdir(parents=True)
    (storage / ("a" * 32 + ".pdf")).write_bytes(b"%PDF-1.7 material")
    return _backup(env, tmp_path)


def test_backup_keeps_the_newest_n_and_relative_sqlite_paths_follow_the_instance_folder(tmp_path):
    instance = tmp_path / "instance"
    env = _settings_env(tmp_path, "sqlite:///relative.db")
    env["CREDIT_INSTANCE_DIR"] = str(instance)
    instance.mkdir()
    engine = sa.create_engine(f"sqlite:///{instance / 'relative.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE alembic_version (version_num TEXT)"))
        conn.execute(sa.text("INSERT INTO alembic_version VALUES ('0001')"))
    engine.dispose()
    dest = tmp_path / "backups"
    for stamp in ("20200101T000000Z", "20200102T000000Z", "20200103T000000Z"):
        (dest / f"credit-{stamp}").mkdir(parents=True)
    result = _run(["bash", str(DEPLOY / "backup.sh"), "--keep", "2", str(dest)], env)
    newest = Path(result.stdout.strip())
    assert sorted(p.name for p in dest.iterdir()) == ["credit-20200103T000000Z", newest.name]
    assert "alembic_revision=0001" in (newest / "manifest.txt").read_text()


@pytest.mark.skipif(
    (not hasattr(os, "geteuid") or os.geteuid() != 0) and not os.environ.get("CI"),
    reason="needs root to give the checkout away (CI runs as root)",
)
def test_backup_records_the_commit_of_a_checkout_owned_by_another_user(tmp_path):
    """The service user runs backup.sh on root's checkout: git refused to read a repository owned
    by someone else ("dubious ownership") and the manifest said app_commit=unknown."""
    app = tmp_path / "app"
    shutil.copytree(DEPLOY, app / "deploy")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.test", "-C", str(app)]
    _run([*git, "init", "-q"], dict(os.environ))
    _run([*git, "add", "deploy"], dict(os.environ))
    _run([*git, "commit", "-q", "-m", "release"], dict(os.environ))
    commit = _run([*git, "rev-parse", "HEAD"], dict(os.environ)).stdout.strip()
    _run(["chown", "-R", "65534:65534", str(app)], dict(os.environ))
    env = _settings_env(tmp_path, f"sqlite:///{tmp_path / 'credit.db'}")
    env["HOME"] = str(tmp_path)  # no global git configuration that would name the folder safe
    _flask(env, "db", "upgrade")
    result = _run(["bash", str(app / "deploy" / "backup.sh"), str(tmp_path / "backups")], env)
    backup = Path(result.stdout.strip().splitlines()[-1])
    assert _manifest(backup)["app_commit"] == commit


@pytest.mark.skipif(shutil.which("shellcheck") is None and not os.environ.get("CI"), reason="shellcheck not installed")
def test_scripts_pass_shellcheck():
    result = subprocess.run(
        ["shellcheck", "-x", "deploy/backup.sh", "deploy/restore.sh", "deploy/lib.sh", "deploy/flask.sh"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout
