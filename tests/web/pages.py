"""Page helpers for the real-browser tests: one person per context, clicking what the pages show.

They select by ids, names and values (the templates' stable hooks), never by visible words, so
they hold while the pages' strings are being translated.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.test_sheet_pdf import pdf_text
from tests.web.browser import sign_in
from tests.web.conftest import PASSWORD

#: A time as the record shows it (engine.stamp): local time to the second.
STAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")


#: The vendored Mermaid (3.5 MB) parsed on every flow and item page is most of these tests' time;
#: they stand in an empty script for it (the page keeps the diagram's source, as without
#: JavaScript). tests/web/test_flows.py checks in a browser that the diagram is drawn.
NO_DIAGRAM = "**/static/mermaid.min.js"


def _no_diagram(route) -> None:
    route.fulfill(status=200, content_type="text/javascript", body="/* no diagram */")


class Person:
    """One person in a browser context of their own, signed in."""

    def __init__(self, new_page, base: str, login: str, diagrams: bool = False) -> None:
        self.base = base
        self.login = login
        self.page = new_page()
        if not diagrams:
            self.page.context.route(NO_DIAGRAM, _no_diagram)
        self.dialogs: list[str] = []  # the data-confirm prompts this person was asked, accepted
        self.watch(self.page)
        sign_in(self.page, base, login, PASSWORD)

    def watch(self, page) -> None:
        """Accept every confirm() the page asks (data-confirm buttons), and keep its words."""

        def accept(dialog) -> None:
            self.dialogs.append(dialog.message)
            dialog.accept()

        page.on("dialog", accept)

    def tab(self):
        """Another tab of this person (same context: same session)."""
        page = self.page.context.new_page()
        self.watch(page)
        return page

    def goto(self, path: str, page=None):
        response = (page or self.page).goto(self.base + path)
        assert response is not None and response.ok, f"{path}: {response and response.status}"
        return response

    # --- the workbench and the pages it leads to ----------------------------------------------

    def open_from_workbench(self, flow_id: int) -> int:
        """Click the flow's row on the to-do tab; returns the work item the link opens."""
        row = self.page.locator(f"#worklist tr[data-flow='{flow_id}']")
        if self.page.url != f"{self.base}/" or not row.count():  # signing in ends on to-do
            self.goto("/")
        item = int(row.get_attribute("data-item") or 0)
        with self.page.expect_navigation():
            row.locator("td.title a").click()
        assert self.page.url == f"{self.base}/items/{item}", self.page.url
        return item

    def start(self, key: str, fields: dict[str, str], files: dict[str, Path] | None = None,
              opinion: str | None = None) -> int:  # fmt: skip
        """From 发起 (/start), the approval type's form: fill, attach, submit; returns the flow id."""
        self.goto("/start")
        with self.page.expect_navigation():
            self.page.click(f"#kinds a[href$='/start/{key}']")
        form = self.page.locator("form.start-form")
        for name, value in fields.items():
            field = form.locator(f"[name='{name}']")
            if field.evaluate("e => e.tagName") == "SELECT":
                field.select_option(value)
            else:
                field.fill(value)
        for name, path in (files or {}).items():
            form.locator(f"input[type=file][name='{name}']").set_input_files(path)
        if opinion:
            self.page.fill("#start-opinion", opinion)
        response = self.submit(form.locator("button[type=submit]"))
        assert response.ok, self.page.inner_text("main")
        found = re.fullmatch(rf"{re.escape(self.base)}/flows/(\d+)", self.page.url)
        assert found, (self.page.url, self.page.inner_text("main"))
        return int(found[1])

    # --- acting on one's work item -------------------------------------------------------------

    def submit(self, button, page=None):
        """Click a submit button and wait for the page it leads to; returns that page's response
        (after redirects: a 302 back to the item comes back as the item page's 200)."""
        with (page or self.page).expect_navigation() as nav:
            button.click()
        return nav.value

    def forward(self, host: int | None = None, handlers: tuple[int, ...] = (),
                opinion: str | None = None, to: str | None = None, page=None):  # fmt: skip
        """Open the forward dialog, choose the host and handlers of the next step, send."""
        page = page or self.page
        dialog = page.locator("#forward-dialog")
        page.click("[data-open-dialog=forward-dialog]")
        assert dialog.is_visible()
        if to is not None and dialog.locator("select[name=to]").count():
            dialog.locator("select[name=to]").select_option(to)
        step = to or dialog.locator("[name=to]").first.input_value()
        if host is not None:
            dialog.locator(f"select[name='host.{step}']").select_option(str(host))
        if handlers:
            dialog.locator(f"select[name='handlers.{step}']").select_option(
                [str(h) for h in handlers]
            )
        if opinion:
            dialog.locator("#forward-opinion").fill(opinion)
        return self.submit(dialog.locator("button[type=submit]"), page)

    def post_from_page(self, action: str, **fields: str):
        """Send a form the page does not offer, with the page's CSRF token and flow version (as a
        hand-made or outdated form would): what the server answers is what the person sees."""
        with self.page.expect_navigation() as nav:
            self.page.evaluate(
                """([action, fields]) => {
                    const form = document.createElement("form");
                    form.method = "post";
                    form.action = action;
                    const add = (name, value) => {
                        const input = document.createElement("input");
                        input.type = "hidden";
                        input.name = name;
                        input.value = value;
                        form.appendChild(input);
                    };
                    add("csrf_token", document.querySelector("input[name=csrf_token]").value);
                    add("version", document.querySelector("input[name=version]").value);
                    for (const [name, value] of Object.entries(fields)) add(name, value);
                    document.body.appendChild(form);
                    form.submit();
                }""",
                [action, fields],
            )
        return nav.value

    # --- what the pages say ----------------------------------------------------------------------

    def flash(self) -> str:
        flashes = self.page.locator("main .flash")
        assert flashes.count() == 1, self.page.inner_text("main")
        return flashes.inner_text()

    def part(self, item_id: int, page=None):
        """The row of one person's part (a work item) in a flow's record of steps."""
        return (page or self.page).locator(f"#timeline tr#part-{item_id}")

    def sheet_pdf(self, flow_id: int, tmp_path: Path) -> str:
        """From the flow page: the flow sheet's print view, then its PDF fetched in this person's
        session and saved in tmp_path; returns the PDF's text as ``pdftotext -layout`` reads it."""
        self.goto(f"/flows/{flow_id}")
        with self.page.expect_navigation():
            self.page.click("#sheet-link")
        assert self.page.url == f"{self.base}/flows/{flow_id}/sheet"
        assert self.page.locator("#sheet").is_visible()
        assert self.page.locator("#print-sheet").is_visible()
        href = self.page.get_attribute("#sheet-pdf", "href")
        response = self.page.request.get(self.base + href)
        assert response.status == 200, response.status
        assert response.headers["content-type"] == "application/pdf"
        data = response.body()
        assert data.startswith(b"%PDF-")
        (tmp_path / f"flow-sheet-{flow_id}.pdf").write_bytes(data)
        return pdf_text(data, tmp_path)


def flat(text: str) -> str:
    """Text without its white space: pdftotext -layout spreads table cells and wraps lines."""
    return re.sub(r"\s+", "", text)
