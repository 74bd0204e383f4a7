"""The flow sheet (流程单) as an A4 HTML page and as PDF: one Jinja2 template for web and CLI."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from workflow.engine.records import FlowRecord
from workflow.paper import qr_svg
from workflow.sheet import (
    ACTION,
    DECISION,
    REASSIGN_NOTE,
    REASSIGNED,
    ROLE,
    STATE,
    TIMEOUT,
    form_lines,
)
from workflow.spec.model import Definition

WEB = Path(__file__).resolve().parent.parent / "web"
TEMPLATES = WEB / "templates"
STATIC = WEB / "static"
TRANSLATIONS = WEB / "translations"
#: Form fields that carry a document number (文号), shown in the sheet's head.
NUMBER_FIELDS = ("original_number", "document_number")

# The sheet's own words in Chinese. A compiled catalogue in web/translations wins where it has a
# msgid; these keep the sheet Chinese (PRODUCT.md: "printable on A4 and as PDF, in Chinese")
# with or without one. Role, action and decision words are those of the text sheet.
ZH = {
    "%(name)s flow sheet": "%(name)s 流程单",
    "Flow sheet": "流程单",
    "Flow number": "流程编号",
    "Document number": "文号",
    "Title": "标题",
    "Initiator": "发起人",
    "Started at": "发起时间",
    "Ended at": "结束时间",
    "State": "状态",
    "Type": "类型",
    "Form": "表单",
    "Steps": "办理过程",
    "Role": "角色",
    "Name": "姓名",
    "%(name)s (%(unit)s)": "%(name)s（%(unit)s）",
    "Action": "办理",
    "Opinion": "意见",
    "Delivered": "送达",
    "Confirmed": "确认",
    "Handled": "处理",
    "Arrived": "到达",
    "Left": "离开",
    "Host": ROLE["host"],
    "Handler": ROLE["handler"],
    "Co-signer": ROLE["co_signer"],
    "Forwarded": ACTION["forward"],
    "Ended the flow": ACTION["end"],
    "Finished": ACTION["finish"],
    "Countersigned": ACTION["sign"],
    "Returned": ACTION["return"],
    "Withdrew": ACTION["withdraw"],
    "Approved": DECISION["approve"],
    "Rejected": DECISION["reject"],
    "To do": "待办",
    "Not handled (closed)": "未办理（已关闭）",
    "Reassigned": REASSIGNED,
    "Reassigned to %(to)s: %(name)s left": REASSIGN_NOTE["leaver"],
    "Reassigned to %(to)s: %(name)s moved to another unit": REASSIGN_NOTE["moved"],
    "countersign vetoed": "会签否决",
    "System": "系统",
    "Forwarded automatically on timeout": TIMEOUT["forward"],
    "Ended automatically on timeout": TIMEOUT["end"],
    "Escalated on timeout": TIMEOUT["escalate"],
    "Ended": STATE["ended"],
    "Withdrawn": STATE["withdrawn"],
    "In progress (%(step)s)": "进行中（%(step)s）",
    "%(state)s (%(outcome)s)": "%(state)s（%(outcome)s）",
    "%(what)s: %(how)s": "%(what)s：%(how)s",
    "Audit chain": "审计链",
    "%(count)s events, chain head": "%(count)s 条事件，链头",
    "Scan the code, or open the verify page below, to check this sheet against the system's "
    "records.": "扫描二维码，或打开下方的核对页面，即可核对此流程单与系统记录是否一致。",
    "QR code: check this flow sheet": "二维码：核对此流程单",
    "Printed": "打印时间",
    "Printed by": "打印人",
    "Page %(page)s of %(pages)s": "第 %(page)s 页 / 共 %(pages)s 页",
}
_COUNTER = re.compile("\x00(page|pages)\x00")


def language(code: str | None) -> str:
    """The sheet's language for a locale code: English for en*, Chinese for anything else."""
    return "en" if str(code or "").lower().startswith("en") else "zh"


def translator(lang: str, gettext: Callable[[str], str] | None = None) -> Callable[..., str]:
    """``_(msgid, **values)`` in ``lang``: the catalogue's text, else the sheet's own Chinese for zh.

    ``gettext`` is the web's (flask_babel's) where there is one; without it, a compiled catalogue
    in web/translations is used if there is one, else the msgids (English) themselves.
    """
    lang = language(lang)
    catalogue = gettext or _catalogue(lang)

    def _(msgid: str, **values: Any) -> str:
        text = catalogue(msgid)
        if text == msgid and lang == "zh":
            text = ZH.get(msgid, msgid)
        return text % values if values else text

    return _


@cache
def _catalogue(lang: str) -> Callable[[str], str]:
    from babel.support import Translations

    return Translations.load(str(TRANSLATIONS), [lang]).gettext


def form_rows(spec: Definition, form: dict[str, Any], lang: str) -> list[tuple[str, str]]:
    """(label, value) of every form field in ``lang``; Chinese exactly as the text sheet has it."""
    rows = form_lines(spec, form)
    if language(lang) == "zh":
        return rows
    out = []
    for field, (_label, shown) in zip(spec.form, rows, strict=True):
        value = form.get(field.key)
        if field.type == "choice" and value is not None:
            shown = next((c.label.en for c in field.choices or () if c.value == value), shown)
        elif field.type == "files" and value:
            shown = "; ".join(x["name"] for x in value)
        elif isinstance(value, list):
            shown = ", ".join(str(v) for v in value)
        out.append((field.label.en, shown))
    return out


def document_number(record: FlowRecord) -> str:
    """The document number (文号) the form carries, or an empty string."""
    return next((str(record.form[k]) for k in NUMBER_FIELDS if record.form.get(k)), "")


def page_css(_: Callable[..., str], organisation: str, flow_id: int) -> str:
    """@page margin boxes in the sheet's language: who and which flow, and "page X of Y"."""
    footer = _("Page %(page)s of %(pages)s", page="\x00page\x00", pages="\x00pages\x00")
    parts = _COUNTER.split(footer)  # text, counter name, text, counter name, text
    pages = " ".join(
        f"counter({p})" if i % 2 else _css_string(p) for i, p in enumerate(parts) if p or i % 2
    )
    left = _css_string(f"{organisation}  {_('Flow sheet')} · {_('Flow number')} {flow_id}".strip())
    return f"@page {{ @bottom-left {{ content: {left}; }} @bottom-right {{ content: {pages}; }} }}"


def _css_string(text: str) -> str:
    # A CSS string inside <style>: quotes and backslashes escaped, and no "<" to end the element.
    for raw, escaped in (("\\", "\\\\"), ('"', '\\"'), ("<", "\\3c "), ("\n", " ")):
        text = text.replace(raw, escaped)
    return f'"{text}"'


def sheet_context(
    record: FlowRecord,
    spec: Definition,
    stamp: Callable[[datetime], str],
    organisation: str,
    lang: str,
    *,
    gettext: Callable[[str], str] | None = None,
    printed_at: datetime | None = None,
    printed_by: str = "",
    verify_url: str = "",
) -> dict[str, Any]:
    """What the templates in web/templates/sheet need, and nothing from Flask.

    ``verify_url`` (``workflow.paper.verify_url``) is printed with its QR code, so a clerk can
    check the paper against the system.
    """
    lang = language(lang)
    _ = translator(lang, gettext)
    type_name = spec.name.get(lang)
    step_names = {key: step.name.get(lang) for key, step in spec.steps.items()}
    return {
        "sheet_gettext": _,
        "record": record,
        "lang": lang,
        "html_lang": "en" if lang == "en" else "zh-CN",
        "organisation": organisation,
        "type_name": type_name,
        "title": _("%(name)s flow sheet", name=type_name),
        "document_number": document_number(record),
        "form_rows": form_rows(spec, record.form, lang),
        "step_names": step_names,
        "stamp": lambda at: stamp(at) if at else "—",
        "printed_at": stamp(printed_at or datetime.now(UTC)),
        "printed_by": printed_by,
        "page_css": page_css(_, organisation, record.id),
        "verify_url": verify_url,
        # segno's SVG: only its own markup and the URL's modules, safe to put in the page as is
        "verify_qr": qr_svg(verify_url) if verify_url else "",
    }


@cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(record: FlowRecord, spec: Definition, stamp: Callable[[datetime], str],
                organisation: str, lang: str, **options: Any) -> str:  # fmt: skip
    """The flow sheet as a standalone HTML document (stylesheet linked as ``sheet.css``)."""
    context = sheet_context(record, spec, stamp, organisation, lang, **options)
    return _environment().get_template("sheet/document.html").render(context)


def render_pdf(record: FlowRecord, spec: Definition, stamp: Callable[[datetime], str],
               organisation: str, lang: str, **options: Any) -> bytes:  # fmt: skip
    """The flow sheet as an A4 PDF with its fonts embedded (WeasyPrint).

    Args:
        record: the flow's history (``Engine.history``).
        spec: the definition version the flow runs on.
        stamp: formats a UTC time in the organisation's time zone, to the second.
        organisation: the name printed at the head of the sheet.
        lang: ``zh`` or ``en``.
        options: ``gettext``, ``printed_at``, ``printed_by``, ``verify_url`` (see
            ``sheet_context``).

    Returns:
        The PDF file's bytes.
    """
    from weasyprint import HTML

    html = render_html(record, spec, stamp, organisation, lang, **options)
    base = STATIC.as_uri() + "/"
    return HTML(string=html, base_url=base, url_fetcher=_static_fetcher()).write_pdf()


def _static_fetcher() -> Any:
    """A URL fetcher for web/static only: whatever a sheet holds, the PDF reads no other file.

    One per render: WeasyPrint's fetcher keeps the request it is opening on itself.
    """
    from urllib.parse import unquote, urlsplit

    from weasyprint.urls import URLFetcher

    class StaticOnly(URLFetcher):
        def fetch(self, url: str, headers: Any = None) -> Any:
            path = Path(unquote(urlsplit(url).path)).resolve()
            if not url.startswith("file:") or not path.is_relative_to(STATIC):
                raise ValueError(f"the flow sheet loads files from web/static only, not {url}")
            return super().fetch(url, headers)

    return StaticOnly(allowed_protocols=("file",), fail_on_errors=True)
