/* Banli: small helps over pages that work without JavaScript. Loaded as a file (CSP: script-src 'self'). */
(function () {
  "use strict";

  function all(selector, root) {
    return Array.prototype.slice.call((root || document).querySelectorAll(selector));
  }

  // A form marked data-once is sent once: a second click while the first is on its way does nothing.
  // (The server refuses a repeat anyway; this spares the person the "already handled" page.)
  function sendOnce() {
    all("form[data-once]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (form.dataset.sent) {
          event.preventDefault();
          return;
        }
        form.dataset.sent = "1";
      });
    });
    // Coming back with the browser's Back button must give usable forms again.
    window.addEventListener("pageshow", function () {
      all("form[data-sent]").forEach(function (form) { delete form.dataset.sent; });
    });
  }

  // Buttons with data-confirm ask first (ending as rejected, withdrawing, …).
  function confirmations() {
    all("[data-confirm]").forEach(function (button) {
      button.addEventListener("click", function (event) {
        if (!window.confirm(button.dataset.confirm)) {
          event.preventDefault();
        }
      });
    });
  }

  // The forward form is rendered inline (works without JavaScript); here it becomes a dialog
  // opened by a button.
  function dialogs() {
    if (typeof window.HTMLDialogElement !== "function") {
      return;
    }
    all("dialog.inline-dialog").forEach(function (dialog) {
      dialog.removeAttribute("open");
      dialog.classList.remove("inline-dialog");
      // a form the server sent back with a field error stays open, the error in view
      if (dialog.querySelector(".field-error")) {
        dialog.showModal();
      }
    });
    all(".js-only[hidden]").forEach(function (el) { el.hidden = false; });
    all("[data-open-dialog]").forEach(function (button) {
      button.addEventListener("click", function () {
        var dialog = document.getElementById(button.dataset.openDialog);
        if (dialog) {
          dialog.showModal();
        }
      });
    });
    all("[data-close-dialog]").forEach(function (button) {
      button.addEventListener("click", function () {
        button.closest("dialog").close();
      });
    });
  }

  // The next step and its people: show only the chosen step's people. A hidden fieldset is also
  // disabled, so its choices are not sent.
  function choosers() {
    all("[data-chooser]").forEach(function (chooser) {
      var select = chooser.querySelector("[data-step-select]");
      if (!select) {
        return;
      }
      function show() {
        all("fieldset[data-step]", chooser).forEach(function (fieldset) {
          var on = select.value === "" || fieldset.dataset.step === select.value;
          fieldset.hidden = !on;
          fieldset.disabled = !on;
        });
      }
      select.addEventListener("change", show);
      show();
    });
  }

  // The definition's diagram: Mermaid source in <pre class="mermaid">, drawn by the vendored
  // mermaid.min.js. If drawing fails the source stays readable.
  function diagrams() {
    var nodes = all("pre.mermaid");
    if (!nodes.length || !window.mermaid) {
      return;
    }
    window.mermaid.initialize({ startOnLoad: false, securityLevel: "strict", theme: "neutral" });
    window.mermaid.run({ nodes: nodes, suppressErrors: true });
  }

  // The workbench's tab counts, kept live (Art. 14: a computer and a phone see the same state
  // within seconds): every 5 s the page asks data-live-counts-url for the counts and updates the
  // badges; when more work has arrived to do, a notice offers to reload. Texts come translated
  // from the page's data attributes.
  function liveCounts() {
    var nav = document.querySelector("[data-live-counts-url]");
    if (!nav || !window.fetch) {
      return;
    }
    var badge = document.getElementById("count-todo");
    var seen = badge ? parseInt(badge.textContent, 10) || 0 : 0;
    var busy = false;

    function notice() {
      var box = document.getElementById("live-notice");
      if (box) {
        return;
      }
      box = document.createElement("p");
      box.id = "live-notice";
      box.className = "flash live-notice";
      box.setAttribute("role", "status");
      box.appendChild(document.createTextNode(nav.dataset.newTodoText + " "));
      var link = document.createElement("a");
      link.href = window.location.href;
      link.textContent = nav.dataset.reloadText;
      box.appendChild(link);
      nav.parentNode.insertBefore(box, nav.nextSibling);
    }

    function poll() {
      if (busy || document.hidden) {
        return;
      }
      busy = true;
      window.fetch(nav.dataset.liveCountsUrl, {
        credentials: "same-origin",
        cache: "no-store",
        headers: { Accept: "application/json" }
      }).then(function (response) {
        if (!response.ok || response.redirected) {
          throw new Error("counts " + response.status);
        }
        return response.json();
      }).then(function (counts) {
        Object.keys(counts).forEach(function (key) {
          var el = document.getElementById("count-" + key);
          if (el && el.textContent !== String(counts[key])) {
            el.textContent = String(counts[key]);
          }
        });
        if (typeof counts.todo === "number") {
          if (counts.todo > seen) {
            notice();
          }
          seen = counts.todo;
        }
      }).catch(function () {
        // Signed out or offline: the page still works; the next poll tries again.
      }).then(function () {
        busy = false;
      });
    }

    window.setInterval(poll, 5000);
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden) {
        poll();
      }
    });
  }

  function start() {
    sendOnce();
    confirmations();
    dialogs();
    choosers();
    diagrams();
    liveCounts();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
