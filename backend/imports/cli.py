"""`flask credit import FILE --department CODE`: import a department's CSV or XLSX file.

Exit codes: 0 every row stored, 2 some rows refused (the rest stored), 1 nothing stored
(atomic batch rejected, every row bad, or the file unreadable). Commits once, at the end.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import click
import sqlalchemy as sa
from tqdm import tqdm

from ..actors import Actor
from ..departments.models import Department
from ..extensions import db
from .models import ImportBatch, ImportStatus
from .operations import batch_errors, error_report_csv, import_parsed_file, record_failed_import
from .parsing import ImportFileError, open_import_file, parse_category

SHOWN_ERRORS = 20
EXIT_CODES = {
    ImportStatus.COMPLETED: 0,
    ImportStatus.PARTIAL: 2,
    ImportStatus.REJECTED: 1,
    ImportStatus.FAILED: 1,
}
STATUS_LABELS = {
    ImportStatus.COMPLETED: "全部导入",
    ImportStatus.PARTIAL: "部分导入",
    ImportStatus.REJECTED: "已拒绝，未保存任何记录",
    ImportStatus.FAILED: "失败，未保存任何记录",
    ImportStatus.RUNNING: "进行中",
}


def register(group) -> None:
    group.add_command(import_command)


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--department", "department_code", required=True, help="部门代码（数据提供单位）")
@click.option("--category", default=None, help="文件没有“信息类别”列时的类别，如 行政处罚、行政许可")
@click.option("--atomic", is_flag=True, help="任一行有错误则整批不保存")
@click.option(
    "--errors-out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="把错误报告（CSV：行号、列名、错误原因）写到此文件",
)
def import_command(
    file: Path, department_code: str, category: str | None, atomic: bool, errors_out: Path | None
) -> None:
    """Import credit records (归集) from a CSV or XLSX file."""
    department = db.session.scalar(sa.select(Department).where(Department.code == department_code))
    if department is None:
        codes = "、".join(db.session.scalars(sa.select(Department.code).order_by(Department.code))) or "（无）"
        _fail(f"未知的部门代码“{department_code}”。已登记的部门代码：{codes}")
    if not department.is_active:
        _fail(f"部门“{department.name}”已停用，不能导入数据")
    try:
        record_category = parse_category(category) if category else None
    except ImportFileError as exc:
        _fail(exc.message)
    actor = Actor.cli("import")

    try:
        parsed = open_import_file(file)
    except ImportFileError as exc:
        batch = record_failed_import(actor, department, channel="cli", filename=file.name, reason=exc.message)
    else:
        with tqdm(total=parsed.total_rows, unit="行", file=sys.stderr, desc=file.name, leave=False) as bar:
            try:
                batch = import_parsed_file(
                    actor, department, parsed, category=record_category, atomic=atomic, progress=bar.update
                )
            except ImportFileError as exc:
                # The file broke half-way: undo the rows already written, keep only the failure.
                db.session.rollback()
                department = db.session.get(Department, department.id)
                batch = record_failed_import(actor, department, channel="cli", filename=file.name, reason=exc.message)
    db.session.commit()

    _print_summary(batch)
    _report_errors(batch, errors_out)
    sys.exit(EXIT_CODES.get(batch.status, 1))


def _fail(message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(1)


def _print_summary(batch: ImportBatch) -> None:
    click.echo(
        f"导入批次 #{batch.id}（{STATUS_LABELS[batch.status]}）：共 {batch.total_rows} 行，"
        f"新增 {batch.created_count}，更新 {batch.updated_count}，未变 {batch.unchanged_count}，"
        f"错误 {batch.error_count} 行"
    )
    if batch.message:
        click.echo(batch.message)


def _report_errors(batch: ImportBatch, errors_out: Path | None) -> None:
    if not batch.error_count:
        return
    if errors_out is not None:
        # utf-8 with the BOM from error_report_csv, so Excel opens the Chinese text correctly.
        errors_out.write_text(error_report_csv(batch), encoding="utf-8", newline="")
        click.echo(f"错误报告已写入 {errors_out}")
        return
    shown = batch_errors(batch, limit=SHOWN_ERRORS + 1)
    for error in shown[:SHOWN_ERRORS]:
        column = f"［{error.column}］" if error.column else ""
        click.echo(f"第{error.row_number}行{column}：{error.reason}")
    if len(shown) > SHOWN_ERRORS:
        click.echo(f"……仅显示前 {SHOWN_ERRORS} 条错误；使用 --errors-out 文件路径 保存完整错误报告")
