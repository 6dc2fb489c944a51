"""`flask wechat sync-menu`, and the WeChat settings checked at start-up."""

from __future__ import annotations

import json

import pytest

from backend.config import ConfigError, load_settings
from miniprogram_api.demo_flow import fake_templates
from tests.test_config import GOOD as CONFIG_GOOD
from tests.wechat.conftest import MP_APPID


def test_sync_menu_creates_the_menu_on_the_fake(runner, fake):
    result = runner.invoke(args=["wechat", "sync-menu"])
    assert result.exit_code == 0, result.output
    (menu,) = fake.menus
    assert [b["name"] for b in menu["button"]] == ["信用服务", "报告核验", "服务指南"]
    assert menu["button"][0]["appid"] == MP_APPID
    assert menu["button"][0]["url"] == "http://credit.test/verify"


def test_sync_menu_reports_wechat_errors(runner, fake, tmp_path):
    path = tmp_path / "menu.json"
    path.write_text(json.dumps({"button": [{"type": "click", "name": f"b{i}", "key": "K"} for i in range(4)]}))
    result = runner.invoke(args=["wechat", "sync-menu", "--file", str(path)])
    assert result.exit_code != 0
    assert "40016" in result.output
    assert fake.menus == []


# The configuration tests' secrets (with the 国密 suite's keys under TEST_CRYPTO_SUITE=sm).
GOOD = {"ENV": "production", **CONFIG_GOOD}


def _production(tmp_path, **env):
    from tests.test_config import report_key_env

    return load_settings(tmp_path, environ={**GOOD, **report_key_env(tmp_path), **env})


def test_production_refuses_a_channel_without_its_secret(tmp_path):
    with pytest.raises(ConfigError, match="WECHAT_MP_SECRET"):
        _production(tmp_path, WECHAT_MP_APPID="wx123")
    with pytest.raises(ConfigError, match="WECHAT_OA_TOKEN"):
        _production(tmp_path, WECHAT_OA_APPID="wx456", WECHAT_OA_SECRET="s")
    with pytest.raises(ConfigError, match="WECHAT_API_BASE_URL"):
        _production(tmp_path, WECHAT_MP_APPID="wx123", WECHAT_MP_SECRET="s", WECHAT_API_BASE_URL="http://127.0.0.1:1")
    settings = _production(tmp_path, WECHAT_MP_APPID="wx123", WECHAT_MP_SECRET="s")
    assert settings.WECHAT_API_BASE_URL == "https://api.weixin.qq.com"


def test_aes_key_must_be_43_characters(tmp_path):
    with pytest.raises(ConfigError, match="WECHAT_OA_AES_KEY"):
        load_settings(tmp_path, environ={"ENV": "testing", "WECHAT_OA_AES_KEY": "short"})


def test_the_demo_fake_holds_the_configured_templates_and_pages(tmp_path):
    """The demo's fake WeChat refuses what WeChat would: it holds the templates and pages the
    settings name, not "anything goes"."""
    settings = load_settings(
        tmp_path,
        environ={
            "ENV": "testing",
            "WECHAT_TEMPLATE_CASE_PROGRESS": "tpl-case",
            "WECHAT_TEMPLATE_FIELDS_CASE_PROGRESS": "thing1:case_type,character_string7:number,phrase2:progress",
            "WECHAT_PAGE_CASE_DETAIL": "pages/cases/show",
        },
    )
    templates, pages = fake_templates(settings)
    assert templates == {"tpl-case": ["thing1", "character_string7", "phrase2"]}
    assert pages == {"pages/cases/show", "pages/report/detail", "pages/enterprise/bindings"}
