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

  function start() {
    sendOnce();
    confirmations();
    dialogs();
    choosers();
    diagrams();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
