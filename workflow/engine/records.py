"""What the engine's queries return: workbench rows and a flow's whole record."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class WorkRow:
    """One line of a workbench tab."""

    item_id: int
    flow_id: int
    title: str
    definition: str
    definition_name: str
    step: str
    step_name: str
    role: str
    status: str
    initiator: str
    flow_state: str
    delivered_at: datetime
    confirmed_at: datetime | None
    handled_at: datetime | None


@dataclass
class DingState:
    """The latest DING (a message's, or an urge) to one person's work item, and how many."""

    channel: str
    sent_at: datetime
    #: sent (queued to the channel) | delivered (the channel accepted it) | failed
    status: str
    delivered_at: datetime | None
    failure: str | None
    confirmed_at: datetime | None
    count: int = 1
    #: who sent the latest one
    sender: str = ""
    #: a DING to this item waits for the person's 确认收到
    pending: bool = False


@dataclass(frozen=True)
class Note:
    """Why a work item changed hands (``workflow.engine.reassign``): from whom, to whom, and
    why — ``leaver`` (they left) or ``moved`` (they moved to another unit)."""

    from_name: str
    to_name: str
    reason: str


@dataclass
class PersonPart:
    item_id: int
    user_id: int
    name: str
    role: str
    status: str
    delivered_at: datetime | None
    confirmed_at: datetime | None
    handled_at: datetime | None
    action: str | None
    decision: str | None
    opinion: str | None
    #: the latest DING (urge) to this person about this item, if any
    ding: DingState | None = None
    #: the reassignment that closed this item (its holder left or moved) or that made it
    reassigned: Note | None = None
    #: the unit the person was in when the item was made (kept when they move, Art. 11)
    unit: str | None = None


@dataclass
class VisitRecord:
    seq: int
    step: str
    step_name: str
    via: str
    entered_at: datetime
    left_at: datetime | None
    rejected: bool
    people: list[PersonPart] = field(default_factory=list)
    #: when the step's deadline falls, counted from entered_at (None: the step has no deadline)
    due_at: datetime | None = None
    #: still open (the flow is at this visit) and past due_at by the engine's clock
    overdue: bool = False
    #: what the system did when the deadline passed: forward, end or escalate (None: nothing)
    timeout: str | None = None


@dataclass
class FlowRecord:
    """A flow with every step visited and every person's part: the stuff of the flow sheet."""

    id: int
    title: str
    definition: str
    definition_name: str
    definition_version: int
    definition_id: int
    state: str
    outcome: str | None
    version: int
    form: dict[str, Any]
    initiator_id: int
    initiator: str
    started_at: datetime
    ended_at: datetime | None
    audit_seq: int
    audit_head: str
    visits: list[VisitRecord]
