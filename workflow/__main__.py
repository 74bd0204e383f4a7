"""``python -m workflow``: the ``banli`` command, for environments without the console script."""

from workflow.cli import main

main(prog_name="banli")
