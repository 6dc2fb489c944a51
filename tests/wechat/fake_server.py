"""The fake WeChat API server used by these tests (it lives in miniprogram_api/fake_wechat.py
because `flask wechat fake-server` serves it for the demo too)."""

from miniprogram_api.face import cert_hash
from miniprogram_api.fake_wechat import FakeWeChat

__all__ = ["FakeWeChat", "cert_hash"]
