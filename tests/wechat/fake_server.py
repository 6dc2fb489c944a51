"""The fake WeChat API server used by these tests (it lives in miniprogram_api/fake_wechat.py
because `flask wechat fake-server` serves it for the demo too)."""

from miniprogram_api.fake_wechat import FakeWeChat, id_number_md5, md5_hex

__all__ = ["FakeWeChat", "id_number_md5", "md5_hex"]
