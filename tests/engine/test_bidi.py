"""Bidirectional control characters never reach a stored file name, flow title or message subject."""

from __future__ import annotations

import io

import pytest

from tests.engine.test_refusals import CONTRACT
from workflow import messages
from workflow.files import FileStore, clean_name

# every control the issue names: embeddings and overrides, isolates, marks, the Arabic letter mark
CONTROLS = [
    chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)
]


@pytest.mark.parametrize("control", CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
def test_a_file_name_loses_the_control(control, tmp_path):
    name = f"invoice{control}fdp.exe"
    assert clean_name(name) == "invoicefdp.exe"
    stored = FileStore(tmp_path).save(io.BytesIO(b"%PDF-1.4"), name)
    assert stored.name == "invoicefdp.exe"


@pytest.mark.parametrize("control", CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
def test_a_flow_title_and_its_attachment_names_lose_the_control(engine, people, control):
    attachment = {"name": f"合同{control}fdp.exe", "size": 10, "sha256": "a" * 64}
    form = {**CONTRACT, "title": f"空调{control}采购合同", "text": [attachment]}
    fid = engine.start(people["huangyong"], "contract_review", form).flow_id
    record = engine.history(fid)
    assert record.title == "空调采购合同"
    assert [f["name"] for f in record.form["text"]] == ["合同fdp.exe"]


@pytest.mark.parametrize("control", CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
def test_a_message_subject_loses_the_control(engine, people, control):
    fid = messages.send(engine, people["liming"], to_users=[people["wangfang"]],
                        subject=f"会议{control}通知", body="明天九点").flow_id  # fmt: skip
    view = messages.view(engine, people["wangfang"], fid)
    assert view.subject == "会议通知"
