// The asset page's partition grid: drawn from the compressed ranges the server sends
// ([{first, last, count, state}]), one cell per partition, never a list of keys.
(function () {
  "use strict";
  var holder = document.getElementById("partition-grid");
  var data = document.getElementById("partition-ranges");
  if (!holder || !data) { return; }
  var ranges = JSON.parse(data.textContent);
  var DAY = /^(\d{4})-(\d{2})-(\d{2})$/;
  var MS = 86400000;

  function dayOf(key) {
    var m = DAY.exec(key);
    return m ? Date.UTC(+m[1], +m[2] - 1, +m[3]) : null;
  }
  function keyOf(ms) { return new Date(ms).toISOString().slice(0, 10); }
  // A run of daily keys names each of its days; any other run names its bounds.
  function isDaily(r) {
    var a = dayOf(r.first), b = dayOf(r.last);
    return a !== null && b !== null && Math.round((b - a) / MS) === r.count - 1;
  }
  function cell(state, key, title) {
    var c = document.createElement(key ? "a" : "span");
    c.className = "cell " + state;
    c.title = title;
    if (key) { c.href = "?partition=" + encodeURIComponent(key); }
    return c;
  }

  var daily = ranges.length > 0 && ranges.every(isDaily);
  var grid = document.createDocumentFragment();
  var days = null, year = null;
  function line(text) {
    var row = document.createElement("div");
    row.className = "year";
    var label = document.createElement("span");
    label.className = "label";
    label.textContent = text;
    row.appendChild(label);
    days = document.createElement("div");
    days.className = daily ? "days calendar" : "days";
    row.appendChild(days);
    grid.appendChild(row);
  }
  ranges.forEach(function (r) {
    if (daily) {
      var start = dayOf(r.first);
      for (var i = 0; i < r.count; i++) {
        var ms = start + i * MS;
        var key = keyOf(ms);
        var c = cell(r.state, key, key + ": " + r.state);
        if (key.slice(0, 4) !== year) {  // a calendar per year: weeks across, Monday on top
          year = key.slice(0, 4);
          line(year);
          c.style.gridRowStart = String((new Date(ms).getUTCDay() + 6) % 7 + 1);
        }
        days.appendChild(c);
      }
    } else {
      var title = (r.count === 1 ? r.first : r.first + " .. " + r.last + " (" + r.count + ")") + ": " + r.state;
      if (!days) { line(""); }
      for (var j = 0; j < r.count; j++) {
        days.appendChild(cell(r.state, j === 0 ? r.first : (j === r.count - 1 ? r.last : null), title));
      }
    }
  });
  holder.appendChild(grid);
})();
