"""Import rate when departments send subject names (issue 14, item 6), in one process:
``python -m bench.import_names [rows]`` (default 5,000) on a scratch SQLite database.

1. 市场监管 (scjg, a registering authority) creates ``rows`` enterprises (CSV, one row each);
2. 税务 (sw) sends a row for each with the same names;
3. 税务 sends another row for each, 10 % under another name (kept as name discrepancies);
4. 市场监管 sends another row for each, 5 % under a new name (renamed and audited).

Each line is one ``import_file`` including its commit. The script uses only what the import had
before the name rules (it sets ``registers_subjects`` only where the column exists), so the same
file run from an older source tree measures the old rate for comparison.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

HEADER = ["行政相对人名称", "统一社会信用代码", "法定代表人", "行政处罚决定书文号", "处罚决定日期", "违法程度",
          "违法行为类型", "处罚类别", "处罚内容", "罚款金额"]  # fmt: skip
CONFIG = {
    "ENV": "development",
    "SECRET_KEY": "bench-only-secret-key-not-for-any-real-deployment",
    "PII_ENCRYPTION_KEYS": "bench1:" + base64.b64encode(hashlib.sha256(b"bench-pii").digest()).decode(),
    "PII_HASH_KEY": "bench-only-hash-key",
    "RATELIMIT_ENABLED": False,
    "LOG_LEVEL": "WARNING",
}


def main(rows: int) -> None:
    from flask_migrate import upgrade

    from backend.actors import Actor
    from backend.app import create_app
    from backend.departments.operations import create_department
    from backend.extensions import db
    from backend.identifiers import org_code_check_char, uscc_with_check
    from backend.imports.operations import import_file

    def uscc(prefix: str, body: str) -> str:
        return uscc_with_check(prefix + body + org_code_check_char(body))

    folder = Path(tempfile.mkdtemp(prefix="bench-names-"))
    app = create_app({**CONFIG, "DATABASE_URL": f"sqlite:///{folder}/names.db"})
    try:
        with app.app_context():
            upgrade()
            actor = Actor.cli("bench")
            market = create_department(actor, code="scjg", name="市市场监管局", uscc=uscc("11620300", "MB1N6725"))
            tax = create_department(actor, code="sw", name="市税务局", uscc=uscc("11620300", "MB1L0731"))
            if hasattr(market, "registers_subjects"):
                market.registers_subjects = True
            db.session.commit()
            rng = random.Random(7)
            steps = (
                ("scjg creates", market, "金市监罚", 0.0, ""),
                ("sw, same names", tax, "金税罚一", 0.0, ""),
                ("sw, 10 % other names", tax, "金税罚二", 0.10, "税"),
                ("scjg, 5 % new names", market, "金市监罚二", 0.05, "新"),
            )
            for label, department, prefix, share, suffix in steps:
                path = folder / f"{prefix}.csv"
                with path.open("w", newline="", encoding="utf-8-sig") as handle:
                    writer = csv.writer(handle)
                    writer.writerow(HEADER)
                    for i in range(rows):
                        name = f"金昌市测试{i}{suffix if rng.random() < share else ''}有限公司"
                        code = uscc("91620302", f"{i + 1:08d}")
                        fixed = ["2026-03-02", "一般", "未按规定公示", "罚款", "罚款五千元", "5000"]
                        writer.writerow([name, code, "王五", f"{prefix}〔2026〕{i}号", *fixed])
                started = time.perf_counter()
                batch = import_file(actor, department, path)
                db.session.commit()
                rate = rows / (time.perf_counter() - started)
                print(f"{label:24s} {rate:9,.0f} rows/s  ({batch.created_count} created, {batch.error_count} bad)")
            db.session.remove()
            db.engine.dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000)
