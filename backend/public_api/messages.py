"""Texts of the public query API, kept together so the wording can be reviewed in one place."""

EMPTY_QUERY = "请输入企业名称（至少1个字）或18位统一社会信用代码"
SUBJECT_NOT_FOUND = "未找到该统一社会信用代码对应的企业，或该企业暂无公示信息"

TAG = "公共信用信息查询"
SEARCH_SUMMARY = "按名称或统一社会信用代码查询企业"
SEARCH_DESCRIPTION = (
    "名称查询为包含匹配：名称完全相同的排在最前，其次是以查询词开头的名称，再次是其他包含查询词的名称。"
    "输入18位统一社会信用代码时按代码精确查询。只返回法人和非法人组织，不提供自然人信息。"
)
PROFILE_SUMMARY = "查询企业的公示信用信息"
PROFILE_DESCRIPTION = (
    "返回企业基本信息和公示期内的信用记录，按类别分组。已修复、已撤销、公示期满和不予公示的记录不返回；"
    "异议处理中的记录带有“异议处理中”标注。"
)
ERROR_DESCRIPTIONS = {
    400: "请求有误：查询词为空，或统一社会信用代码不合法（提示指出哪一位有误）",
    404: "未找到该企业",
    422: "请求参数校验未通过",
    429: "请求过于频繁，请在 Retry-After 秒后再试",
}
