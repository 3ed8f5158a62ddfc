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
  var row = null, year = null;
  ranges.forEach(function (r) {
    if (daily) {
      var start = dayOf(r.first);
      for (var i = 0; i < r.count; i++) {
        var key = keyOf(start + i * MS);
        var y = key.slice(0, 4);
        if (y !== year) {  // one line per year: a year of daily partitions at a glance
          year = y;
          row = document.createElement("div");
          row.className = "year";
          var label = document.createElement("span");
          label.className = "label";
          label.textContent = y;
          row.appendChild(label);
          grid.appendChild(row);
        }
        row.appendChild(cell(r.state, key, key + ": " + r.state));
      }
    } else {
      var title = (r.count === 1 ? r.first : r.first + " .. " + r.last + " (" + r.count + ")") + ": " + r.state;
      if (!row) { row = document.createElement("div"); row.className = "year"; grid.appendChild(row); }
      for (var j = 0; j < r.count; j++) {
        row.appendChild(cell(r.state, j === 0 ? r.first : (j === r.count - 1 ? r.last : null), title));
      }
    }
  });
  holder.appendChild(grid);
})();
