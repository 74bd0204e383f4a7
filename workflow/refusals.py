"""The catalogue of refusals: every refusal's code and its English sentence, marked for Babel.

An error of ``workflow/errors.py`` (and a form field's message, :class:`FieldError`) carries a
``code`` from here and the ``params`` its sentence names. The engine and the command line say
the English sentence (``render(code, params)``); the web looks the same sentence up as a msgid in
its zh catalogue and fills in the params as the person reads them (``render`` with the page's
``gettext`` and time formatting). Nobody parses a sentence.

To add a refusal: add ``"code": N_("sentence with %(param)s")`` below, raise ``SomeError("code",
param=…)``, run ``pybabel extract`` (``make messages``) and translate the msgid in
``web/translations/zh/LC_MESSAGES/messages.po``. ``tests/test_refusal_catalogue.py`` fails on a
raise whose code is missing here or whose sentence has no Chinese.

Params are plain values, or one of the small types below when a word must be translated too:
a :class:`Term` (a role, "the system"), a list (names, joined in the language's list style), an
:class:`Either` ("the host or a handler"), a :class:`Size` (bytes, shown as "1.0 GB"), and
aware datetimes (each door shows them in the organisation's time zone).

Long because: it is a catalogue — one line per refusal the product can say, grouped by area —
and a catalogue is read (and translated, and reviewed for tone) whole; split per area, a new
code would have to pick a file and duplicates between areas would go unseen.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any


def N_(sentence: str) -> str:
    """Mark a sentence for extraction (``pybabel extract -k N_``); translated where it is shown."""
    return sentence


class Term(str):
    """A word of :data:`TERMS` inside a sentence, translated with it ("the host" → "主办人")."""


class Either(tuple):
    """Words joined by "or" in the reader's language ("the host or a handler")."""


class Size(int):
    """A number of bytes, shown as people read sizes ("1.0 GB")."""


class Quoted(str):
    """A value someone typed, quoted the reader's way ('abc' in English, “abc” in Chinese)."""


def quoted(value: Any, most: int = 40) -> str:
    """``value`` as a refusal quotes it: text as :class:`Quoted`, anything else as its repr;
    never a page of digits (cut to ``most`` characters)."""
    if isinstance(value, str):
        return Quoted(value if len(value) <= most - 2 else f"{value[: most - 5]}...")
    text = repr(value)
    return text if len(text) <= most else f"{text[: most - 3]}..."


class Label(dict):
    """A definition's name in both languages (``{"zh": …, "en": …}``), shown in the reader's."""


class Step(str):
    """A step by its id, as the engine names it; a Chinese reader reads the step's Chinese name."""

    zh: str

    def __new__(cls, step_id: str, zh: str) -> Step:
        self = super().__new__(cls, step_id)
        self.zh = zh
        return self

    def __reduce__(self) -> Any:
        return (Step, (str(self), self.zh))


class Duration(str):
    """A span a definition states ("24 hours", "3 working days"), said in the reader's language."""


class Fields(dict):
    """Each bad field of a form with its :class:`FieldError` ("title: is required; …")."""


# --- words used inside sentences ---------------------------------------------------------------
TERMS: dict[str, str] = {
    "the host": N_("the host"),
    "a handler": N_("a handler"),
    "a co-signer": N_("a co-signer"),
    "a reader": N_("a reader"),
    "the sender": N_("the sender"),
    "a recipient": N_("a recipient"),
    "handlers": N_("handlers"),
    "co-signers": N_("co-signers"),
    "nobody": N_("nobody"),
    "none (it can only end the flow)": N_("none (it can only end the flow)"),
    "the system": N_("the system"),
    "an unknown time": N_("an unknown time"),
    "account": N_("account"),
    "address": N_("address"),
    # administrators' capabilities (workflow.access.CAPABILITIES)
    "people": N_("people and units"),
    "types": N_("approval types"),
    "messages": N_("messages and DING"),
    "stats": N_("statistics"),
    "jobs": N_("system jobs"),
}
LIST_SEPARATOR = N_(", ")
EITHER = N_("%(a)s or %(b)s")
FIELD_SEPARATOR = N_("; ")
FIELD = N_("%(field)s: %(problem)s")
QUOTE = N_("'%(value)s'")
#: the language a ``gettext`` translates into, as the catalogue of that language says it
LANGUAGE = N_("en")
DURATIONS = {
    "minute": N_("%(n)s minutes"),
    "hour": N_("%(n)s hours"),
    "day": N_("%(n)s days"),
    "working day": N_("%(n)s working days"),
}

# --- refusals: code → sentence -----------------------------------------------------------------
SENTENCES: dict[str, str] = {
    # flows, items, people that are not there (or not for this person)
    "flow_not_found": N_("flow %(flow)s does not exist"),
    "flow_hidden": N_("flow %(flow)s does not exist or you have no part in it"),
    "item_not_found": N_("work item %(item)s does not exist"),
    "item_hidden": N_("work item %(item)s does not exist or you have no part in it"),
    "item_not_yours": N_("work item %(item)s belongs to %(owner)s, not to you"),
    "actor_not_active": N_("user %(user)s does not exist or is not active"),
    "user_not_found": N_("no user with id %(user)s"),
    "unit_not_found": N_("no unit with id %(unit)s"),
    "approval_type_unknown": N_("there is no approval type '%(key)s'"),
    "definition_version_not_found": N_("definition version %(version)s does not exist"),
    "start_forbidden": N_("you may not start '%(name)s'"),
    # the state moved on
    "item_already_handled": N_("this work item was already handled by %(by)s at %(at)s; nothing was "
                                "changed"),
    "step_already_handled": N_("this step was already handled by %(by)s at %(at)s; nothing was "
                                "changed"),
    "flow_ended": N_("this flow was already ended by %(by)s at %(at)s; nothing was "
                      "changed"),
    "flow_withdrawn": N_("this flow was already withdrawn by %(by)s at %(at)s; nothing was "
                          "changed"),
    "message_revoked": N_("this message was already revoked by %(by)s at %(at)s; nothing was "
                           "changed"),
    "stale_version": N_("flow %(flow)s changed since your page was loaded (version %(seen)s, "
                        "now %(now)s): reload it and try again"),
    "stale_concurrent": N_("flow %(flow)s was changed by someone else at the same time"),
    # who may act
    "role_not_allowed": N_("only %(allowed)s of this step may do this; you are %(role)s"),
    "withdraw_not_initiator": N_("only the initiator may withdraw a flow"),
    "urge_not_allowed": N_("only the host of this step or the flow's initiator may urge it"),
    "urge_self": N_("you cannot urge yourself: this work item is your own"),
    "retry_not_admin": N_("only an active administrator may retry a job; %(name)s is not one"),
    "unlock_not_admin": N_("only an active administrator may lift a sign-in lock; %(name)s is "
                           "not one"),
    # where the flow may go
    "trigger_not_possible": N_("'%(trigger)s' is not possible at step '%(step)s'"),
    "outcome_unknown": N_("outcome must be approved or rejected, not %(value)s"),
    "decision_unknown": N_("decision must be approve or reject, not %(value)s"),
    "next_step_none": N_("step '%(step)s' has no next step for this form; it can only end the "
                         "flow"),
    "next_step_choose": N_("choose the next step: %(options)s"),
    "not_a_next_step": N_("'%(to)s' is not a next step of '%(step)s'; the next steps are: "
                          "%(allowed)s"),
    "condition_false": N_("the flow cannot go to '%(to)s': its condition %(condition)s does not "
                          "hold for this form"),
    "timeout_target_invalid": N_("the flow cannot go to '%(to)s': it is not a next step of "
                                 "'%(step)s' whose condition holds for this form"),
    "step_cannot_end": N_("step '%(step)s' (%(step_id)s) cannot end the flow"),
    "step_cannot_end_unless_vetoed": N_("step '%(step)s' (%(step_id)s) cannot end the flow; only "
                                        "a vetoed countersign may be ended here, as rejected"),
    "return_first_step": N_("this is the first step: there is nothing to return to"),
    "return_not_visited": N_("the flow can only be returned to an earlier step it visited, not "
                             "to '%(to)s'"),
    "withdraw_too_late": N_("the flow can no longer be withdrawn: %(name)s opened it at %(at)s"),
    "waiting_rule_unmet": N_("step '%(step)s' waits for %(need)s of %(total)s handlers and "
                             "co-signers (%(done)s done); still waiting for: %(waiting)s"),
    "countersign_vetoed": N_("the countersign of this step was vetoed: end the flow as rejected "
                             "or return it"),
    # the people of the next step
    "host_choose": N_("choose the host of step '%(step)s' among: %(candidates)s"),
    "host_nobody": N_("nobody can host step '%(step)s': no active person matches %(rule)s"),
    "host_not_candidate": N_("%(names)s may not host step '%(step)s'; the candidates are: "
                             "%(candidates)s"),
    "people_set_by_definition": N_("the %(what)s of step '%(step)s' are set by the definition "
                                   "(%(rule)s); they cannot be chosen"),
    "people_nobody_matches": N_("step '%(step)s' needs %(what)s but no active person matches "
                                "%(rule)s"),
    "people_not_candidates": N_("%(names)s may not be %(what)s of step '%(step)s'; the "
                                "candidates are: %(candidates)s"),
    "people_count_range": N_("choose at least %(min)s and at most %(max)s %(what)s for step "
                             "'%(step)s' (%(chosen)s chosen)"),
    "people_count_min": N_("choose at least %(min)s %(what)s for step '%(step)s' (%(chosen)s "
                           "chosen)"),
    # lists and searches
    "tab_unknown": N_("tab must be one of %(allowed)s, not %(value)s"),
    "cursor_invalid": N_("this page's link is not one the list made (%(value)s); start again "
                          "from the first page"),
    "state_unknown": N_("state must be one of %(allowed)s, not %(value)s"),
    "day_out_of_range": N_("a day searched must lie between %(first)s and %(last)s, not %(day)s"),
    # messages and DINGs
    "request_key_invalid": N_("the form's one-time key must be 1 to 64 characters"),
    "request_key_lost": N_("this form was sent before, but its message cannot be found"),
    "message_no_recipient": N_("the message has no recipient: choose people or units with "
                               "active members other than yourself"),
    "message_too_many_recipients": N_("a message may reach at most %(max)s people; this one "
                                      "would reach %(count)s"),
    "recipient_inactive": N_("user %(user)s is not active and cannot receive messages"),
    "reply_empty": N_("a reply needs a text or a file"),
    "reply_not_recipient": N_("only a recipient of the message may reply to it or relay it"),
    "not_a_message": N_("flow %(flow)s is not a message"),
    "message_not_found": N_("message %(message)s does not exist"),
    "message_hidden": N_("message %(message)s does not exist or you have no part in it"),
    "message_not_sent_by_you": N_("message %(message)s does not exist or was not sent by you"),
    "message_never_sent": N_("message %(message)s was never sent"),
    "revoke_not_sender": N_("only the sender may revoke a message"),
    "ding_not_sender": N_("only the sender may DING a message"),
    "receipts_not_sender": N_("only the sender sees who received and read a message"),
    "revoke_expired": N_("the message can no longer be revoked: a message may be revoked for "
                         "%(within)s after it is sent, until %(until)s"),
    "revoke_closed": N_("the message can no longer be revoked"),
    "ding_not_recipient": N_("user %(user)s is not a recipient of this message"),
    "nobody_to_ding": N_("everyone has already confirmed this message: nobody to DING"),
    "ding_quota_exceeded": N_("you have reached today's limit of %(limit)s DINGs"),
    "channel_unknown": N_("unknown channel %(value)s; expected one of %(allowed)s"),
    # the jobs queue and sign-in locks
    "job_not_found": N_("job %(job_id)s does not exist"),
    "job_not_dead": N_("job %(job_id)s (%(kind)s) is %(status)s, not dead: only a dead job can "
                       "be retried"),
    "signin_nothing_counted": N_("no failed sign-ins are counted for %(scope)s %(key)s"),
    # files
    "file_empty": N_("the file '%(name)s' is empty"),
    "file_too_large": N_("the file '%(name)s' is larger than the limit of %(limit)s bytes"),
    "upload_quota_exceeded": N_("the file '%(name)s' would take you past your storage quota of "
                                "%(quota)s (%(left)s left)"),
    # the database
    "database_busy": N_("the database is busy (locked or read-only); nothing was changed, try "
                        "again shortly"),
    "database_locked": N_("the database is locked: nothing was changed, try again shortly"),
    "database_read_only": N_("the database is read-only: nothing was changed, try again shortly"),
    # definitions and their conditions (said to whoever loads a definition)
    "definition_invalid": N_("the definition is not valid:\n%(problems)s"),
    "condition_empty": N_("condition %(condition)s is empty"),
    "condition_too_long": N_("condition is longer than %(max)s characters"),
    "condition_invalid": N_("condition %(condition)s is not a valid expression: %(reason)s"),
    "condition_refused": N_("condition %(condition)s %(refusal)s"),
    "condition_failed": N_("condition %(condition)s could not be evaluated: %(error)s"),
    "condition_not_number": N_("field %(field)s is not a number: %(value)s"),
    # a form as a whole (its fields' messages are below)
    "form_invalid": N_("the form is not valid: %(fields)s"),
    # refusals of the web pages themselves (web/): a page's form, an address, a page's access
    "flow_attachment_not_found": N_("flow %(flow)s has no attachment %(sha256)s"),
    "message_attachment_not_found": N_("message %(message)s has no attachment %(sha256)s"),
    "people_choice_invalid": N_("some chosen people are not valid; choose them again"),
    "recipients_choice_invalid": N_("some chosen recipients are not valid; choose them again"),
    "page_outdated": N_("the flow changed since this page was loaded: reload it and try again"),
    "ding_choose_people": N_("choose the people to DING"),
    "ding_choose_channel": N_("choose how the DING is sent"),
    "admin_only": N_("only administrators may see this page"),
    "admin_capability_missing": N_("%(name)s may not administer %(capability)s"),
    "admin_unit_out_of_scope": N_("%(name)s may not administer %(capability)s in %(unit)s"),
    "admin_only_jobs": N_("only administrators may see the system jobs"),
    "sheet_not_yours": N_("only the initiator and administrators can print the flow sheet"),
    "sheet_not_ended": N_("the flow sheet can be printed once the flow has ended"),
    # --- organisation: units, people, roles (workflow/org/units.py, people.py) ---
    "person_hidden": N_("person %(user)s does not exist or is not yours to administer"),
    "unit_close_people": N_("%(unit)s cannot be closed: %(count)s people are still in it "
                            "(%(first)s first); move them or remove them first"),
    "unit_close_units": N_("%(unit)s cannot be closed: %(count)s open units are below it "
                           "(%(first)s first); close or move them first"),
    "unit_already_closed": N_("%(unit)s was already closed at %(at)s"),
    "role_already_held": N_("%(name)s already holds the role %(role)s in %(unit)s"),
    "role_not_held": N_("%(name)s does not hold the role %(role)s in %(unit)s"),
    "unit_code_invalid": N_("must be letters, digits, '.', '_' or '-' (at most 64, starting "
                            "with a letter or digit), not %(value)s"),
    "unit_code_taken": N_("%(code)s is already the code of %(unit)s"),
    "unit_closed": N_("names %(unit)s, which is closed"),
    "unit_move_below_itself": N_("cannot be %(unit)s itself or a unit below it"),
    "role_unknown": N_("names no role the approval types assign by: %(value)s"),
    # (end of units, people, roles)

    # --- organisation: enrolment, invitations, import, mobile changes ---
    "mobile_too_many_requests": N_("you asked for %(count)s codes in the last hour: ask again "
                                   "after %(at)s"),
    "mobile_unchanged": N_("is already this person's number"),
    "mobile_code_wrong": N_("is not the code we sent; %(left)s tries left"),
    "mobile_code_expired": N_("has expired: ask for a new code"),
    "mobile_code_used_up": N_("was entered wrongly too many times: ask for a new code"),
    "mobile_code_none": N_("was not asked for: ask for a code first"),
    "mobile_code_format": N_("must be the 6 digits of the SMS"),
    "admin_person_hidden": N_("person %(person)s does not exist or is not among the people "
                              "you administer"),
    "person_name_digits": N_("must be a real name, not a number"),
    "person_name_placeholder": N_("must be the person's real name, not a placeholder such as "
                                  "%(value)s"),
    "person_name_chars": N_("must be a real name in letters, not %(value)s"),
    "person_mobile_invalid": N_("must be a mainland mobile number such as 13812345678, not "
                                "%(value)s"),
    "person_mobile_in_use_by": N_("is already the mobile of %(name)s"),
    "person_mobile_in_use": N_("is already in use"),
    "person_email_invalid": N_("must be an e-mail address such as name@example.com, not "
                               "%(value)s"),
    "person_unit_closed": N_("%(unit)s is closed and takes nobody new"),
    "person_unit_out_of_scope": N_("%(unit)s is not among the units whose people you "
                                   "administer"),
    "person_role_unknown": N_("names no role: %(roles)s (the roles are: %(known)s)"),
    "person_login_invalid": N_("must be 2 to 64 lower-case letters, digits, dots, dashes or "
                               "underscores, beginning with a letter, not %(value)s"),
    "person_login_taken": N_("%(value)s is already someone's login"),
    "invite_password_too_short": N_("must be at least %(min)s characters long"),
    "invite_password_is_login": N_("must not be your login or your mobile number"),
    "invite_password_mismatch": N_("does not match the password"),
    "invitation_invalid": N_("this invitation link is not valid: it may have expired, been used "
                             "already or been replaced by a newer one. Ask your administrator "
                             "to send a new one"),
    "invitation_not_invited": N_("%(name)s is not waiting for an invitation: the account is "
                                 "active or removed"),
    "import_too_large": N_("the file is larger than the limit of %(limit)s"),
    "import_too_many_rows": N_("the sheet has more than %(limit)s rows: split it into smaller "
                               "sheets"),
    "import_empty": N_("the sheet is empty: it needs a header row and one row per person"),
    "import_not_sheet": N_("%(name)s is not a spreadsheet: upload a file in %(formats)s"),
    "import_broken_xlsx": N_("the XLSX file cannot be read: it is damaged or not really an "
                             "XLSX file. Save it again from the spreadsheet program, or as CSV"),
    "import_columns_missing": N_("the sheet's header row lacks the columns %(missing)s"),
    "import_changed": N_("the people changed since the dry run you confirmed: look at the new "
                         "dry run and confirm again"),
    "import_mobile_twice": N_("is also on row %(rows)s of the sheet"),
    "import_login_twice": N_("%(value)s is on more than one row of the sheet"),
    "import_login_mismatch": N_("this mobile belongs to the person with login %(login)s"),
    # (end of enrolment, invitations, import, mobile changes)

    # --- organisation: moves and leavers (reassignment) ---
    "person_not_found": N_("no person %(person)s among the people you administer"),
    "person_already_removed": N_("%(name)s was already removed by %(by)s at %(at)s"),
    "person_removed": N_("%(name)s has been removed and cannot be moved"),
    "remove_self": N_("you cannot remove yourself; ask another administrator"),
    "remove_main_admin": N_("%(name)s is the main administrator: transfer that role to someone "
                            "else first"),
    "reassign_reason_unknown": N_("unknown reason for a reassignment: %(value)s"),
    "successor_required": N_("is required: %(name)s has %(count)s open work items to hand over"),
    "successor_unknown": N_("names nobody among the people you administer: %(value)s"),
    "successor_is_person": N_("must be someone other than %(name)s"),
    "successor_removed": N_("cannot be %(name)s: that account has been removed"),
    "successor_invited": N_("cannot be %(name)s: that person has not yet accepted the invitation"),
    "move_unit_unknown": N_("names no unit you administer: %(value)s"),
    "move_unit_closed": N_("%(unit)s is closed and takes nobody new"),
    "move_unit_same": N_("%(name)s is already in %(unit)s"),
    "return_host_left": N_("%(name)s, who hosted step '%(step)s', has left: the flow cannot be "
                           "returned there; forward it instead"),
    # (end of moves and leavers)

    # --- organisation: sessions, presence, sign-in statistics ---
    "session_not_found": N_("that session is not one of your open sessions (it may have ended "
                            "already)"),
    "signin_stats_not_allowed": N_("%(name)s may not see sign-in statistics: they are for "
                                   "administrators with statistics and for unit heads"),
    "field_before_start": N_("must not be before the start date %(start)s"),
    "field_range_too_long": N_("covers %(days)s days; at most %(max)s days are allowed"),
    "field_not_time": N_("must be a time of day such as %(example)s, not %(value)s"),
    # (end of sessions, presence, sign-in statistics)

    # --- organisation: the directory ---
    "directory_rate_limited": N_("you have opened the directory %(count)s times in %(minutes)s "
                                 "minutes, the most allowed; try again after %(until)s"),
    "directory_person_not_found": N_("there is nobody with id %(person)s in the directory"),
    "directory_unit_not_found": N_("there is no open unit with id %(unit)s"),
    "directory_viewer_inactive": N_("only signed-in staff may read the directory"),
    "directory_unit_unknown": N_("names a unit that does not exist or is closed: %(units)s"),
    # (end of the directory)

    # --- organisation: administrators and scopes ---
    "admin_not_main": N_("only the main administrator may do this; %(name)s is not"),
    "admin_not_appointed": N_("%(name)s is not a sub-administrator (revoked already?)"),
    "admin_person_is_main": N_("%(name)s is the main administrator and holds every capability"),
    "admin_no_capability": N_("choose at least one capability"),
    "admin_unit_closed": N_("the unit %(unit)s is closed"),
    "admin_transfer_self": N_("you are the main administrator already: choose another person"),
    # (end of administrators and scopes)

    # --- form fields: said after the field's label ------------------------------------------
    "field_unknown": N_("is not a field of this form"),
    "field_required": N_("is required"),
    "field_not_text": N_("must be text, not %(type)s"),
    "field_nul": N_("must not contain NUL characters"),
    "field_too_long": N_("is %(length)s characters long; at most %(max)s are allowed"),
    "field_below_min": N_("must be at least %(min)s"),
    "field_above_max": N_("must be at most %(max)s"),
    "field_not_whole": N_("must be a whole number, not %(value)s"),
    "field_too_large": N_("is too large"),
    "field_not_amount": N_("must be an amount such as %(example)s, not %(value)s"),
    "field_amount_decimals": N_("must be an amount with at most two decimals, not %(value)s"),
    "field_negative": N_("must not be negative"),
    "field_not_date": N_("must be a date such as %(example)s, not %(value)s"),
    "field_not_choice": N_("must be one of %(allowed)s, not %(value)s"),
    "field_no_person": N_("names no active person: %(value)s"),
    "field_not_people": N_("must be a list of people"),
    "field_no_unit": N_("names no unit: %(value)s"),
    "field_not_files": N_("must be a list of attachments"),
    "attachment_incomplete": N_("attachment %(n)s must give name, size and sha256"),
    "attachment_no_name": N_("attachment %(n)s has no valid file name"),
    "attachment_no_size": N_("attachment %(n)s (%(name)s) has no valid size"),
    "attachment_no_sha256": N_("attachment %(n)s (%(name)s) has no valid sha256"),
    "field_file_empty": N_("the file %(name)s is empty"),
    "field_upload_quota": N_("the file %(name)s would take you past your storage quota of "
                             "%(quota)s (%(left)s left); it was not kept"),
}  # fmt: skip


class FieldError(str):
    """One form field's message: its ``code`` and ``params``; as a str, the English sentence.

    A str so that code which only shows or compares the English keeps working unchanged.
    """

    code: str
    params: dict[str, Any]

    def __new__(cls, code: str, /, **params: Any) -> FieldError:
        self = super().__new__(cls, render(code, params))
        self.code, self.params = code, params
        return self

    def __reduce__(self) -> Any:
        return (_field_error, (self.code, self.params))


def _field_error(code: str, params: dict[str, Any]) -> FieldError:
    return FieldError(code, **params)


def _same(text: str) -> str:
    return text


def _minute(at: datetime) -> str:
    """A time in its own zone, to the minute (the engine passes times in the organisation's)."""
    return at.strftime("%Y-%m-%d %H:%M")


def filesize(size: int) -> str:
    """A byte count in B, KB, MB or GB."""
    shown = float(size)
    for unit in ("B", "KB", "MB"):
        if shown < 1024:
            return f"{shown:.0f} {unit}" if unit == "B" else f"{shown:.1f} {unit}"
        shown /= 1024
    return f"{shown:.1f} GB"


def render(
    code: str,
    params: Mapping[str, Any],
    *,
    gettext: Callable[[str], str] = _same,
    local: Callable[[datetime], str] = _minute,
) -> str:
    """The sentence of ``code`` with ``params`` filled in.

    ``gettext`` translates the sentence and the words in it (identity: English); ``local`` shows
    a time (default: as given, to the minute).
    """
    sentence = gettext(SENTENCES[code])
    values = {key: show(value, gettext=gettext, local=local) for key, value in params.items()}
    return sentence % values if "%" in sentence else sentence


def show(
    value: Any,
    *,
    gettext: Callable[[str], str] = _same,
    local: Callable[[datetime], str] = _minute,
) -> str:
    """One param as a reader reads it, in the language ``gettext`` translates to."""
    if isinstance(value, Term):
        return gettext(TERMS.get(value, value))
    if isinstance(value, Label):
        return str(value.get(gettext(LANGUAGE)) or value.get("en") or "")
    if isinstance(value, Step):
        return value.zh if gettext(LANGUAGE) == "zh" else str(value)
    if isinstance(value, Quoted):
        return gettext(QUOTE) % {"value": str(value)}
    if isinstance(value, datetime):
        return local(value)
    if isinstance(value, Size):
        return filesize(value)
    if isinstance(value, Duration):
        n, _, unit = value.strip().partition(" ")
        said = DURATIONS.get(unit.strip().rstrip("s"))
        return gettext(said) % {"n": n} if said and n.isdigit() else str(value)
    if isinstance(value, FieldError):
        return render(value.code, value.params, gettext=gettext, local=local)
    if isinstance(value, Fields):
        return gettext(FIELD_SEPARATOR).join(
            gettext(FIELD) % {"field": key, "problem": show(problem, gettext=gettext, local=local)}
            for key, problem in value.items()
        )
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, Either):
        words = [show(v, gettext=gettext, local=local) for v in value]
        out = words[0] if words else ""
        for word in words[1:]:
            out = gettext(EITHER) % {"a": out, "b": word}
        return out
    if isinstance(value, list | tuple):
        return gettext(LIST_SEPARATOR).join(show(v, gettext=gettext, local=local) for v in value)
    if value is None:
        return ""
    return str(value)
