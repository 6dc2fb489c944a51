"""The table of case kinds (backend/workflows/kinds.py) and the shape it allows: objections and
repairs share their parts through workflows/cases.py, and the channels look kinds up instead of
branching on them."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from backend.errors import Conflict
from backend.extensions import db
from backend.workflows.cases import CASE_MODELS, case_of_material, check_record_open_to_cases, open_case_on_record
from backend.workflows.kinds import CASE_KINDS, case_kind
from backend.workflows.materials.models import Material
from backend.workflows.objections.models import ObjectionGround

ROOT = Path(__file__).resolve().parents[2]
CHANNELS = ("kiosk", "miniprogram_api", "backend/admin")
KIND_BRANCH = re.compile(
    r"""(==|!=)\s*["'](objection|repair)["']|["'](objection|repair)["']\s*(==|!=)|CASE_TYPE\s*(==|!=)"""
)


def _imported_modules(path: Path) -> set[str]:
    """Every module an import statement of ``path`` names, at any depth (inside functions too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_every_case_model_has_a_kind():
    assert set(CASE_KINDS) == set(CASE_MODELS) == {"objection", "repair"}
    for key, kind in CASE_KINDS.items():
        assert kind.model is CASE_MODELS[key] and key == kind.model.CASE_TYPE
        assert kind.material_key in Material.__table__.c
        assert kind.label and set(kind.outcome_labels) == {o.value for o in kind.outcome}
        assert case_kind(key) is kind


def test_objections_and_repairs_do_not_import_each_other():
    for package, other in (("objections", "repairs"), ("repairs", "objections")):
        for path in (ROOT / "backend" / "workflows" / package).glob("*.py"):
            hits = [m for m in _imported_modules(path) if re.search(rf"(^|\.){other}(\.|$)", m)]
            assert hits == [], f"{path.relative_to(ROOT)} imports {hits}"


def test_channels_do_not_branch_on_the_case_kind():
    found = []
    for channel in CHANNELS:
        for path in (ROOT / channel).rglob("*.py"):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if KIND_BRANCH.search(line):
                    found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == [], "use backend/workflows/kinds.py CASE_KINDS instead:\n" + "\n".join(found)


def test_one_open_case_per_record_across_kinds(world):
    """The shared rules of workflows/cases.py: an objection on a record is the open case for any
    kind, a second case is refused, and its material leads back to it."""
    record = world.record()
    evidence = world.material()
    objection = case_kind("objection").file(
        world.citizen,
        record,
        world.applicant,
        ground=ObjectionGround.INACCURATE,
        statement="处罚决定已被复议机关撤销，记录应予删除",
        commitment=world.objection_commitment(record),
        material_ids=[evidence.id],
    )
    assert open_case_on_record(record.id) is objection
    assert open_case_on_record(record.id, "repair") is None
    with pytest.raises(Conflict) as refused:
        check_record_open_to_cases(record)
    assert refused.value.code == "open_application_exists"
    assert objection.number in refused.value.message
    assert case_of_material(db.session.get(Material, evidence.id)) is objection
