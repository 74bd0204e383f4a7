"""``banli org``: the organisation from the terminal — units, people, import, leavers, sessions,
administrators. Each area's commands live in its own module (``workflow/cli_org_*.py``) and
are attached to this group below; every command names its administrator with ``--as LOGIN``
and is checked against that person's scope (``workflow.access``) like the pages.

An area's module (``workflow/cli_org_units.py`` …) defines its click commands or group, importing
``workflow/cli_org_common.py`` for the engine and the administrator, and is attached below with
one ``org.add_command(...)`` line."""

from __future__ import annotations

import click

from workflow import cli_org_leavers
from workflow.cli_org_admins import admins
from workflow.cli_org_directory import directory
from workflow.cli_org_people import people
from workflow.cli_org_sessions import sessions, signins
from workflow.cli_org_units import mobile_group, roles_group, units_group


@click.group("org")
def org() -> None:
    """The organisation: units, people, leavers, sessions, administrators (Art. 7-17, 29-31)."""


# Each area's commands, attached one line each:
org.add_command(admins)
org.add_command(directory)
org.add_command(sessions)
org.add_command(signins)
org.add_command(units_group)
org.add_command(roles_group)
org.add_command(mobile_group)
org.add_command(people)
cli_org_leavers.attach(org)  # last: it joins the people area's `people` group
