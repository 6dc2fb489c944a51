"""Reasons for refusing an uploaded file found by the content checks (checks.py), in Chinese.

The older refusals (empty, too large, wrong type, broken, encrypted, page count) stay in
backend/workflows/messages.py beside the other workflow messages."""

from __future__ import annotations

POLYGLOT = (
    "文件开头含有网页代码（{tag}），不是单纯的 PDF、JPEG 或 PNG 文件，出于安全原因不予接收，请重新导出或扫描后上传"
)
PDF_NOT_AT_START = "PDF 文件必须以“%PDF-”开头，此文件开头有其他内容，出于安全原因不予接收，请重新导出后上传"
PDF_UNREADABLE = "PDF 文件不完整或已损坏（无法读取文件结构），请重新导出后上传"
PDF_TOO_COMPLEX = "PDF 文件结构过于复杂（{what}），无法完成安全检查，请用“打印为 PDF”重新生成后上传"
TOO_COMPLEX_WHAT = {
    "objects": "对象超过 {limit} 个",
    "tokens": "语法单元超过 {limit} 万个",
    "inflate": "解压后内容超过 {limit} MB",
    "depth": "页面树层级超过 {limit} 层",
    "time": "检查超过 {limit} 秒",
}
# One reason per kind of active content (ISO 32000-1: 12.6 actions, 7.11.4 embedded files,
# 12.7.8 XFA; Adobe Supplement to ISO 32000 level 3: RichMedia). {name} is the PDF name found.
_REMAKE = "出于安全原因不予接收，请用“打印为 PDF”重新生成后上传"
PDF_ACTIVE = {
    "javascript": "PDF 文件含有 JavaScript 脚本（{name}），" + _REMAKE,
    "auto_action": "PDF 文件含有打开或浏览时自动执行的动作（{name}），" + _REMAKE,
    "launch": "PDF 文件含有启动外部程序或打开其他文件的动作（{name}），" + _REMAKE,
    "embedded_file": "PDF 文件内嵌了附件（{name}），请把附件作为单独的材料上传；" + _REMAKE,
    "rich_media": "PDF 文件含有多媒体或 Flash 内容（{name}），" + _REMAKE,
    "xfa": "PDF 文件是 XFA 动态表单（{name}），" + _REMAKE,
}
IMAGE_BROKEN = "{kind} 图片无法识别或已损坏（{why}），请重新拍摄或导出后上传"
IMAGE_WHY = {
    "header": "文件头无法解析",
    "no_size": "图片宽度或高度为 0",
    "no_data": "缺少图像数据",
    "no_end": "缺少结束标记，文件可能不完整",
    "checksum": "数据校验失败",
}
IMAGE_TOO_MANY_PIXELS = "图片尺寸为 {width} × {height} 像素，超过上限 {limit} 万像素，请缩小后重新上传"
