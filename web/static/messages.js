/* Banli messages: the unread badge, the message list and the receipts table kept live by polling.
   Loaded as a file on every signed-in page (CSP: script-src 'self'); the pages work without it.
   The server renders the rows (same templates as the page), so every text stays translated. */
(function () {
  "use strict";

  var EVERY = 4000;

  function getJSON(url) {
    return window.fetch(url, {
      credentials: "same-origin",
      cache: "no-store",
      headers: { Accept: "application/json" }
    }).then(function (response) {
      if (!response.ok || response.redirected) {
        throw new Error("poll " + response.status);
      }
      return response.json();
    });
  }

  // Ask url every few seconds while the page is visible (and at once when it becomes visible);
  // one request at a time; a failure (signed out, offline) just waits for the next turn.
  function poll(url, apply) {
    var busy = false;
    function tick() {
      if (busy || document.hidden) {
        return;
      }
      busy = true;
      getJSON(url).then(apply).catch(function () {}).then(function () { busy = false; });
    }
    window.setInterval(tick, EVERY);
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden) {
        tick();
      }
    });
  }

  function setBadge(el, n) {
    if (!el || typeof n !== "number") {
      return;
    }
    if (el.textContent !== String(n)) {
      el.textContent = String(n);
    }
    el.hidden = n === 0;
  }

  function replaceIfChanged(el, html) {
    if (el && typeof html === "string" && el.dataset.html !== html) {
      el.innerHTML = html;
      el.dataset.html = html;
    }
  }

  function start() {
    if (!window.fetch) {
      return;
    }
    var navBadge = document.getElementById("nav-unread");
    var list = document.querySelector("[data-live-messages-url]");
    var receipts = document.querySelector("[data-live-receipts-url]");

    if (list) {
      // The message list: its rows, the unread badges (the poll also serves the navigation).
      var rows = document.getElementById("message-rows");
      if (rows) {
        rows.dataset.html = rows.innerHTML;
      }
      poll(list.dataset.liveMessagesUrl, function (data) {
        setBadge(navBadge, data.unread);
        setBadge(document.getElementById("box-unread"), data.unread);
        replaceIfChanged(rows, data.rows);
      });
    } else {
      var nav = document.querySelector("[data-unread-url]");
      if (nav) {
        poll(nav.dataset.unreadUrl, function (data) { setBadge(navBadge, data.unread); });
      }
    }

    if (receipts) {
      var table = document.getElementById("receipts-live");
      var summary = document.getElementById("read-summary");
      if (table) {
        table.dataset.html = table.innerHTML;
      }
      poll(receipts.dataset.liveReceiptsUrl, function (data) {
        replaceIfChanged(table, data.html);
        if (summary && typeof data.summary === "string" && summary.textContent !== data.summary) {
          summary.textContent = data.summary;
        }
      });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
