"""Assertions the engine tests share."""

from __future__ import annotations


def assert_effects_in_order(engine, flow_id):
    """delivered ≤ confirmed ≤ handled for every item; only done items have a handling time."""
    for visit in engine.history(flow_id).visits:
        for p in visit.people:
            assert p.delivered_at >= visit.entered_at
            if p.confirmed_at is not None:
                assert p.delivered_at <= p.confirmed_at
            assert (p.handled_at is not None) == (p.status == "done")
            if p.handled_at is not None:
                assert p.confirmed_at is not None and p.confirmed_at <= p.handled_at
