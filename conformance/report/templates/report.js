(function () {
  "use strict";
  // Filters, open/close and copy buttons. The page is complete without this script; it only hides and
  // opens what is already there. It reads no data but the page's own, and fetches nothing.
  var doc = document;
  var form = doc.getElementById("filters");
  var cases = Array.prototype.slice.call(doc.querySelectorAll("details.case"));
  var rows = Array.prototype.slice.call(doc.querySelectorAll("tr.clause-row"));
  var families = Array.prototype.slice.call(doc.querySelectorAll("#matrix .family"));
  var shown = doc.getElementById("shown");
  var noMatch = doc.getElementById("no-match");
  var caseText = null;
  var rowText = rows.map(function (row) { return row.textContent.toLowerCase(); });

  function texts() {
    // The whole text of each case (ids, messages, headers, bodies), read once, on the first search.
    if (caseText === null) {
      caseText = cases.map(function (c) { return (c.getAttribute("data-search") + " " + c.textContent).toLowerCase(); });
    }
    return caseText;
  }

  function state() {
    var outcomes = {};
    Array.prototype.forEach.call(form.querySelectorAll("input[name=outcome]"), function (box) {
      outcomes[box.value] = box.checked;
    });
    return {
      outcomes: outcomes,
      family: form.elements.family.value,
      level: form.elements.level.value,
      q: form.elements.q.value.trim().toLowerCase()
    };
  }

  function apply() {
    var s = state();
    var visibleCount = 0;
    var clauseVisible = {};
    var textOf = s.q ? texts() : null;
    cases.forEach(function (c, i) {
      var ok = s.outcomes[c.getAttribute("data-outcome")] === true &&
        (!s.family || c.getAttribute("data-family") === s.family) &&
        (!s.level || c.getAttribute("data-level") === s.level) &&
        (!s.q || textOf[i].indexOf(s.q) !== -1);
      c.hidden = !ok;
      if (ok) {
        visibleCount += 1;
        clauseVisible[c.getAttribute("data-clause")] = true;
      }
    });
    rows.forEach(function (row, i) {
      var clause = row.getAttribute("data-clause");
      var cells = row.querySelectorAll("a.cell");
      var ok = (!s.family || row.getAttribute("data-family") === s.family) &&
        (!s.level || row.getAttribute("data-level") === s.level);
      if (ok) {
        if (cells.length === 0) {
          ok = s.outcomes["not-run"] === true && (!s.q || rowText[i].indexOf(s.q) !== -1);
        } else {
          ok = clauseVisible[clause] === true || (!!s.q && rowText[i].indexOf(s.q) !== -1 &&
            Array.prototype.some.call(cells, function (cell) { return s.outcomes[cell.getAttribute("data-outcome")]; }));
        }
      }
      row.hidden = !ok;
      Array.prototype.forEach.call(cells, function (cell) {
        cell.classList.toggle("dim", !s.outcomes[cell.getAttribute("data-outcome")]);
      });
    });
    families.forEach(function (family) {
      family.hidden = family.querySelector("tr.clause-row:not([hidden])") === null;
    });
    shown.textContent = visibleCount + " of " + cases.length + " cases shown";
    noMatch.hidden = visibleCount !== 0;
  }

  function openTarget() {
    var id = decodeURIComponent(location.hash.slice(1));
    var target = id ? doc.getElementById(id) : null;
    if (!target) { return; }
    var node = target;
    var hidden = false;
    while (node && node !== doc.body) {
      if (node.tagName === "DETAILS") { node.open = true; }
      if (node.hidden) { hidden = true; }
      node = node.parentElement;
    }
    if (hidden) {
      form.reset();
      apply();
    }
    target.scrollIntoView();
  }

  form.hidden = false;
  form.addEventListener("input", apply);
  form.addEventListener("change", apply);
  form.addEventListener("submit", function (event) { event.preventDefault(); });
  doc.getElementById("reset-filters").addEventListener("click", function () {
    form.reset();
    apply();
  });
  doc.addEventListener("keydown", function (event) {
    var typing = /^(INPUT|SELECT|TEXTAREA)$/.test(event.target.tagName);
    if (event.key === "/" && !typing) {
      event.preventDefault();
      form.elements.q.focus();
    } else if (event.key === "Escape" && event.target === form.elements.q) {
      form.elements.q.value = "";
      apply();
    }
  });

  var bulk = doc.querySelector(".bulk");
  bulk.hidden = false;
  doc.getElementById("open-all").addEventListener("click", function () {
    cases.forEach(function (c) { if (!c.hidden) { c.open = true; } });
  });
  doc.getElementById("close-all").addEventListener("click", function () {
    cases.forEach(function (c) { c.open = false; });
  });

  Array.prototype.forEach.call(doc.querySelectorAll("button.copy"), function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var source = doc.getElementById(button.getAttribute("data-copy"));
      var text = source ? source.textContent : "";
      function done() {
        button.textContent = "copied";
        setTimeout(function () { button.textContent = "copy"; }, 1200);
      }
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(done, function () {});
      } else {
        var range = doc.createRange();
        range.selectNodeContents(source);
        var selection = getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
      }
    });
  });

  // Opened from disk: the replay commands name this report's own directory instead of reports/<run-id>.
  if (location.protocol === "file:") {
    var recorded = doc.body.getAttribute("data-run-dir");
    var here = decodeURIComponent(location.pathname).replace(/\/[^\/]*$/, "");
    var quoted = /^[\w@%+=:,.\/-]+$/.test(here) ? here : "'" + here.replace(/'/g, "'\"'\"'") + "'";
    Array.prototype.forEach.call(doc.querySelectorAll("pre.replay-command"), function (pre) {
      pre.textContent = pre.textContent.replace(recorded, function () { return quoted; });
    });
  }

  window.addEventListener("hashchange", openTarget);
  apply();
  openTarget();
}());
