// The lineage page: zoom and pan through the SVG's viewBox, the search box
// (highlights what /api/select selects) and "Materialize selection".
(function () {
  "use strict";
  var svg = document.getElementById("lineage");
  var form = document.getElementById("search");
  var box = document.getElementById("search-box");
  var errorBox = document.getElementById("search-error");
  var count = document.getElementById("search-count");
  var launch = document.getElementById("materialize");

  // Zoom and pan.
  var view = null;
  var full = null;
  function apply() { svg.setAttribute("viewBox", view.join(" ")); }
  function fit() { view = full.slice(); apply(); }
  function start() {
    var w = parseFloat(svg.dataset.width), h = parseFloat(svg.dataset.height);
    full = [0, 0, w, h];
    var rect = svg.getBoundingClientRect();
    var scale = Math.min(rect.width / w, rect.height / h);
    if (scale >= 0.35) { fit(); return; }
    // Too big to read whole: start at the top left, at a readable scale.
    view = [0, 0, rect.width / 0.6, rect.height / 0.6];
    apply();
  }
  function toSvg(event) {
    var rect = svg.getBoundingClientRect();
    var k = Math.max(view[2] / rect.width, view[3] / rect.height);
    return [view[0] + (event.clientX - rect.left) * k, view[1] + (event.clientY - rect.top) * k];
  }
  function zoom(factor, at) {
    view = [at[0] - (at[0] - view[0]) * factor, at[1] - (at[1] - view[1]) * factor,
            view[2] * factor, view[3] * factor];
    apply();
  }
  if (svg) {
    start();
    svg.addEventListener("wheel", function (event) {
      event.preventDefault();
      zoom(event.deltaY > 0 ? 1.15 : 1 / 1.15, toSvg(event));
    }, { passive: false });
    var drag = null;
    var moved = false;
    svg.addEventListener("pointerdown", function (event) {
      if (event.button !== 0) { return; }
      drag = [event.clientX, event.clientY, view[0], view[1]];
      moved = false;
    });
    window.addEventListener("pointermove", function (event) {
      if (!drag) { return; }
      var dx = event.clientX - drag[0], dy = event.clientY - drag[1];
      if (!moved && Math.abs(dx) + Math.abs(dy) < 4) { return; }
      moved = true;
      svg.classList.add("panning");
      var rect = svg.getBoundingClientRect();
      var k = Math.max(view[2] / rect.width, view[3] / rect.height);
      view[0] = drag[2] - dx * k;
      view[1] = drag[3] - dy * k;
      apply();
    });
    window.addEventListener("pointerup", function () {
      drag = null;
      svg.classList.remove("panning");
    });
    // A drag that ends on a node pans; it does not open the asset.
    svg.addEventListener("click", function (event) {
      if (moved) { event.preventDefault(); moved = false; }
    }, true);
    var centre = function () { return [view[0] + view[2] / 2, view[1] + view[3] / 2]; };
    document.getElementById("zoom-in").addEventListener("click", function () { zoom(1 / 1.4, centre()); });
    document.getElementById("zoom-out").addEventListener("click", function () { zoom(1.4, centre()); });
    document.getElementById("zoom-fit").addEventListener("click", fit);
  }

  // The search box: highlight exactly what the selection selects.
  function show(names, query) {
    errorBox.hidden = true;
    launch.dataset.selection = query;
    launch.disabled = false;
    count.textContent = names.length + " selected";
    if (!svg) { return; }
    var chosen = new Set(names);
    svg.classList.add("searching");
    svg.querySelectorAll(".node").forEach(function (node) {
      var hit = chosen.has(node.dataset.name);
      node.classList.toggle("hit", hit);
      node.classList.toggle("dim", !hit);
    });
    svg.querySelectorAll(".edge").forEach(function (edge) {
      var hit = chosen.has(edge.dataset.source) && chosen.has(edge.dataset.target);
      edge.classList.toggle("dim", !hit);
    });
  }
  function clear() {
    errorBox.hidden = true;
    count.textContent = "";
    if (!svg) { return; }
    svg.classList.remove("searching");
    svg.querySelectorAll(".hit, .dim").forEach(function (el) {
      el.classList.remove("hit", "dim");
    });
  }
  function search(query) {
    if (!query.trim()) { clear(); return; }
    fetch("/api/select?q=" + encodeURIComponent(query), { headers: { Accept: "application/json" } })
      .then(function (answer) { return answer.json().then(function (body) { return [answer.ok, body]; }); })
      .then(function (result) {
        if (result[0]) { show(result[1].names, query.trim()); return; }
        clear();
        errorBox.textContent = result[1].error;
        errorBox.hidden = false;
      });
  }
  if (form && svg) {
    // With a drawing, the search highlights in place; without one (a large graph),
    // the form is sent and the server draws what it selects.
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      search(box.value);
    });
    if (box.value.trim()) { search(box.value); }
  }

  // Materialize the current selection (an ordinary run, trigger "ui").
  if (launch) {
    launch.addEventListener("click", function () {
      var selection = launch.dataset.selection;
      if (!selection) { return; }
      launch.disabled = true;
      fetch("/api/runs", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": launch.dataset.csrf },
        body: JSON.stringify({ selection: selection })
      }).then(function (answer) {
        return answer.json().then(function (body) {
          launch.disabled = false;
          if (answer.ok && (body.run_id || body.id)) {
            window.location.href = "/runs/" + encodeURIComponent(body.run_id || body.id);
            return;
          }
          errorBox.textContent = body.error || ("could not start the run (" + answer.status + ")");
          errorBox.hidden = false;
        });
      }).catch(function () {
        launch.disabled = false;
        errorBox.textContent = "could not reach the server";
        errorBox.hidden = false;
      });
    });
  }
})();
