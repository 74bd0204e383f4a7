"""The flow sheet (流程单): a flow's form, steps, people, opinions and effect times, as text."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from workflow.engine.records import FlowRecord
from workflow.engine.timeouts import ACTION_ZH as TIMEOUT
from workflow.spec.model import Definition

ROLE = {"host": "主办", "handler": "经办", "co_signer": "会签"}
ACTION = {
    "forward": "转交下一步",
    "end": "结束流程",
    "finish": "办理完毕",
    "sign": "会签",
    "return": "退回",
    "withdraw": "撤回",
}
STATE = {"ended": "已结束", "withdrawn": "已撤回"}
OUTCOME = {"approved": "同意", "rejected": "不同意"}
DECISION = {"approve": "同意", "reject": "不同意"}
#: a work item handed to a successor (workflow.engine.reassign), and why, on every sheet
REASSIGNED = "已转办"
REASSIGN_NOTE = {
    "leaver": "因 %(name)s 离职，转由 %(to)s 办理",
    "moved": "因 %(name)s 调动，转由 %(to)s 办理",
}


def width(text: str) -> int:
    """Columns a string takes in a terminal: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, cols: int) -> str:
    return text + " " * max(0, cols - width(text))


def form_lines(spec: Definition, form: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value as shown) for every field of the form, in declared order."""
    out = []
    for f in spec.form:
        value = form.get(f.key)
        if value is None:
            shown = ""
        elif f.type == "choice":
            shown = next((c.label.zh for c in f.choices or () if c.value == value), str(value))
        elif f.type == "money":
            shown = f"{Decimal(value):,.2f}"
        elif f.type == "files":
            shown = "；".join(x["name"] for x in value)
        elif isinstance(value, list):
            shown = "、".join(str(v) for v in value)
        else:
            shown = str(value)
        out.append((f.label.zh, shown))
    return out


def render_text(
    rec: FlowRecord,
    spec: Definition,
    local: Callable[[datetime], str],
    organisation: str = "",
    verify_url: str = "",
) -> str:
    """The flow sheet as plain text (UTF-8), the way ``banli sheet`` prints it; ``verify_url``
    (``workflow.paper.verify_url``) is the page that checks it."""

    def t(at: datetime | None) -> str:
        return local(at) if at else "—"

    state = STATE.get(
        rec.state,
        f"进行中（{spec.steps[rec.state].name.zh}）" if rec.state in spec.steps else rec.state,
    )
    if rec.outcome:
        state += f"（{OUTCOME.get(rec.outcome, rec.outcome)}）"
    lines = [
        f"{organisation}  {rec.definition_name} 流程单".strip(),
        "=" * 72,
        f"流程编号：{rec.id}    标题：{rec.title}",
        f"发起人：{rec.initiator}    发起时间：{t(rec.started_at)}    状态：{state}",
        f"类型：{spec.name.zh}（{spec.id} v{rec.definition_version}）",
        "",
        "【表单】",
    ]
    labels = form_lines(spec, rec.form)
    col = max((width(label) for label, _ in labels), default=0) + 2
    lines += [f"  {pad(label + '：', col)}{value}" for label, value in labels]
    lines += ["", "【办理过程】"]
    for v in rec.visits:
        mark = "（会签否决）" if v.rejected else ""
        system = f"    系统：{TIMEOUT.get(v.timeout, v.timeout)}" if v.timeout else ""
        lines.append(
            f"{v.seq}. {v.step_name}{mark}    到达：{t(v.entered_at)}    离开：{t(v.left_at)}{system}"
        )
        for p in v.people:
            did = (
                ACTION.get(p.action or "", "")
                if p.status == "done"
                else REASSIGNED
                if p.action == "reassign"
                else ("未办理（已关闭）" if p.status == "cancelled" else "待办")
            )
            if p.decision:
                did += f"：{DECISION[p.decision]}"
            who = f"{p.name}（{p.unit}）" if p.unit else p.name  # the unit then (Art. 11)
            lines.append(f"   {pad(ROLE[p.role], 5)}{pad(who, 24)} {did}")
            lines.append(
                f"      送达 {t(p.delivered_at)}  确认 {t(p.confirmed_at)}  处理 {t(p.handled_at)}"
            )
            if p.reassigned:
                note = REASSIGN_NOTE.get(p.reassigned.reason, REASSIGN_NOTE["leaver"])
                lines.append("      " + note % {"name": p.reassigned.from_name,
                                                "to": p.reassigned.to_name})  # fmt: skip
            if p.opinion:
                lines.append(f"      意见：{p.opinion}")
    lines += [
        "",
        f"审计链：{rec.audit_seq} 条事件，链头 {rec.audit_head}",
    ]
    if verify_url:
        lines.append(f"核对此流程单与系统记录是否一致，请打开：{verify_url}")
    return "\n".join(lines) + "\n"
