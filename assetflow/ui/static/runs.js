// A run's page while it runs: every second, ask /api/runs/{id} how it is going and
// reload the live part (status, timeline, steps) from /runs/{id}/timeline; when the
// run has ended, reload the page once (for its logs) and stop.
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live) { return; }
  var runId = live.getAttribute("data-run");
  var status = live.getAttribute("data-status");
  var going = { running: true, starting: true, "": true };
  if (!going[status]) { return; }
  var base = "/runs/" + encodeURIComponent(runId);

  function tick() {
    fetch("/api" + base, { headers: { Accept: "application/json" } })
      .then(function (answer) { return answer.json(); })
      .then(function (doc) {
        var now = doc.run ? doc.run.status : (doc.launch && doc.launch.error ? "failed" : "starting");
        return fetch(base + "/timeline").then(function (answer) { return answer.text(); })
          .then(function (html) {
            live.innerHTML = html;
            live.setAttribute("data-status", now);
            if (going[now]) { setTimeout(tick, 1000); }
            else if (doc.run) { window.location.reload(); }
          });
      })
      .catch(function () { setTimeout(tick, 2000); });
  }
  setTimeout(tick, 1000);
})();
