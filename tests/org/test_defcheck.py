"""``banli definitions check --org``: every role, unit or person a definition names that does not
exist or has no active holder, as file:line; exit 1 then, 0 when the organisation covers all."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select, update

from tests.conftest import DEFINITIONS, setup_engine
from workflow.cli import main
from workflow.store.models import Unit, User

NAMING = """\
id: naming
name: {zh: 点名, en: Naming}
form:
  - {key: title, type: text, required: true, label: {zh: 标题, en: Title}}
steps:
  draft:
    name: {zh: 起草, en: Draft}
    host: initiator
    next: [review]
  review:
    name: {zh: 审核, en: Review}
    host: {user: nobody_here}
    handlers: [{unit: closed_team}, {role: astrologer}, {role: legal, unit: finance}]
    can_end: true
"""


def check(db, *files) -> object:
    url = db.url.render_as_string(hide_password=False)
    return CliRunner().invoke(
        main, ["--db", url, "definitions", "check", "--org", *map(str, files)]
    )


def test_the_shipped_definitions_are_covered_by_the_demo_organisation(db, clock):
    setup_engine(db, clock)
    result = check(db, *DEFINITIONS)
    assert result.exit_code == 0, result.output
    assert f"{len(DEFINITIONS)} definition(s) OK" in result.output


def test_a_leaver_holding_the_only_seal_leaves_two_definitions_needing_attention(db, clock):
    _engine, people = setup_engine(db, clock)
    with db.write() as s:
        s.execute(update(User).where(User.id == people["sunli"]).values(status="removed"))
    result = check(db, *DEFINITIONS)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert "contract_review.yaml:93: role 'seal_keeper' has no active holder" in lines
    assert "seal_usage.yaml:65: role 'seal_keeper' has no active holder" in lines


def test_each_missing_name_is_said_at_its_line(db, clock, tmp_path: Path):
    setup_engine(db, clock)
    with db.write() as s:
        s.add(Unit(code="closed_team", name="撤销组", kind="project",
                   parent_id=s.scalar(select(Unit.id).where(Unit.code == "hq")),
                   closed_at=clock()))  # fmt: skip
    path = tmp_path / "naming.yaml"
    path.write_text(NAMING, encoding="utf-8")
    result = check(db, path)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "naming.yaml:12: user 'nobody_here' does not exist",
        "naming.yaml:13: unit 'closed_team' is closed",
        "naming.yaml:13: role 'astrologer' is held by nobody",
        "naming.yaml:13: role 'legal' is held by nobody in unit 'finance'",
    ]
