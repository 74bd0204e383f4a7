"""Checking the paper: is a chain head printed on a flow sheet this flow's head now, or an earlier one?

The flow sheet prints its flow's chain head and a QR code of ``<base>/verify?flow=N&head=H``.
:func:`check_paper` answers for that page and for ``banli audit verify --flow N --head H``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.audit import verify_chain
from workflow.errors import NotFound
from workflow.integrity import check_flow
from workflow.store.db import Database
from workflow.store.models import AuditEvent, Flow

DEFAULT_BASE_URL = "http://127.0.0.1:5000"
_HEX = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class EventRef:
    """One event of a flow's chain, as the paper check names it."""

    seq: int
    kind: str
    at: datetime


@dataclass
class PaperCheck:
    """What a printed chain head says about flow ``flow_id``."""

    flow_id: int
    head: str
    #: the event after which ``head`` was the chain head; None: not in this flow's chain
    found: EventRef | None
    #: ``head`` is the flow's head now (its last event and the head recorded on the flow)
    current: bool
    #: events appended after ``found`` (what the paper does not show yet)
    since: list[EventRef] = field(default_factory=list)
    #: the chain's first broken link, if it is broken
    chain_problem: str | None = None
    #: rows that differ from the events behind them (see :func:`problems_beyond_chain`)
    problems: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        """``current``, ``earlier`` or ``unknown`` (not a head of this flow's chain)."""
        if self.found is None:
            return "unknown"
        return "current" if self.current else "earlier"

    @property
    def intact(self) -> bool:
        return self.chain_problem is None and not self.problems

    @property
    def ok(self) -> bool:
        """The paper is the record as it stands, and the record verifies."""
        return self.current and self.intact


def normalise(head: str) -> str:
    return "".join(head.split()).lower()


def check_paper(s: Session, flow_id: int, head: str) -> PaperCheck:
    """Find ``head`` in flow ``flow_id``'s chain and verify the chain.

    Raises:
        NotFound: there is no flow ``flow_id``.
    """
    stored = s.execute(select(Flow.audit_seq, Flow.audit_head).where(Flow.id == flow_id)).first()
    if stored is None:
        raise NotFound("flow_not_found", flow=flow_id)
    chain = f"flow:{flow_id}"
    events = list(
        s.scalars(select(AuditEvent).where(AuditEvent.chain == chain).order_by(AuditEvent.seq))
    )
    broken = verify_chain(chain, events, (stored.audit_seq, stored.audit_head))
    wanted = normalise(head)
    at = None
    if _HEX.fullmatch(wanted):
        at = next((i for i, ev in enumerate(events) if ev.hash == wanted), None)
    refs = [EventRef(ev.seq, ev.kind, ev.at) for ev in events]
    return PaperCheck(
        flow_id=flow_id,
        head=wanted,
        found=refs[at] if at is not None else None,
        current=at is not None and at == len(events) - 1 and wanted == stored.audit_head,
        since=refs[at + 1 :] if at is not None else [],
        chain_problem=str(broken) if broken is not None else None,
        problems=problems_beyond_chain(s, flow_id),
    )


def problems_beyond_chain(s: Session, flow_id: int) -> list[str]:
    """What the flow's rows show that its events do not say (``flow N: work item M: …``).

    The replay check (:func:`workflow.integrity.check_flow`, the chain itself being checked
    here already): a forged opinion or amount under an intact chain is named on the verify page
    and by ``banli audit verify --flow``.
    """
    return [str(m) for m in check_flow(s, flow_id, chain=False)]


def verify_url(base: str, flow_id: int, head: str) -> str:
    """The page that checks this sheet: ``<base>/verify?flow=N&head=H``."""
    return f"{base.rstrip('/')}/verify?{urlencode({'flow': flow_id, 'head': head})}"


def qr_svg(url: str) -> str:
    """``url`` as a QR code, an inline ``<svg>`` (vector: crisp on paper, no image file)."""
    import segno

    code = segno.make(url, error="m", micro=False)
    return code.svg_inline(scale=1, border=4, omitsize=True, svgclass="sheet-qr", lineclass=None)


def check(db: Database, flow_id: int, head: str) -> PaperCheck:
    """:func:`check_paper` in a read transaction of its own (the verify page's one call)."""
    with db.read() as s:
        return check_paper(s, flow_id, head)
