/* cfsession session page: the player, the command timeline and its filter.
   Everything recorded arrives as text (the cast in a data block, the timeline already
   escaped in the HTML): nothing here builds HTML from strings. */
(function () {
  "use strict";
  var castEl = document.getElementById("cast");
  var box = document.getElementById("player");
  var items = Array.prototype.slice.call(document.querySelectorAll("#commands li"));
  var timed = items.filter(function (li) { return li.dataset.t !== undefined; });
  var starts = timed.map(function (li) { return parseFloat(li.dataset.t); });
  var player = AsciinemaPlayer.create(
    { data: castEl.textContent, parser: "asciicast" },
    box,
    // Pauses are already shortened in the data (the list's times must match the clock).
    { fit: "width", preload: true, controls: true, terminalFontSize: "small" }
  );
  window.cfsessionPlayer = player;  // for people (and tests) poking at the page
  var current = null;

  function commandAt(t) {
    // The last command started at or before t (starts are sorted): binary search.
    var lo = 0, hi = starts.length - 1, found = -1;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1;
      if (starts[mid] <= t + 0.001) { found = mid; lo = mid + 1; } else { hi = mid - 1; }
    }
    if (found < 0) return null;
    var li = timed[found];
    var end = parseFloat(li.dataset.end);
    return isNaN(end) || t <= end + 0.25 ? li : null;
  }

  function highlight(li) {
    if (li === current) return;
    if (current) { current.classList.remove("current"); current.removeAttribute("aria-current"); }
    current = li;
    if (li) {
      li.classList.add("current");
      li.setAttribute("aria-current", "true");
      if (!li.hidden) li.scrollIntoView({ block: "nearest" });
    }
  }

  function tick() {
    var t = player.getCurrentTime();
    if (typeof t === "number") highlight(commandAt(t));
  }
  setInterval(tick, 200);

  timed.forEach(function (li) {
    li.querySelector("button").addEventListener("click", function () {
      var t = parseFloat(li.dataset.t);
      // Like a chapter list: jump there and keep playing or paused as before.
      player.seek(t).then(function () { highlight(li); });
    });
  });

  var filter = document.getElementById("filter");
  var failedOnly = document.getElementById("failed-only");
  var count = document.getElementById("shown");
  function applyFilter() {
    var q = filter.value.trim().toLowerCase();
    var shown = 0;
    items.forEach(function (li) {
      var hit = (!q || li.dataset.text.indexOf(q) >= 0) &&
                (!failedOnly.checked || li.classList.contains("failed"));
      li.hidden = !hit;
      if (hit) shown++;
    });
    count.textContent = shown === items.length ? String(items.length) : shown + " of " + items.length;
  }
  filter.addEventListener("input", applyFilter);
  failedOnly.addEventListener("change", applyFilter);
  applyFilter();
})();
