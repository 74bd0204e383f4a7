"""The shape of an approval definition: pydantic models that a YAML file is validated into."""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)
from typing_extensions import TypeAliasType

from workflow.limits import DEFINITION_STEPS_MAX, LABEL_MAX, PROSE_MAX, TEXT_MAX, TEXTAREA_MAX

IDENT = r"^[a-z][a-z0-9_]*$"
FieldType = Literal[
    "text", "textarea", "integer", "money", "date", "choice", "user", "users", "unit", "files"
]
FIELD_TYPES: tuple[str, ...] = get_args(FieldType)
NUMBER_TYPES = ("integer", "money")
#: The closed states: every machine has them besides the steps, and a flow in one no longer
#: changes. The one constant for them: the engine, its queries and the doors import it.
CLOSED_STATES = ("ended", "withdrawn")
#: "terminated" too: the design names it among the machine's states.
RESERVED_STEP_IDS = frozenset({*CLOSED_STATES, "terminated", "initial", "end"})
DEADLINE_RE = re.compile(r"^\s*(\d+)\s+(working days?|days?|hours?|minutes?)\s*$")
DURATION_HINT = "'3 working days', '2 days', '4 hours' or '30 minutes'"
#: What a step's timeout does when its deadline passes with the step still open.
TimeoutAction = Literal["forward", "end", "escalate"]


def _duration(value: str | None, what: str) -> str | None:
    match = DEADLINE_RE.match(value) if value is not None else None
    if value is not None and (match is None or int(match.group(1)) == 0):
        raise ValueError(f"{what} must read like {DURATION_HINT}, not {value!r}")
    return value


class Strict(BaseModel):
    """Unknown keys are errors: a typo in a definition must not be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Names(Strict):
    """A name in Simplified Chinese and English."""

    zh: str = Field(min_length=1, max_length=LABEL_MAX)
    en: str = Field(min_length=1, max_length=LABEL_MAX)

    def get(self, lang: str) -> str:
        return self.en if lang.startswith("en") else self.zh


class Prose(Names):
    """A description or help text in both languages: longer than a name may be."""

    zh: str = Field(min_length=1, max_length=PROSE_MAX)
    en: str = Field(min_length=1, max_length=PROSE_MAX)


class Choice(Strict):
    value: Annotated[str, Field(min_length=1)]
    label: Names


class FormField(Strict):
    key: Annotated[str, Field(pattern=IDENT)]
    type: FieldType
    label: Names
    required: bool = False
    choices: list[Choice] | None = None
    max_length: int | None = Field(default=None, gt=0)
    min: float | None = None
    max: float | None = None
    help: Prose | None = None

    @model_validator(mode="after")
    def _consistent(self) -> FormField:
        # messages leave out the field's key: the loader prefixes "field 'key': "
        if self.type == "choice" and not self.choices:
            raise ValueError("type choice needs a non-empty 'choices' list")
        if self.type != "choice" and self.choices is not None:
            raise ValueError(f"'choices' is given but the field is of type {self.type}")
        if self.choices:
            values = [c.value for c in self.choices]
            dupes = sorted({v for v in values if values.count(v) > 1})
            if dupes:
                raise ValueError(f"choices repeat the value {dupes[0]!r}")
        if (self.min is not None or self.max is not None) and self.type not in NUMBER_TYPES:
            raise ValueError(f"'min' and 'max' apply to integer and money fields, not {self.type}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min:g} is greater than max {self.max:g}")
        if self.max_length is not None and self.type not in ("text", "textarea"):
            raise ValueError(f"'max_length' applies to text and textarea fields, not {self.type}")
        most = TEXT_MAX if self.type == "text" else TEXTAREA_MAX
        if self.max_length is not None and self.max_length > most:
            raise ValueError(f"'max_length' of a {self.type} field may be at most {most}")
        return self


# --- who may be host / handlers / co-signers ---------------------------------------------------


class UserRef(Strict):
    """A named user, by login."""

    user: str = Field(min_length=1)


class RoleRef(Strict):
    """Holders of a role: anywhere, in a given unit, or in the initiator's unit (or nearest above)."""

    role: str = Field(min_length=1)
    unit: str | None = None
    of: Literal["initiator"] | None = None

    @model_validator(mode="after")
    def _one_scope(self) -> RoleRef:
        if self.unit is not None and self.of is not None:
            raise ValueError("a role reference takes either 'unit' or 'of', not both")
        return self


class UnitRef(Strict):
    """Any active member of a unit or of the units below it."""

    unit: str = Field(min_length=1)


class ChooseFrom(Strict):
    """The forwarding host chooses people among these candidates (the linter checks the counts)."""

    choose_from: list[Who]
    min: int = Field(default=1, ge=0)
    max: int | None = Field(default=None, ge=1)


WHO_SHAPES = (
    "initiator, anyone, {user: …}, {role: …}, {unit: …}, {choose_from: […]} or a list of these"
)


def _who_kind(value: Any) -> str | None:
    """Pick the one shape a value means by the keys present, so an error names that shape only."""
    if isinstance(value, str):
        return "who:word" if value in ("initiator", "anyone") else None
    if isinstance(value, list):
        return "who:list"
    if isinstance(value, BaseModel):
        return _WHO_TAGS.get(type(value))
    if isinstance(value, dict):
        # role before unit: {role: x, unit: y} is a role held in unit y
        for key in ("choose_from", "user", "role", "unit"):
            if key in value:
                return f"who:{key}"
    return None


#: the loader strips these tags from error locations; "who:" cannot clash with a key
Who = TypeAliasType(
    "Who",
    Annotated[
        Annotated[Literal["initiator", "anyone"], Tag("who:word")]
        | Annotated[UserRef, Tag("who:user")]
        | Annotated[RoleRef, Tag("who:role")]
        | Annotated[UnitRef, Tag("who:unit")]
        | Annotated[ChooseFrom, Tag("who:choose_from")]
        | Annotated[list["Who"], Tag("who:list")],
        Discriminator(_who_kind, custom_error_type="who", custom_error_message=WHO_SHAPES),
    ],
)
_WHO_TAGS: dict[type, str] = {
    UserRef: "who:user",
    RoleRef: "who:role",
    UnitRef: "who:unit",
    ChooseFrom: "who:choose_from",
}
ChooseFrom.model_rebuild()


class Next(Strict):
    """One allowed next step, with an optional condition over form fields."""

    to: Annotated[str, Field(pattern=IDENT)]
    when: str | None = None


class Timeout(Strict):
    """What happens when a step's deadline passes and it is still open: done by the system."""

    #: forward: to the next step (``to``, or the only one) with the people the definition names;
    #: end: end the flow as approved; escalate: hand the host's part to the host's superior
    action: TimeoutAction
    to: Annotated[str, Field(pattern=IDENT)] | None = None


class Step(Strict):
    name: Names
    host: Who
    handlers: Who | None = None
    co_signers: Who | None = None
    #: how the host waits for handlers and co-signers: all, any, none, or a share such as "2/3"
    wait: str = "all"
    #: what a co-signer's rejection does: veto (step goes back to the host, rejected) or record
    on_reject: Literal["veto", "record"] = "veto"
    can_end: bool = False
    deadline: str | None = None
    #: remind the people still open this long before the deadline, e.g. "4 hours"
    remind_before: str | None = None
    #: done by the system once the deadline passes with the step still open
    on_timeout: Timeout | None = None
    #: the host may DING the people of this step who have not confirmed (messages)
    ding: bool = False
    #: the initiator may revoke (撤回) the flow at this step for this long after entering it
    revoke_within: str | None = None
    next: list[Next] = Field(default_factory=list)

    @field_validator("next", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"to": item} if isinstance(item, str) else item for item in value]
        return value

    @field_validator("wait")
    @classmethod
    def _wait(cls, value: str) -> str:
        if value in ("all", "any", "none"):
            return value
        try:
            share = Fraction(value)
        except (ValueError, ZeroDivisionError):
            share = None
        if share is None or not 0 < share <= 1 or "/" not in value:
            raise ValueError(f"wait must be all, any, none or a share such as 2/3, not {value!r}")
        return value

    @field_validator("deadline", "remind_before", "revoke_within")
    @classmethod
    def _durations(cls, value: str | None, info: Any) -> str | None:
        return _duration(value, info.field_name)

    @model_validator(mode="after")
    def _timed(self) -> Step:
        if self.remind_before is not None and self.deadline is None:
            raise ValueError("'remind_before' needs a 'deadline' to count back from")
        if self.on_timeout is not None and self.deadline is None:
            raise ValueError("'on_timeout' needs a 'deadline' to pass")
        return self

    def wait_share(self) -> Fraction:
        """The share of handlers and co-signers the host waits for (0 for none, any is special)."""
        return {"all": Fraction(1), "none": Fraction(0), "any": Fraction(0)}.get(
            self.wait, Fraction(self.wait) if "/" in self.wait else Fraction(1)
        )


class Definition(Strict):
    """A whole approval type. The first step is the initiator's; its host must be ``initiator``."""

    id: Annotated[str, Field(pattern=IDENT)]
    #: approval (listed among approval types, on the workbench) or message (the message list)
    kind: Literal["approval", "message"] = "approval"
    name: Names
    description: Prose | None = None
    #: a Python format string over form keys giving the flow's title, e.g. "{title}"
    title: str | None = None
    #: who may start it: omitted means every employee
    starters: Who | None = None
    form: list[FormField] = Field(default_factory=list)
    steps: dict[str, Step] = Field(min_length=1, max_length=DEFINITION_STEPS_MAX)

    @property
    def first_step(self) -> str:
        return next(iter(self.steps))

    def field(self, key: str) -> FormField | None:
        return next((f for f in self.form if f.key == key), None)
