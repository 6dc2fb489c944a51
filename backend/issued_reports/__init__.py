"""The report registry (报告登记): issuing credit reports, revoking them, verifying them."""
