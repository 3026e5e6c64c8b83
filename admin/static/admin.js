// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  // Forms with data-confirm ask before they post (retry, revoke).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form && form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
  // A selected token is easier to copy on a tablet.
  var token = document.getElementById("new-token");
  if (token && window.getSelection) {
    var range = document.createRange();
    range.selectNodeContents(token);
    window.getSelection().removeAllRanges();
    window.getSelection().addRange(range);
  }

  // Live numbers and lists: short polling while someone uses the page. With no key, click or mouse
  // for the session's idle time, polling pauses (so the idle logout still applies) and resumes with
  // the next input; elements marked data-live-paused-note say so meanwhile.
  var nav = document.querySelector("[data-idle-minutes]");
  var idleMs = (Number(nav && nav.getAttribute("data-idle-minutes")) || 30) * 60000;
  var lastInput = Date.now();
  var tasks = [];
  function idle() {
    return Date.now() - lastInput > idleMs;
  }
  function showPaused(paused) {
    document.querySelectorAll("[data-live-paused-note]").forEach(function (note) {
      note.hidden = !paused;
    });
  }
  ["keydown", "pointerdown", "mousemove", "wheel", "touchstart"].forEach(function (name) {
    document.addEventListener(name, function () {
      var wasIdle = idle();
      lastInput = Date.now();
      if (wasIdle) {
        showPaused(false);
        tasks.forEach(function (task) { task(); });
      }
    }, { capture: true, passive: true });
  });
  function every(seconds, task) {
    tasks.push(task);
    window.setInterval(function () {
      if (idle()) {
        showPaused(true);
      } else {
        task();
      }
    }, Math.max(1, seconds) * 1000);
  }
  window.madoguchiLive = { every: every };

  // Nav badges (e.g. 職員対応's 未対応 count): refreshed from the section's {"count": n}.
  document.querySelectorAll("[data-badge-url]").forEach(function (badge) {
    var url = badge.getAttribute("data-badge-url");
    var number = badge.querySelector("[data-badge-count]");
    every(Number(badge.getAttribute("data-poll-seconds")) || 15, function () {
      window.fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          if (data && typeof data.count === "number" && number) {
            number.textContent = String(data.count);
            badge.hidden = data.count === 0;
          }
        })
        .catch(function () { /* signed out or offline: the next page load tells */ });
    });
  });
})();
