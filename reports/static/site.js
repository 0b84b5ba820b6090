/* fmreview site: sortable tables, list filters kept in the URL hash, client-side search.
   No network requests: the search index is a script (search-index.js) that sets window.FMREVIEW_INDEX,
   because browsers refuse fetch() of file:// URLs and the site must work opened from disk. */
(function () {
  "use strict";
  var root = document.body.getAttribute("data-root") || "";

  /* ---------------------------------------------------------------- sortable tables */
  function cellKey(td, type) {
    var v = td && td.hasAttribute("data-v") ? td.getAttribute("data-v") : (td ? td.textContent.trim() : "");
    if (type === "num") {
      var n = parseFloat(v);
      return isNaN(n) ? null : n;
    }
    return v.toLowerCase();
  }
  function sortBy(table, th, col, dir) {
    var type = th.getAttribute("data-type") || "text";
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows).map(function (r, i) {
      return { r: r, i: i, k: cellKey(r.cells[col], type) };
    });
    var sign = dir === "ascending" ? 1 : -1;
    rows.sort(function (a, b) {
      // empty cells last whatever the direction; ties keep their order (stable)
      if (a.k === null || b.k === null) { return (a.k === null) - (b.k === null) || a.i - b.i; }
      if (a.k < b.k) { return -sign; }
      if (a.k > b.k) { return sign; }
      return a.i - b.i;
    });
    rows.forEach(function (x) { body.appendChild(x.r); });
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    if (!table.tHead || !table.tBodies.length) { return; }
    var ths = Array.prototype.slice.call(table.tHead.rows[0].cells);
    ths.forEach(function (th, col) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "sort";
      while (th.firstChild) { b.appendChild(th.firstChild); }
      th.appendChild(b);
      th.setAttribute("aria-sort", "none");
      b.addEventListener("click", function () {
        var cur = th.getAttribute("aria-sort");
        var first = th.getAttribute("data-type") === "num" && th.getAttribute("data-higher") !== "no"
          ? "descending" : "ascending";
        var dir = cur === "none" ? first : (cur === "ascending" ? "descending" : "ascending");
        ths.forEach(function (t) { t.setAttribute("aria-sort", "none"); });
        th.setAttribute("aria-sort", dir);
        sortBy(table, th, col, dir);
      });
    });
  });

  /* ---------------------------------------------------------------- list filters */
  var form = document.querySelector("form[data-filters]");
  if (form) {
    var table = document.querySelector("table[data-list]");
    var rows = Array.prototype.slice.call(table.tBodies[0].rows);
    var count = document.querySelector("[data-count]");
    var noun = (count.textContent.split(" ").pop()) || "entries";
    var controls = Array.prototype.slice.call(form.elements).filter(function (e) {
      return e.getAttribute && e.getAttribute("data-filter");
    });
    var state = function () {
      var p = new URLSearchParams();
      controls.forEach(function (c) {
        if (c.type === "checkbox") { if (c.checked) { p.set(c.name, "yes"); } }
        else if (c.value.trim() !== "") { p.set(c.name, c.value.trim()); }
      });
      return p;
    };
    var matches = function (r, c) {
      var kind = c.getAttribute("data-filter");
      var v = c.type === "checkbox" ? (c.checked ? "yes" : "") : c.value.trim().toLowerCase();
      if (!v) { return true; }
      var year = parseInt(r.getAttribute("data-year"), 10);
      if (kind === "words") { return (" " + (r.getAttribute("data-" + c.name) || "") + " ").indexOf(" " + v + " ") >= 0; }
      if (kind === "flag") { return r.getAttribute("data-" + c.name) === "yes"; }
      if (kind === "since") { return !isNaN(year) && year >= parseInt(v, 10); }
      if (kind === "until") { return !isNaN(year) && year <= parseInt(v, 10); }
      if (kind === "text") { return (r.getAttribute("data-text") || "").indexOf(v) >= 0; }
      return true;
    };
    var apply = function () {
      var n = 0;
      rows.forEach(function (r) {
        var ok = controls.every(function (c) { return matches(r, c); });
        r.hidden = !ok;
        if (ok) { n += 1; }
      });
      count.textContent = (n === rows.length ? "" : n + " of ") + rows.length + " " + noun;
    };
    var writeHash = function () {
      var s = state().toString();
      if (location.hash.replace(/^#/, "") === s) { return; }
      try {
        history.replaceState(null, "", s ? "#" + s : location.pathname + location.search);
      } catch (e) {
        location.hash = s; // some browsers refuse replaceState for file:// pages
      }
    };
    var fromHash = function () {
      var p = new URLSearchParams(location.hash.replace(/^#/, ""));
      controls.forEach(function (c) {
        var v = p.get(c.name);
        if (c.type === "checkbox") { c.checked = p.has(c.name) && v !== "no" && v !== "false"; }
        else if (c.tagName === "SELECT") { c.value = v ? v.toLowerCase() : ""; if (c.selectedIndex < 0) { c.value = ""; } }
        else { c.value = v || ""; }
      });
      apply();
    };
    form.addEventListener("input", function () { apply(); writeHash(); });
    form.addEventListener("change", function () { apply(); writeHash(); });
    form.addEventListener("submit", function (e) { e.preventDefault(); });
    form.addEventListener("reset", function () { setTimeout(function () { apply(); writeHash(); }, 0); });
    window.addEventListener("hashchange", fromHash);
    fromHash();
  }

  /* ---------------------------------------------------------------- search */
  var KIND = { m: "model", d: "dataset", p: "paper", r: "result" };
  var ORDER = { m: 0, d: 1, p: 2, r: 3 };
  function search(q) {
    var index = window.FMREVIEW_INDEX;
    var toks = q.toLowerCase().split(/\s+/).filter(Boolean);
    if (!index || !toks.length) { return []; }
    var phrase = toks.join(" ");
    var rows = index.rows, found = [];
    for (var i = 0; i < rows.length; i++) {
      var hay = rows[i][4], ok = true;
      for (var j = 0; j < toks.length; j++) {
        if (hay.indexOf(toks[j]) < 0) { ok = false; break; }
      }
      if (!ok) { continue; }
      var title = rows[i][1].toLowerCase();
      var rank = title.indexOf(phrase) === 0 ? 0 : (title.indexOf(phrase) > 0 ? 1 : 2);
      found.push([rank * 4 + ORDER[rows[i][0]], i]);
    }
    found.sort(function (a, b) { return a[0] - b[0] || a[1] - b[1]; });
    return found.map(function (x) { return rows[x[1]]; });
  }
  window.fmreviewSearch = search;
  var SHOW = 50;
  Array.prototype.forEach.call(document.querySelectorAll("form[data-live-search]"), function (f) {
    var input = f.querySelector("[data-search-input]");
    var list = document.querySelector("[data-search-results]");
    var status = document.querySelector("[data-search-status]");
    var run = function () {
      var q = input.value.trim();
      list.textContent = "";
      if (!q) { status.textContent = ""; return; }
      var t0 = performance.now();
      var hits = search(q);
      var ms = performance.now() - t0;
      hits.slice(0, SHOW).forEach(function (h) {
        var li = document.createElement("li");
        var a = document.createElement("a");
        a.href = root + h[3];
        a.textContent = h[1];
        var k = document.createElement("span");
        k.className = "kind";
        k.textContent = KIND[h[0]];
        var s = document.createElement("span");
        s.className = "muted";
        s.textContent = " " + h[2];
        li.appendChild(k);
        li.appendChild(document.createTextNode(" "));
        li.appendChild(a);
        li.appendChild(s);
        list.appendChild(li);
      });
      status.textContent = hits.length + (hits.length === 1 ? " match" : " matches") +
        (hits.length > SHOW ? " (first " + SHOW + " shown)" : "") + " in " + ms.toFixed(1) + " ms";
    };
    input.addEventListener("input", run);
    var q = new URLSearchParams(location.search).get("q");
    if (q) { input.value = q; run(); }
  });
})();
