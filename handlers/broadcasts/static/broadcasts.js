// The broadcasts' pages: on compose, the length counter (UTF-16 code units, as LINE counts), the
// preview (rendered by LineRender, the sandbox chat page's own renderer) and the reach; on a
// broadcast's page, its preview and the live progress while it is sending.
(function () {
  "use strict";

  function csrf() {
    var field = document.querySelector('input[name="csrf_token"]');
    return field ? field.value : "";
  }

  function postJson(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify(body),
    }).then(function (r) { return r.ok ? r.json() : null; });
  }

  function lineLength(text) {
    return text.length; // a JS string's length is in UTF-16 code units, as LINE counts (an emoji is 2)
  }

  function renderPreview(messages, localImage) {
    var box = document.getElementById("preview");
    if (!box || !window.LineRender) return;
    var copy = JSON.parse(JSON.stringify(messages || []));
    if (localImage) {
      var swap = function (node) {
        if (!node || typeof node !== "object") return;
        Object.keys(node).forEach(function (k) {
          if (node[k] === "local-image") node[k] = localImage;
          else swap(node[k]);
        });
      };
      swap(copy);
    }
    box.textContent = "";
    window.LineRender.renderMessages(copy, box, {});
  }

  function compose(form) {
    var text = form.querySelector("#text");
    var title = form.querySelector("#title");
    var count = document.getElementById("text-count");
    var image = form.querySelector("#image");
    var reach = document.getElementById("reach");
    var localImage = null;
    var timer = null;

    function template() {
      var picked = form.querySelector('input[name="template"]:checked');
      return picked ? picked : null;
    }

    function updateCount() {
      var picked = template();
      var limit = picked ? Number(picked.getAttribute("data-limit")) : 5000;
      var n = lineLength(text.value);
      count.textContent = n.toLocaleString() + "／" + limit.toLocaleString() + "文字";
      count.classList.toggle("over", n > limit);
    }

    function refreshPreview() {
      var picked = template();
      postJson(form.getAttribute("data-preview-url"), {
        template: picked ? picked.value : "text",
        title: title.value,
        text: text.value,
        has_image: Boolean(localImage),
      }).then(function (data) { if (data) renderPreview(data.messages, localImage); });
    }

    function audience() {
      var values = function (name) {
        return Array.prototype.map.call(form.querySelectorAll('input[name="' + name + '"]:checked'), function (i) { return i.value; });
      };
      return {
        all: form.querySelector("#audience-all").checked,
        topics: values("topics"),
        districts: values("districts"),
        groups: values("groups").map(Number),
      };
    }

    function refreshReach() {
      postJson(form.getAttribute("data-reach-url"), audience()).then(function (data) {
        if (!data) return;
        if (data.problem) { reach.textContent = "届く人数: —（" + data.problem + "）"; return; }
        var line = "届く人数（現在）: " + data.reach.toLocaleString() + "人";
        if (data.quota_remaining !== null && data.quota_remaining !== undefined) {
          line += "（今月の送信可能数の残り " + data.quota_remaining.toLocaleString() + "通）";
        }
        reach.textContent = line;
        reach.classList.toggle("over", Boolean(data.over_quota));
        if (data.over_quota) reach.textContent += " ― 送信可能数が足りません";
      });
    }

    function later() {
      updateCount();
      clearTimeout(timer);
      timer = setTimeout(refreshPreview, 250);
    }

    text.addEventListener("input", later);
    title.addEventListener("input", later);
    form.querySelectorAll('input[name="template"]').forEach(function (r) { r.addEventListener("change", later); });
    form.querySelectorAll('#audience-parts input, #audience-all').forEach(function (i) { i.addEventListener("change", refreshReach); });
    image.addEventListener("change", function () {
      var file = image.files && image.files[0];
      if (!file) { localImage = null; later(); return; }
      var reader = new FileReader();
      reader.onload = function () { localImage = reader.result; later(); };
      reader.readAsDataURL(file);
    });
    updateCount();
    refreshPreview();
    refreshReach();
  }

  function progress(section) {
    var url = section.getAttribute("data-progress-url");
    var badge = document.getElementById("status-badge");
    function tick() {
      fetch(url, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : null; }).then(function (data) {
        if (!data) return;
        if (badge) badge.textContent = data.status_label;
        if (data.total === undefined) { setTimeout(tick, 3000); return; }
        var figures = section.querySelectorAll("[data-figure]");
        if (!figures.length) { window.location.reload(); return; }
        figures.forEach(function (el) {
          var v = data[el.getAttribute("data-figure")];
          el.textContent = v === null || v === undefined ? "—" : v;
        });
        var bar = document.getElementById("progress-bar");
        if (bar) { bar.value = data.percent; bar.textContent = data.percent + "%"; }
        if (data.status === "sending" || data.status === "scheduled") setTimeout(tick, 2000);
        else if (section.getAttribute("data-status") !== data.status) window.location.reload();
      });
    }
    var status = section.getAttribute("data-status");
    if (status === "sending" || status === "scheduled") setTimeout(tick, 1500);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("compose-form");
    if (form) compose(form);
    var data = document.getElementById("preview-messages");
    if (data) renderPreview(JSON.parse(data.textContent), null);
    var section = document.getElementById("progress-section");
    if (section) progress(section);
  });
})();
