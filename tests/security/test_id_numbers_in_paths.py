"""ID numbers in URLs and logs (issue 14, item 17). Natural persons have no public page: a path
holding an ID number is refused before any view runs, in an answer that does not repeat it, and
no log line of the process (ours, werkzeug's request log, gunicorn's access log, any library's)
carries one."""

from __future__ import annotations

import logging
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from backend.identifiers import org_code_check_char, uscc_with_check
from backend.logging_privacy import IdNumberFilter, mask_id_numbers
from tests.factories import make_id_number

NUMBER = make_id_number(321, birth="19900307")
OLD_NUMBER = "620302900307321"  # first generation: 15 digits, two-digit year, no check digit
LOWER_X = next(n for n in (make_id_number(i) for i in range(1000)) if n.endswith("X")).lower()


@pytest.mark.parametrize("number", [NUMBER, OLD_NUMBER, LOWER_X], ids=["18", "15", "lower-x"])
@pytest.mark.parametrize(
    "template",
    ["/api/v1/subjects/{}", "/api/v1/subjects/{}/records", "/subjects/{}", "/verify/{}", "/kiosk/api/{}", "/x/{}/y"],
)
def test_a_path_with_an_id_number_is_refused_without_echo(client, number, template):
    response = client.get(template.format(number))
    assert response.status_code == 404
    text = response.get_data(as_text=True)
    assert number not in text and number.upper() not in text
    if template.startswith(("/api/", "/kiosk/api/")):
        assert response.get_json()["error"]["code"] == "id_number_in_path"
    else:
        assert "身份证" in text


def test_a_percent_encoded_id_number_is_refused_too(client):
    encoded = "".join(f"%{ord(c):02X}" for c in NUMBER)
    response = client.get(f"/api/v1/subjects/{encoded}")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "id_number_in_path"


def test_an_all_digit_uscc_still_reaches_its_page(client):
    # Registration authority 1 (an institution), region 620300, an all-digit organisation code.
    candidates = (uscc_with_check("11620300" + f"{n:08d}" + org_code_check_char(f"{n:08d}")) for n in range(10**4))
    uscc = next(code for code in candidates if code.isdigit())
    response = client.get(f"/api/v1/subjects/{uscc}")
    assert response.get_json()["error"]["code"] != "id_number_in_path"


def test_mask_id_numbers():
    assert mask_id_numbers(f"GET /api/v1/subjects/{NUMBER} HTTP/1.1") == (
        f"GET /api/v1/subjects/{NUMBER[:4]}**********{NUMBER[-4:]} HTTP/1.1"
    )
    assert OLD_NUMBER not in mask_id_numbers(f"/x/{OLD_NUMBER}?a=1")
    assert LOWER_X not in mask_id_numbers(f"q={LOWER_X}")
    assert mask_id_numbers("order 1234567890123456789012 ts 1700000000000") == (
        "order 1234567890123456789012 ts 1700000000000"
    )


def test_the_filter_masks_message_arguments_and_tracebacks():
    handler_output: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            handler_output.append(self.format(record))

    logger = logging.getLogger("tests.privacy.filter")
    logger.propagate = False
    handler = Collect()
    handler.addFilter(IdNumberFilter())
    logger.addHandler(handler)
    try:
        logger.warning("looked up %s", NUMBER)
        logger.warning("%(U)s", {"U": f"/api/v1/subjects/{NUMBER}"})  # gunicorn's access log style
        try:
            raise ValueError(f"bad {NUMBER}")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    text = "\n".join(handler_output)
    assert NUMBER not in text and text.count(f"{NUMBER[:4]}**********{NUMBER[-4:]}") == 3
    assert "Traceback" in text and "ValueError" in text


def test_every_logger_of_the_process_masks_after_create_app(app, caplog):
    # app (the session's) ran create_app: a library's logger, created later, masks too.
    caplog.set_level(logging.INFO)
    logging.getLogger("some.library").info("value %s in %s", NUMBER, "x")
    logging.getLogger("gunicorn.access").info('%(h)s "%(r)s"', {"h": "10.0.0.1", "r": f"GET /x/{OLD_NUMBER}"})
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "value 6203**********" in text and NUMBER not in text and OLD_NUMBER not in text


def test_the_development_server_request_log_has_no_id_number(app, caplog):
    caplog.set_level(logging.INFO, logger="werkzeug")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/api/v1/subjects/{NUMBER}"
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(url, timeout=10)
        assert answer.value.code == 404
        answer.value.close()
    finally:
        server.shutdown()
        thread.join()
    lines = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert any("/api/v1/subjects/6203**********" in line for line in lines), lines
    assert not any(NUMBER in line for line in lines)


def test_gunicorns_access_log_in_a_worker_has_no_id_number(app, tmp_path):
    # gunicorn's own logger and the deployed access log format; the worker runs create_app, which
    # masks every record of its process (install_log_masking).
    import datetime as dt
    import runpy
    from types import SimpleNamespace

    from gunicorn.config import Config
    from gunicorn.glogging import Logger

    deployed = runpy.run_path(str(Path(__file__).resolve().parents[2] / "deploy" / "gunicorn.conf.py"))
    config = Config()
    config.set("accesslog", str(tmp_path / "access.log"))
    config.set("access_log_format", deployed["access_log_format"])
    logger = Logger(config)
    path = f"/api/v1/subjects/{NUMBER}"
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": path, "PATH_INFO": path, "SERVER_PROTOCOL": "HTTP/1.1"}
    request = SimpleNamespace(
        headers=[("X-FORWARDED-FOR", "10.1.2.3")], method="GET", path=path, query="", version=(1, 1)
    )
    response = SimpleNamespace(status="404 NOT FOUND", sent=120, response_length=120, headers=[])
    logger.access(response, request, environ, dt.timedelta(milliseconds=3))
    for handler in logger.access_log.handlers:
        handler.flush()
    line = (tmp_path / "access.log").read_text()
    assert f"GET /api/v1/subjects/{NUMBER[:4]}**********{NUMBER[-4:]} HTTP/1.1" in line and NUMBER not in line
