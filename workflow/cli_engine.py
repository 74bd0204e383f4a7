"""The engine a ``banli`` command works on, made from the settings read once by the command group."""

from __future__ import annotations

import click

from workflow.settings import Settings


def command_engine(settings: Settings):
    from workflow.engine import Engine
    from workflow.store.db import Database

    # the worker and the command line may wait longer for a lock than a web request
    engine = Engine(
        Database(settings.database_url, lock_timeout=settings.lock_timeout), settings=settings
    )
    ctx = click.get_current_context(silent=True)
    if ctx is not None:  # the command closes its connections when it is done
        ctx.call_on_close(engine.db.dispose)
    return engine
