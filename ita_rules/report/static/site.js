// ita-rules report: the little the pages do in the browser. No request ever leaves the page:
// everything it shows is already in it (the diffs as inline JSON, the charts as SVG).
(function () {
  "use strict";

  function registryFilter() {
    var tag = document.getElementById("filter-tag");
    var active = document.getElementById("filter-active");
    var table = document.getElementById("setups");
    if (!tag || !active || !table) return;
    var rows = null; // the long tables come in bodies of 100 rows: all of them, on first use
    var count = document.getElementById("filter-count");
    var none = document.getElementById("filter-empty");
    function apply() {
      if (!rows) rows = table.querySelectorAll("tbody > tr");
      var wanted = tag.value.trim().toLowerCase();
      var shown = 0;
      for (var i = 0; i < rows.length; i++) {
        var row = rows[i];
        var tags = JSON.parse(row.getAttribute("data-tags") || "[]");
        var tagOk = !wanted || tags.some(function (t) { return t.toLowerCase().indexOf(wanted) !== -1; });
        var activeOk = !active.checked || row.getAttribute("data-active") === "true";
        row.hidden = !(tagOk && activeOk);
        if (!row.hidden) shown++;
      }
      if (count) count.textContent = shown + " of " + rows.length + " setup(s)";
      if (none) none.hidden = shown !== 0;
    }
    tag.addEventListener("input", apply);
    active.addEventListener("change", apply);
    if (tag.value || active.checked) apply(); // a form the browser restored (Back)
  }

  function cell(tr, cls, text) {
    var td = document.createElement("td");
    td.className = cls;
    td.textContent = text;
    tr.appendChild(td);
  }

  function versionKey(v) {
    var p = v.split(".");
    return [parseInt(p[0], 10), parseInt(p[1] || "0", 10)];
  }

  function older(a, b) {
    var x = versionKey(a), y = versionKey(b);
    return x[0] < y[0] || (x[0] === y[0] && x[1] < y[1]);
  }

  function setupDiff() {
    var data = document.getElementById("diffs");
    var a = document.getElementById("diff-a");
    var b = document.getElementById("diff-b");
    var out = document.getElementById("diff");
    var level = document.getElementById("diff-level");
    if (!data || !a || !b || !out || !level) return;
    var diffs = JSON.parse(data.textContent);
    function show() {
      var from = a.value, to = b.value;
      out.textContent = "";
      var table = document.createElement("table");
      table.className = "diff";
      var body = document.createElement("tbody");
      table.appendChild(body);
      out.appendChild(table);
      if (from === to) {
        level.textContent = "none";
        var same = document.createElement("tr");
        cell(same, "empty", "the same version");
        body.appendChild(same);
        return;
      }
      var d = older(from, to) ? diffs[from + "|" + to] : diffs[to + "|" + from];
      level.textContent = d.level;
      if (!d.changes.length) {
        var tr0 = document.createElement("tr");
        cell(tr0, "empty", "no differences");
        body.appendChild(tr0);
      }
      d.changes.forEach(function (c) {
        var tr = document.createElement("tr");
        tr.setAttribute("data-change", c.change);
        cell(tr, "path", c.path);
        cell(tr, "old", c.old);
        cell(tr, "arrow", "\u2192");
        cell(tr, "new", c.new);
        body.appendChild(tr);
      });
      var via = document.createElement("ul");
      via.className = "via";
      d.via.forEach(function (w) {
        var li = document.createElement("li");
        li.textContent = "v" + w.version + ": commit " + (w.commit || "not committed") + " by " +
          (w.git_author || w.author) + " " + w.at.slice(0, 10);
        via.appendChild(li);
      });
      out.appendChild(via);
    }
    a.addEventListener("change", show);
    b.addEventListener("change", show);
  }

  function metricPicker() {
    var picker = document.getElementById("metric");
    if (!picker) return;
    function show() {
      var groups = document.querySelectorAll("svg.chart g.series");
      for (var i = 0; i < groups.length; i++) {
        var on = groups[i].getAttribute("data-metric") === picker.value;
        if (on) groups[i].removeAttribute("display"); else groups[i].setAttribute("display", "none");
      }
    }
    picker.addEventListener("change", show);
    show();
  }

  registryFilter();
  setupDiff();
  metricPicker();
})();
