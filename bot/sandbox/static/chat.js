// LINE sandbox chat page: a person plays a citizen; every action becomes a real, signed webhook event.
// Plain JS, no frameworks. Talks to /sandbox/api (see bot/sandbox/api.py); line-render.js draws the LINE messages.
"use strict";

(() => {
  const POLL_MS = 400;
  const STORAGE_KEY = "madoguchi.sandbox.citizen";
  const SETOUCHI_PLACES = [
    { title: "瀬戸内市役所", address: "岡山県瀬戸内市邑久町尾張300-1", latitude: 34.6651, longitude: 134.0917 },
    { title: "牛窓支所", address: "岡山県瀬戸内市牛窓町牛窓", latitude: 34.6185, longitude: 134.1579 },
    { title: "長船支所", address: "岡山県瀬戸内市長船町土師", latitude: 34.7083, longitude: 134.0895 },
    { title: "邑久駅", address: "岡山県瀬戸内市邑久町豊原", latitude: 34.6708, longitude: 134.0862 },
  ];
  const state = {
    userId: null,
    user: null,
    lastSeq: 0,
    items: [],
    generation: 0, // bumps on citizen switch so late poll answers are dropped
    composing: false,
    stickToBottom: true, // follow new messages unless the person scrolled up to read
    autoScrollTop: 0,
    richMenuId: null,
    richMenuOpen: false,
    loading: false,
    datetimeAction: null,
  };

  const $ = (id) => document.getElementById(id);

  // Rendering LINE messages is line-render.js's (loaded before this file); the page draws with its helpers.
  const { el, icon, avatar, linkify, locationCard, actionLabel, percentBox } = window.LineRender;

  function toast(message) {
    const box = $("toast");
    box.textContent = message;
    box.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { box.hidden = true; }, 3500);
  }

  function clockTime(epochSeconds) {
    const d = new Date(epochSeconds * 1000);
    return `${d.getHours()}:${String(d.getMinutes()).padStart(2, "0")}`;
  }

  async function api(method, path, body) {
    const response = await fetch(path, {
      method,
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok && response.status !== 502) {
      throw new Error(data.message || `HTTP ${response.status}`);
    }
    return data;
  }

  // --- citizens ------------------------------------------------------------------------------------
  async function loadCitizens(selectId) {
    const { citizens } = await api("GET", "/sandbox/api/citizens");
    const select = $("citizen-select");
    select.replaceChildren(...citizens.map((c) => el("option", { value: c.userId }, c.displayName)));
    select.disabled = citizens.length === 0;
    const wanted = selectId || localStorage.getItem(STORAGE_KEY);
    const chosen = citizens.find((c) => c.userId === wanted) || citizens[0];
    if (!chosen) {
      showNewCitizenForm();
      return;
    }
    select.value = chosen.userId;
    if (chosen.userId !== state.userId) switchCitizen(chosen.userId);
  }

  function showNewCitizenForm() {
    $("new-citizen-form").hidden = false;
    const input = $("new-citizen-name");
    if (!input.value) input.value = "瀬戸内 花子";
    input.focus();
    input.select();
  }

  async function createCitizen(name) {
    const created = await api("POST", "/sandbox/api/citizens", { displayName: name });
    $("new-citizen-form").hidden = true;
    $("new-citizen-name").value = "";
    await loadCitizens(created.userId);
    // Like scanning the city's QR code: the new citizen adds the account as a friend at once.
    await sendEvent({ kind: "follow" });
  }

  function switchCitizen(userId) {
    state.userId = userId;
    state.user = null;
    state.lastSeq = 0;
    state.items = [];
    state.generation += 1;
    state.richMenuId = null;
    state.loading = false;
    state.stickToBottom = true;
    state.autoScrollTop = 0;
    localStorage.setItem(STORAGE_KEY, userId);
    $("messages").replaceChildren();
    $("quick-replies").replaceChildren();
    $("richmenu").hidden = true;
    $("friend-bar").hidden = false;
    poll();
  }

  // --- sending -------------------------------------------------------------------------------------
  async function sendEvent(payload) {
    if (!state.userId) {
      toast("先に利用者を作ってください");
      return null;
    }
    try {
      const result = await api("POST", `/sandbox/api/citizens/${state.userId}/events`, payload);
      markStatus(result.webhookEventId, result);
      if (result.status !== 200) {
        toast(result.error ? `ボットに届きませんでした（${result.error}）` : `ボットが HTTP ${result.status} を返しました`);
      }
      poll();
      return result;
    } catch (error) {
      toast(`送信できませんでした：${error.message}`);
      return null;
    }
  }

  const sendText = (text) => sendEvent({ kind: "text", text });
  const sendPostback = (data, displayText, params) =>
    sendEvent({ kind: "postback", data, displayText: displayText || undefined, params: params || undefined });
  const sendLocation = (place) => sendEvent({ kind: "location", ...place });

  function submitTyped() {
    const input = $("text-input");
    const text = input.value;
    if (!text.trim() || input.disabled) return;
    input.value = "";
    autoGrow(input);
    sendText(text);
  }

  function autoGrow(textarea) {
    textarea.style.height = "auto";
    textarea.style.height = `${Math.min(textarea.scrollHeight + 2, 140)}px`;
  }

  function isImeEnter(event) {
    // An Enter that confirms a kana-kanji conversion must not send (Chrome: isComposing; Safari: 229).
    return event.isComposing || event.keyCode === 229 || state.composing;
  }

  // --- actions (buttons, quick replies, rich menu areas) -------------------------------------------
  function performAction(action) {
    if (!action || !action.type) return;
    switch (action.type) {
      case "postback":
        sendPostback(action.data, action.displayText || action.text, null);
        break;
      case "message":
        sendText(action.text);
        break;
      case "uri":
        openUri(action.uri);
        break;
      case "datetimepicker":
        openDatetimePicker(action);
        break;
      case "location":
        openLocationDialog();
        break;
      case "camera":
      case "cameraRoll":
        sendEvent({ kind: "image" });
        toast("サンドボックスが用意した見本の写真を送りました");
        break;
      case "clipboard":
        navigator.clipboard?.writeText(action.clipboardText || "").then(() => toast("コピーしました"), () => {});
        break;
      case "richmenuswitch":
        sendPostback(action.data, null, { newRichMenuAliasId: action.richMenuAliasId, status: "RICHMENU_ALIAS_ID_NOTFOUND" });
        break;
      default:
        toast(`このサンドボックスでは「${action.type}」は使えません`);
    }
  }

  function openUri(uri) {
    if (!uri) return;
    if (uri.startsWith("https://line.me/R/nv/location")) {
      openLocationDialog();
      return;
    }
    if (uri.startsWith("tel:")) {
      toast(`電話をかけます：${uri.slice(4)}`);
      return;
    }
    window.open(uri, "_blank", "noopener");
  }

  // --- location and datetime dialogs ---------------------------------------------------------------
  function openLocationDialog() {
    $("location-list").replaceChildren(...SETOUCHI_PLACES.map((place) => el("button", {
      type: "button",
      class: "location-choice",
      onclick: () => { $("location-dialog").close(); sendLocation(place); },
    }, place.title, el("small", {}, place.address))));
    $("location-dialog").showModal();
  }

  function sendManualLocation() {
    const latitude = Number.parseFloat($("manual-latitude").value);
    const longitude = Number.parseFloat($("manual-longitude").value);
    if (!(latitude >= -90 && latitude <= 90 && longitude >= -180 && longitude <= 180)) {
      toast("緯度は -90〜90、経度は -180〜180 の数字で入れてください");
      return;
    }
    const title = $("manual-title").value.trim();
    $("location-dialog").close();
    sendLocation({ latitude, longitude, title: title || undefined });
  }

  function pickerValue(value, mode) {
    if (!value) return "";
    return mode === "datetime" ? value.replace("t", "T") : value;
  }

  function openDatetimePicker(action) {
    const mode = action.mode || "datetime";
    const input = $("datetime-input");
    input.type = { date: "date", time: "time", datetime: "datetime-local" }[mode] || "datetime-local";
    input.min = pickerValue(action.min, mode);
    input.max = pickerValue(action.max, mode);
    input.value = pickerValue(action.initial, mode);
    $("datetime-title").textContent = action.label || { date: "日付を選ぶ", time: "時刻を選ぶ" }[mode] || "日時を選ぶ";
    state.datetimeAction = action;
    $("datetime-dialog").returnValue = "";
    $("datetime-dialog").showModal();
  }

  function finishDatetimePicker() {
    const dialog = $("datetime-dialog");
    const action = state.datetimeAction;
    state.datetimeAction = null;
    if (dialog.returnValue !== "ok" || !action) return;
    const input = $("datetime-input");
    if (!input.value) {
      toast("日時が選ばれていません");
      return;
    }
    if ((input.min && input.value < input.min) || (input.max && input.value > input.max)) {
      toast("選べる範囲の外です");
      return;
    }
    const mode = action.mode || "datetime";
    sendPostback(action.data, null, { [mode]: input.value });
  }

  // --- polling the timeline ------------------------------------------------------------------------
  async function poll() {
    // One polling chain at a time: a poll asked for while one runs is done right after it.
    if (poll.running) {
      poll.again = true;
      return;
    }
    poll.running = true;
    clearTimeout(poll.timer);
    try {
      if (state.userId) {
        const generation = state.generation;
        const data = await api("GET", `/sandbox/api/citizens/${state.userId}/timeline?after=${state.lastSeq}`);
        if (generation === state.generation) applyTimeline(data);
      }
    } catch (error) {
      // The server may be restarting; keep polling quietly.
    } finally {
      poll.running = false;
    }
    if (poll.again) {
      poll.again = false;
      poll();
      return;
    }
    poll.timer = setTimeout(poll, POLL_MS);
  }

  function applyTimeline(data) {
    state.user = data.user;
    renderFriendState();
    const fresh = data.items.filter((item) => item.seq > state.lastSeq);
    const box = $("messages");
    const nearBottom = state.stickToBottom;
    for (const item of fresh) {
      state.items.push(item);
      box.append(renderItem(item));
    }
    state.lastSeq = Math.max(state.lastSeq, ...fresh.map((i) => i.seq));
    renderLoading(data.loading);
    if (fresh.length) {
      renderQuickReplies();
      if (nearBottom || fresh.some((i) => i.from === "citizen")) scrollToBottom();
    }
    if (data.richMenuId !== state.richMenuId) loadRichMenu(data.richMenuId);
    if (!state.items.length && !box.querySelector(".empty-note")) {
      box.append(el("p", { class: "empty-note" }, "まだメッセージはありません。下の入力欄から話しかけてみましょう。"));
    } else if (state.items.length) {
      box.querySelector(".empty-note")?.remove();
    }
  }

  function scrollToBottom() {
    const box = $("messages");
    box.scrollTop = box.scrollHeight;
    state.autoScrollTop = box.scrollTop;
    state.stickToBottom = true;
  }

  function markStatus(webhookEventId, result) {
    // The webhook's answer comes back to sendEvent, usually after the item was first drawn.
    const known = state.items.find((i) => i.from === "citizen" && i.webhookEventId === webhookEventId);
    if (!known || known.status === result.status) return;
    known.status = result.status;
    known.error = result.error;
    document.querySelector(`[data-seq="${known.seq}"]`)?.replaceWith(renderItem(known));
  }

  function renderFriendState() {
    const user = state.user;
    if (!user) return;
    const status = $("friend-status");
    const friend = user.followed;
    status.textContent = friend ? `${user.displayName} さん：友だち追加済み` :
      user.blocked ? `${user.displayName} さん：ブロック中` : `${user.displayName} さん：まだ友だちではありません`;
    $("follow-button").hidden = friend;
    $("block-button").hidden = !friend;
    for (const id of ["text-input", "send-button", "tools-button"]) $(id).disabled = !friend;
    if (!friend) $("tools").hidden = true;
    const note = $("composer-note");
    note.hidden = friend;
    note.textContent = user.blocked ? "ブロック中はメッセージを送れません。「友だち追加」でブロックを解除できます。" :
      "「友だち追加」を押すと、話しかけられます。";
  }

  function renderLoading(loading) {
    const box = $("messages");
    box.querySelector(".loading-row")?.remove();
    if (!loading) return;
    box.append(el("div", { class: "row-bot loading-row" }, avatar(null),
      el("div", { class: "bubble loading-bubble", "aria-label": "入力中" }, el("span"), el("span"), el("span"))));
    if (state.stickToBottom) scrollToBottom();
  }

  // --- rendering timeline items --------------------------------------------------------------------
  function renderItem(item) {
    return item.from === "bot" ? renderBotItem(item) : renderCitizenItem(item);
  }

  function renderCitizenItem(item) {
    let content = null;
    switch (item.kind) {
      case "text":
        content = el("div", { class: "bubble" }, linkify(item.text));
        break;
      case "location":
        content = locationCard(item);
        break;
      case "sticker":
        content = el("div", { class: "sticker", title: "スタンプ" }, icon("smile", 72));
        break;
      case "image":
        content = el("div", { class: "bubble" }, icon("image"), " 写真（見本）");
        break;
      case "postback":
        if (item.displayText) content = el("div", { class: "bubble" }, item.displayText);
        else if (item.params && Object.keys(item.params).length) {
          return el("div", { class: "picked-note", "data-seq": item.seq }, icon("calendar", 18),
            ` ${Object.values(item.params).join(" ")} を選びました`);
        } else return el("div", { hidden: true, "data-seq": item.seq });
        break;
      case "follow":
        return el("div", { class: "system-note", "data-seq": item.seq }, "友だち追加しました");
      case "unfollow":
        return el("div", { class: "system-note", "data-seq": item.seq }, "ブロックしました");
      default:
        content = el("div", { class: "bubble" }, `（${item.kind}）`);
    }
    const failed = item.status !== null && item.status !== undefined && item.status !== 200;
    const stamp = el("div", { class: "time" },
      failed ? el("span", { class: "send-error", title: item.error || "" }, `送信失敗 ${item.status || ""}`) : clockTime(item.at));
    return el("div", { class: "row-own", "data-seq": item.seq }, el("div", { class: "with-time" }, content, stamp));
  }

  function renderBotItem(item) {
    const wrapper = el("div", { class: "bot-item", "data-seq": item.seq, style: { display: "contents" } });
    return LineRender.renderMessages(item.messages, wrapper, {
      onAction: performAction,
      mentionName: state.user ? state.user.displayName : undefined,
      time: clockTime(item.at),
      quickReplies: false, // drawn in the bar under the conversation (renderQuickReplies)
    });
  }

  // --- quick replies -------------------------------------------------------------------------------
  function renderQuickReplies() {
    const bar = $("quick-replies");
    bar.replaceChildren();
    const last = state.items[state.items.length - 1];
    if (!last || last.from !== "bot") return; // LINE hides them once the citizen acts
    // Chips that send at once vanish at once; pickers keep them, in case the citizen cancels.
    const onAction = (action) => {
      if (action.type === "postback" || action.type === "message") bar.replaceChildren();
      performAction(action);
    };
    bar.append(...LineRender.renderQuickReplies(last.messages[last.messages.length - 1], { onAction }));
  }

  // --- rich menu -----------------------------------------------------------------------------------
  async function loadRichMenu(richMenuId) {
    state.richMenuId = richMenuId;
    const section = $("richmenu");
    if (!richMenuId) {
      section.hidden = true;
      return;
    }
    const { richMenu, imageUrl } = await api("GET", `/sandbox/api/richmenu?userId=${encodeURIComponent(state.userId)}`);
    if (!richMenu) {
      section.hidden = true;
      return;
    }
    const frame = $("richmenu-frame");
    frame.querySelectorAll(".richmenu-area").forEach((node) => node.remove());
    $("richmenu-image").src = imageUrl;
    for (const area of richMenu.areas || []) {
      frame.append(el("button", {
        type: "button", class: "richmenu-area", "aria-label": actionLabel(area.action, ""),
        title: actionLabel(area.action, ""),
        style: percentBox(area.bounds, richMenu.size.width, richMenu.size.height),
        onclick: () => performAction(area.action),
      }));
    }
    section.dataset.chatBarText = richMenu.chatBarText;
    section.hidden = false;
    setRichMenuOpen(Boolean(richMenu.selected));
  }

  function setRichMenuOpen(open) {
    state.richMenuOpen = open;
    if (open) $("tools").hidden = true; // like LINE: the menu takes the keyboard's place
    $("richmenu-panel").hidden = !open;
    const bar = $("richmenu-bar");
    bar.textContent = `${$("richmenu").dataset.chatBarText || "メニュー"} ${open ? "▼" : "▲"}`;
    bar.setAttribute("aria-expanded", String(open));
  }

  // --- wiring --------------------------------------------------------------------------------------
  function wire() {
    for (const button of document.querySelectorAll("[data-icon]")) button.prepend(icon(button.dataset.icon));
    const input = $("text-input");
    input.addEventListener("compositionstart", () => { state.composing = true; });
    input.addEventListener("compositionend", () => {
      // Safari fires compositionend before the confirming keydown: keep the flag for that keydown.
      setTimeout(() => { state.composing = false; }, 0);
    });
    input.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" || event.shiftKey) return;
      if (isImeEnter(event)) return;
      event.preventDefault();
      submitTyped();
    });
    input.addEventListener("input", () => autoGrow(input));
    const box = $("messages");
    box.addEventListener("scroll", () => {
      // Content growing (images loading) does not move scrollTop; only the person scrolling up does.
      if (box.scrollTop < state.autoScrollTop - 4) state.stickToBottom = false;
      if (box.scrollHeight - box.scrollTop - box.clientHeight < 120) state.stickToBottom = true;
    });
    // Images arrive after their bubble is drawn; keep the latest message in view while they load.
    box.addEventListener("load", () => { if (state.stickToBottom) scrollToBottom(); }, true);
    // The area shrinks when quick replies, tools or the rich menu appear: keep the latest message in view.
    new ResizeObserver(() => { if (state.stickToBottom) scrollToBottom(); }).observe(box);
    $("send-button").addEventListener("click", submitTyped);
    $("tools-button").addEventListener("click", () => {
      const tools = $("tools");
      tools.hidden = !tools.hidden;
      $("tools-button").setAttribute("aria-expanded", String(!tools.hidden));
    });
    $("location-button").addEventListener("click", openLocationDialog);
    $("sticker-button").addEventListener("click", () => sendEvent({ kind: "sticker", packageId: "446", stickerId: "1988" }));
    $("image-button").addEventListener("click", () => sendEvent({ kind: "image" }));
    $("manual-location-send").addEventListener("click", sendManualLocation);
    $("datetime-dialog").addEventListener("close", finishDatetimePicker);
    $("follow-button").addEventListener("click", () => sendEvent({ kind: "follow" }));
    $("block-button").addEventListener("click", () => sendEvent({ kind: "unfollow" }));
    $("richmenu-bar").addEventListener("click", () => setRichMenuOpen(!state.richMenuOpen));
    $("citizen-select").addEventListener("change", (event) => switchCitizen(event.target.value));
    $("new-citizen-button").addEventListener("click", showNewCitizenForm);
    $("new-citizen-cancel").addEventListener("click", () => { $("new-citizen-form").hidden = true; });
    $("new-citizen-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const name = $("new-citizen-name").value.trim();
      if (!name) {
        toast("お名前を入れてください");
        return;
      }
      createCitizen(name).catch((error) => toast(`作成できませんでした：${error.message}`));
    });
  }

  wire();
  loadCitizens().catch((error) => toast(`読み込めませんでした：${error.message}`));
})();
