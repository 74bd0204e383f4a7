"""Domain errors: every refusal of the engine is one of these, with a code and its params.

The class says what kind of refusal it is (the web maps kinds to HTTP statuses); ``code`` names
the sentence in the catalogue (``workflow/refusals.py``) and ``params`` carry what the sentence
names. ``str(exc)`` is the English sentence.
"""

from __future__ import annotations

from typing import Any

from workflow.refusals import FieldError, Fields, render


class BanliError(Exception):
    """Base of every error the engine raises on purpose; the web layer maps kinds to HTTP codes."""

    #: ``invalid`` → 400, ``forbidden`` → 403, ``not_found`` → 404, ``conflict`` → 409,
    #: ``busy`` → 503, ``too_many`` → 429
    kind = "invalid"

    def __init__(self, code: str, /, **params: Any) -> None:
        self.code = code
        self.params = params
        self.message = render(code, params)
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    @property
    def details(self) -> dict[str, Any]:
        """The params under their former name, for code written before the rename."""
        return self.params

    def __reduce__(self) -> Any:
        return (_rebuild, (type(self), self.code, self.params))


class NotFound(BanliError):
    """A flow, work item, user, unit or definition that does not exist (or that the actor may not see)."""

    kind = "not_found"


class Hidden(NotFound):
    """A flow or work item the actor may not see, or that does not exist: to them, the same.

    Its message names what was asked for, never whether it exists or whose it is.
    """


class Forbidden(BanliError):
    """The actor may not do this: not their item, not the host, not the initiator."""

    kind = "forbidden"


class NotYourItem(Forbidden):
    """The work item belongs to someone else."""


class RoleNotAllowed(Forbidden):
    """The actor's part in the step does not allow this: only the host forwards, ends or returns,
    only a handler finishes, only a co-signer signs."""


#: The former name (it was raised for every role, not only for a missing host).
NotHost = RoleNotAllowed


class Conflict(BanliError):
    """The state moved on since the actor looked: a double click, a stale page, a race."""

    kind = "conflict"


class AlreadyHandled(Conflict):
    """The work item (or the step) was already handled by someone, at some time."""


class StaleVersion(Conflict):
    """The flow changed since the page that sent this action was rendered."""


class FlowClosed(Conflict):
    """The flow has ended or was withdrawn; nothing more can happen at its steps."""


class InvalidAction(BanliError):
    """The action is not allowed here: wrong step, waiting rule unmet, unknown next step, …"""


class WaitingRuleUnmet(InvalidAction):
    """The host must wait for handlers or co-signers before forwarding or ending."""


class FormInvalid(BanliError):
    """The form failed validation; ``errors`` maps each field key to its :class:`FieldError`."""

    def __init__(self, errors: dict[str, FieldError]) -> None:
        super().__init__("form_invalid", fields=Fields(errors))
        self.errors = errors

    def __reduce__(self) -> Any:
        return (type(self), (self.errors,))


class PeopleInvalid(InvalidAction):
    """A chosen host, handler or co-signer is not among the candidates the definition allows."""


class DefinitionError(BanliError):
    """A definition file is broken; ``problems`` lists every ``file:line: message``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("definition_invalid", problems="\n".join(problems))
        self.problems = problems
        self.message = self.params["problems"]  # the CLI and the loader's tests read file:line

    def __reduce__(self) -> Any:
        return (type(self), (self.problems,))


class Busy(BanliError):
    """The database is locked by another writer or read-only: nothing was changed, try again."""

    kind = "busy"

    def __init__(self, code: str = "database_busy", /, **params: Any) -> None:
        super().__init__(code, **params)


class RateLimited(BanliError):
    """Too many requests of one kind in a short time (the directory's guard against scraping);
    ``retry_at`` says when the next one is accepted."""

    kind = "too_many"

    @property
    def retry_at(self) -> Any:
        """When the next request is accepted (an aware datetime)."""
        return self.params.get("until")


def _rebuild(cls: type[BanliError], code: str, params: dict[str, Any]) -> BanliError:
    """An error again from its code and params (pickling: a job's failure crosses processes)."""
    return cls(code, **params)
