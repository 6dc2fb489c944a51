"""User-facing text of department management (console and CLI)."""

DUPLICATE = "部门代码、名称或统一社会信用代码与已有部门“{name}”重复"
CODE_INVALID = "部门代码只能包含字母、数字、下划线和连字符，最长 32 个字符"
NAME_INVALID = "部门名称不能为空，最长 100 个字符"
ABBREVIATION_INVALID = "简称最长 20 个字符"
LABEL_INVALID = "密钥备注最长 100 个字符"
