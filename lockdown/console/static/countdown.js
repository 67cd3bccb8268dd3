// Counts down to the end of an access session; at zero the revealed values are taken off the page.
(function () {
  "use strict";
  var timer = document.getElementById("countdown");
  if (!timer) {
    return;
  }
  var left = timer.querySelector("[data-left]");
  var remaining = Number(timer.getAttribute("data-remaining"));
  if (!isFinite(remaining)) {
    remaining = (Date.parse(timer.getAttribute("data-expires")) - Date.now()) / 1000;
  }
  // Count from the server's figure, not the device's clock, which may be wrong; take the larger
  // of wall and monotonic time elapsed so neither a clock change nor a sleeping laptop adds time.
  var loadedWall = Date.now();
  var loadedMono = performance.now();

  function secondsLeft() {
    var elapsed = Math.max(Date.now() - loadedWall, performance.now() - loadedMono) / 1000;
    return Math.max(0, Math.ceil(remaining - elapsed));
  }

  function format(seconds) {
    var hours = Math.floor(seconds / 3600);
    var minutes = Math.floor((seconds % 3600) / 60);
    var rest = seconds % 60;
    var mm = hours ? String(minutes).padStart(2, "0") : String(minutes);
    return (hours ? hours + ":" : "") + mm + ":" + String(rest).padStart(2, "0");
  }

  function expire() {
    document.querySelectorAll("[data-secret]").forEach(function (secret) {
      secret.textContent = "Session expired";
    });
    document.querySelectorAll("form[action*='/reveal'] button").forEach(function (button) {
      button.disabled = true;
    });
    timer.textContent = "Session expired. Open a new session if you still need a password.";
  }

  var ticking = null;
  function tick() {
    var seconds = secondsLeft();
    if (seconds <= 0) {
      window.clearInterval(ticking);
      expire();
      return;
    }
    left.textContent = format(seconds);
  }
  ticking = window.setInterval(tick, 1000);
  tick();
})();
