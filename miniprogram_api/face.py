"""WeChat face verification 2.0 (人脸核身 2.0), the rules both the platform and the fake server
follow: https://developers.weixin.qq.com/miniprogram/dev/server/API/face/api_getverifyid and
https://developers.weixin.qq.com/miniprogram/dev/server/API/face/api_queryverifyinfo."""

from __future__ import annotations

import base64
import hashlib

CERT_TYPE_ID_CARD = "IDENTITY_CARD"  # api_getverifyid: "证件类型，身份证填 IDENTITY_CARD"
VERIFY_ID_TTL = 3600  # api_getverifyid: expires_in, "默认值3600，单位：秒"
VERIFY_PASSED = 10000  # api_queryverifyinfo: pass only on errcode 0 and verify_ret 10000 (识别成功)


def cert_hash(cert_type: str, cert_name: str, cert_no: str) -> str:
    """``cert_hash`` of queryVerifyInfo: the standard base64 of each cert_info field, joined as
    ``cert_type=<b64>&cert_name=<b64>&cert_no=<b64>``, SHA-256, lower-case hex (api_queryverifyinfo,
    注意事项: IDENTITY_CARD / 张三 / 310101199801011234 ->
    3c241f7ff324977aeb91f173bb2a7b06569e6fd784d5573db34a636d8671108b)."""

    def b64(value: str) -> str:
        return base64.b64encode(value.encode("utf-8")).decode("ascii")

    joined = f"cert_type={b64(cert_type)}&cert_name={b64(cert_name)}&cert_no={b64(cert_no)}"
    return hashlib.sha256(joined.encode("ascii")).hexdigest()
