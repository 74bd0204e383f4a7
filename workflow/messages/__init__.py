"""Messages and DINGs (Art. 19-20): flows of ``definitions/message.yaml`` on the same engine.

A message is one flow. :func:`send` starts it and forwards it at once to its ``sent`` step,
which delivers one work item per recipient (users, and the active members of units and of the
units below them, expanded at send time). A recipient's item carries the life-cycle as the
three legal effects of Art. 6:

- *sent*: the item exists, ``delivered_at`` empty;
- *delivered*: :func:`mark_delivered` (the person's device fetched their messages) or a channel
  accepted a DING to them (:func:`ding_delivered`);
- *failed*: a channel delivery failed for good (:func:`ding_failed`): the reason is kept in
  ``failure``, and it is never a delivery effect;
- *confirmed* (已读): opened (:func:`read`), a file downloaded, or a DING confirmed;
- *handled*: replied (:func:`reply`), relayed (:func:`relay`) or deleted (:func:`delete`).

The sender may :func:`revoke` (撤回) within the step's ``revoke_within``; recipients then see
"已撤回" instead of the text. :func:`ding` fires the step's ``ding`` transition, whose guard
takes one of the sender's daily DINGs in the database (``workflow.dings``, shared with urging) and whose
callback queues one channel delivery per recipient. Every change appends to the flow's audit
chain, in the same transaction as the change.

The package, one concept per module: ``sending`` (send, reply, relay, recipients), ``actions``
(read, confirm a DING, delete, revoke, DING), ``hooks`` (the machine's revoke and ding guards and
callbacks, registered in ``workflow.engine.hooks``), ``delivery`` (delivery outcomes),
``queries`` (lists and the message view), ``receipts``, ``keys`` (request keys),
``preferences`` (a person's DING channel) and ``common``. Callers use the names below:
``from workflow import messages; messages.send(...)``.
"""

from __future__ import annotations

from workflow.errors import FlowClosed
from workflow.messages.actions import (
    DingResult,
    confirm_ding,
    delete,
    delete_sent,
    ding,
    read,
    revoke,
)
from workflow.messages.common import MAX_RECIPIENTS, MESSAGE, SENT, NobodyToDing, RevokeExpired
from workflow.messages.delivery import (
    delivery_hooks,
    ding_delivered,
    ding_failed,
    fetch_unread,
    mark_delivered,
)
from workflow.messages.hooks import ding_allowed, dinged, revoke_allowed, revoke_until
from workflow.messages.keys import KEY_KEPT
from workflow.messages.preferences import ding_channel, set_ding_channel
from workflow.messages.queries import (
    MessageList,
    MessageRow,
    MessageView,
    received,
    sent,
    unread_count,
    view,
)
from workflow.messages.receipts import Receipt, receipts
from workflow.messages.sending import recipients, relay, reply, send

__all__ = [
    "KEY_KEPT",
    "MAX_RECIPIENTS",
    "MESSAGE",
    "SENT",
    "DingResult",
    "FlowClosed",
    "MessageList",
    "MessageRow",
    "MessageView",
    "NobodyToDing",
    "Receipt",
    "RevokeExpired",
    "confirm_ding",
    "delete",
    "delete_sent",
    "delivery_hooks",
    "ding",
    "ding_allowed",
    "ding_channel",
    "ding_delivered",
    "ding_failed",
    "dinged",
    "fetch_unread",
    "mark_delivered",
    "read",
    "receipts",
    "received",
    "recipients",
    "relay",
    "reply",
    "revoke",
    "revoke_allowed",
    "revoke_until",
    "send",
    "sent",
    "set_ding_channel",
    "unread_count",
    "view",
]
