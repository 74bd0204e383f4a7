/* The directory's search as one types: asks search.json (the same engine call as the form, with
   the same privacy and rate limit) and redraws the cards. Without it the form works as a GET. */
(function () {
  "use strict";
  var input = document.getElementById("dir-q");
  var list = document.getElementById("dir-results");
  if (!input || !list || !window.fetch) { return; }
  var timer = null;
  var asked = 0;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text) { node.textContent = text; }
    return node;
  }

  function card(p) {
    var li = el("li", "dir-card");
    li.id = "person-" + p.id;
    var dot = el("span", p.online ? "dot online" : "dot");
    dot.title = p.online ? list.dataset.onlineLabel : list.dataset.offlineLabel;
    li.appendChild(dot);
    var name = el("a", "name", p.name);
    name.href = "/directory/" + p.id;
    li.appendChild(name);
    if (p.post) { li.appendChild(el("span", "post", p.post)); }
    li.appendChild(el("span", "unit muted", p.unit));
    var mobile = el("span", "mobile");
    if (p.mobile) {
      var tel = el("a", null, p.mobile);
      tel.href = "tel:" + p.mobile;
      mobile.appendChild(tel);
    } else {
      mobile.appendChild(el("span", "muted", p.mobile_hidden ? list.dataset.hiddenLabel : "—"));
    }
    li.appendChild(mobile);
    if (p.email) {
      var mail = el("a", "email", p.email);
      mail.href = "mailto:" + p.email;
      li.appendChild(mail);
    }
    return li;
  }

  function show(people) {
    while (list.firstChild) { list.removeChild(list.firstChild); }
    people.forEach(function (p) { list.appendChild(card(p)); });
    if (!people.length) { list.appendChild(el("li", "empty muted", list.dataset.emptyLabel)); }
    var more = document.getElementById("dir-more");
    if (more) { more.parentNode.removeChild(more); }
  }

  function ask() {
    var q = input.value.trim();
    if (!q) { return; }
    var mine = ++asked;
    fetch(input.dataset.url + "?q=" + encodeURIComponent(q), {credentials: "same-origin",
      headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) { if (body && mine === asked) { show(body.people); } })
      .catch(function () { /* the form still works */ });
  }

  input.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(ask, 300);
  });
})();
