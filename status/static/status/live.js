// Keeps every element with data-live-src up to date from its fragment endpoint: the server renders
// the HTML, this only swaps it in. Polls each data-live-every ms (default 1000), pauses while the
// tab is hidden, stops once a fragment contains [data-live-final], reloads on 401/403 (the page then
// shows the login form or the refusal).
(function () {
  "use strict";
  function follow(element) {
    var every = parseInt(element.dataset.liveEvery || "1000", 10);
    var indicator = document.querySelector("[data-live-indicator]");
    var last = null;
    function show(state, text) {
      if (!indicator) return;
      indicator.dataset.state = state;
      indicator.textContent = text;
    }
    async function tick() {
      if (document.hidden) { setTimeout(tick, every); return; }
      try {
        // no-cache: revalidate with the ETag, so an unchanged fragment costs a 304 and no render.
        var response = await fetch(element.dataset.liveSrc, { cache: "no-cache", credentials: "same-origin" });
        if (response.status === 401 || response.status === 403) { window.location.reload(); return; }
        if (!response.ok) throw new Error("HTTP " + response.status);
        var html = await response.text();
        if (html !== last) {
          element.innerHTML = html;
          last = html;
        }
        show("ok", "live · updated " + new Date().toLocaleTimeString());
        if (element.querySelector("[data-live-final]")) return;
      } catch (problem) {
        show("error", "connection lost, retrying…");
      }
      setTimeout(tick, every);
    }
    setTimeout(tick, every);
  }
  document.querySelectorAll("[data-live-src]").forEach(follow);
})();
