// 職員対応: the inbox list and a thread refresh themselves by short polling; the reply composer sends
// on Enter but never on the Enter that confirms a Japanese IME conversion; 定型文 fill the reply box.
// Every page works without this file (links, forms and a normal POST).
(function () {
  "use strict";

  function every(seconds, task) {
    if (window.madoguchiLive) {
      window.madoguchiLive.every(seconds, task);
    } else {
      window.setInterval(task, seconds * 1000);
    }
  }

  // A region that polls its data-live-url and swaps in the fresh HTML when it changed.
  function live(region, changed) {
    var url = region.getAttribute("data-live-url");
    var last = null;
    every(Number(region.getAttribute("data-poll-seconds")) || 15, function () {
      window.fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (response) {
          var type = response.headers.get("content-type") || "";
          return response.ok && type.indexOf("text/html") === 0 && !response.redirected ? response.text() : null;
        })
        .then(function (html) {
          if (html === null || html === last) {
            return;
          }
          last = html;
          region.innerHTML = html;
          if (changed) {
            changed(region);
          }
        })
        .catch(function () { /* offline or signed out: the next page load tells */ });
    });
  }

  // The inbox: a new request shows up, is announced, and the nav badge follows.
  var inbox = document.getElementById("inbox-live");
  if (inbox) {
    var known = openCount(inbox);
    live(inbox, function (region) {
      var count = openCount(region);
      var announce = document.getElementById("inbox-announce");
      if (count > known && announce) {
        announce.textContent = "新しい依頼が届きました。未対応 " + count + "件";
      }
      known = count;
      var badge = document.getElementById("nav-count-handoff");
      var number = badge && badge.querySelector("[data-badge-count]");
      if (number) {
        number.textContent = String(count);
        badge.hidden = count === 0;
      }
    });
  }

  function openCount(region) {
    var holder = region.querySelector("[data-open-count]");
    return holder ? Number(holder.getAttribute("data-open-count")) || 0 : 0;
  }

  // A thread: what the citizen writes meanwhile appears.
  var messages = document.getElementById("thread-messages");
  if (messages) {
    live(messages, null);
  }

  // The reply composer.
  var form = document.getElementById("reply-form");
  var box = document.getElementById("reply-text");
  if (form && box) {
    var composing = false;
    var composedAt = -Infinity;
    var touched = false;
    document.querySelectorAll("[data-enter-hint]").forEach(function (hint) { hint.hidden = false; });
    box.addEventListener("focus", function () { touched = true; });
    box.addEventListener("compositionstart", function () { composing = true; });
    box.addEventListener("compositionend", function (event) {
      composing = false;
      composedAt = event.timeStamp;
    });
    box.addEventListener("keydown", function (event) {
      if (event.key !== "Enter" || event.shiftKey) {
        return; // Shift+Enter: a new line, as usual
      }
      // The Enter that confirms a conversion: Chrome and Firefox say isComposing, Safari ends the
      // composition first and sends keyCode 229; a few IMEs end it just before their Enter.
      if (event.isComposing || composing || event.keyCode === 229 || event.timeStamp - composedAt < 100) {
        return;
      }
      event.preventDefault();
      if (box.value.trim() === "") {
        return;
      }
      if (form.requestSubmit) {
        form.requestSubmit();
      } else {
        form.submit();
      }
    });
    form.addEventListener("submit", function (event) {
      if (form.getAttribute("data-sending")) {
        event.preventDefault(); // sent once already (a double Enter or click)
        return;
      }
      form.setAttribute("data-sending", "1");
      var button = document.getElementById("reply-send");
      if (button) {
        button.disabled = true;
      }
    });
    window.addEventListener("pageshow", function (event) {
      if (event.persisted) {
        form.removeAttribute("data-sending");
        var button = document.getElementById("reply-send");
        if (button) {
          button.disabled = false;
        }
      }
    });

    // 定型文: picking one puts it in the reply box (at the cursor once staff have typed there).
    var picker = document.getElementById("canned-select");
    var cannedForm = document.getElementById("canned-form");
    var insertCanned = function () {
      var option = picker.options[picker.selectedIndex];
      var text = option ? option.getAttribute("data-body") : null;
      if (!text) {
        return;
      }
      if (!box.value || !touched) {
        box.value = box.value ? box.value.replace(/\s+$/, "") + "\n" + text : text;
        box.selectionStart = box.selectionEnd = box.value.length;
      } else {
        var start = box.selectionStart;
        box.value = box.value.slice(0, start) + text + box.value.slice(box.selectionEnd);
        box.selectionStart = box.selectionEnd = start + text.length;
      }
      picker.selectedIndex = 0;
      box.focus();
    };
    if (picker && cannedForm) {
      picker.addEventListener("change", insertCanned);
      cannedForm.addEventListener("submit", function (event) {
        event.preventDefault();
        insertCanned();
      });
    }
  }
})();
