from backend.app import create_app
from tests.conftest import TEST_PII_KEY


def test_healthz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_readyz_checks_database_and_reports_calendar_warning(client):
    body = client.get("/readyz").get_json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == "ok"
    assert isinstance(body["warnings"], list)


def test_readyz_503_when_database_down():
    app = create_app(
        {
            "ENV": "testing",
            "DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2",
            "SECRET_KEY": "k" * 40,
            "PII_ENCRYPTION_KEYS": TEST_PII_KEY,
            "PII_HASH_KEY": "h",
        }
    )
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.get_json()["checks"]["database"] == "unavailable"


def test_unknown_api_path_uses_the_error_shape(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    body = response.get_json()
    assert body["error"]["code"] == "not_found"
    assert body["error"]["message"] == "请求的资源不存在"


def test_unexpected_error_does_not_leak(tmp_path):
    app = create_app(
        {
            "ENV": "testing",
            "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
            "SECRET_KEY": "k" * 40,
            "PII_ENCRYPTION_KEYS": TEST_PII_KEY,
            "PII_HASH_KEY": "h",
        }
    )

    @app.get("/api/v1/_boom_for_test")
    def boom():
        raise RuntimeError("secret internal detail 620302199003072516")

    response = app.test_client().get("/api/v1/_boom_for_test")
    assert response.status_code == 500
    text = response.get_data(as_text=True)
    assert "secret internal detail" not in text
    assert response.get_json()["error"]["code"] == "internal_error"


def test_openapi_document_served(client):
    spec = client.get("/openapi.json").get_json()
    assert spec["info"]["title"].startswith("信用金昌")
    assert "/healthz" in spec["paths"]


def test_security_headers(client):
    response = client.get("/healthz")
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "cdn.jsdelivr.net" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "cdn.jsdelivr.net" not in client.get("/docs").headers["Content-Security-Policy"]


def test_chinese_json_is_utf8_not_escaped(client):
    body = client.get("/api/v1/nothing-here").get_data(as_text=True)
    assert "请求的资源不存在" in body


def test_openapi_documents_the_error_shape(client):
    spec = client.get("/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    assert "ErrorDetail" in schemas or any("Error" in name for name in schemas)
