// LINE sandbox chat page: a person plays a citizen; every action becomes a real, signed webhook event.
// Plain JS, no frameworks. Talks to /sandbox/api (see bot/sandbox/api.py).
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
  const TEXT_SIZES = { xxs: 12, xs: 13, sm: 15, md: 17, lg: 19, xl: 22, xxl: 26, "3xl": 30, "4xl": 36, "5xl": 44 };
  const IMAGE_SIZES = { xxs: 40, xs: 60, sm: 80, md: 100, lg: 120, xl: 140, xxl: 160, "3xl": 180, "4xl": 200, "5xl": 240 };
  const SPACING = { none: 0, xs: 2, sm: 4, md: 8, lg: 12, xl: 16, xxl: 20 };
  const BUBBLE_WIDTHS = { nano: 120, micro: 160, deca: 220, hecto: 241, kilo: 260, mega: 300, giga: 386 };
  // Inline SVG icons: emoji fonts are often missing on the Linux boxes the demo runs on.
  const ICONS = {
    pin: '<path d="M12 22s7-6.2 7-12a7 7 0 1 0-14 0c0 5.8 7 12 7 12z"/><circle cx="12" cy="10" r="2.5"/>',
    calendar: '<rect x="3" y="5" width="18" height="16" rx="2"/><path d="M3 10h18M8 3v4M16 3v4"/>',
    camera: '<path d="M4 8h3l2-3h6l2 3h3v11H4z"/><circle cx="12" cy="13" r="3.5"/>',
    image: '<rect x="3" y="4" width="18" height="16" rx="2"/><circle cx="9" cy="10" r="2"/><path d="M21 17l-5-5-8 8"/>',
    link: '<path d="M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1"/>',
    clipboard: '<rect x="6" y="4" width="12" height="17" rx="2"/><path d="M9 4h6v3H9z"/>',
    smile: '<circle cx="12" cy="12" r="9"/><path d="M8.5 14.5a4.5 4.5 0 0 0 7 0"/>' +
      '<circle cx="9" cy="10" r="1" fill="currentColor"/><circle cx="15" cy="10" r="1" fill="currentColor"/>',
  };

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

  // --- small DOM helpers ---------------------------------------------------------------------------
  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null) continue;
      if (key === "class") node.className = value;
      else if (key === "style") Object.assign(node.style, value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key in node) node[key] = value;
      else node.setAttribute(key, value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function icon(name, size = 20) {
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    const attributes = {
      viewBox: "0 0 24 24", width: size, height: size, fill: "none", stroke: "currentColor", "stroke-width": 2,
      "stroke-linecap": "round", "stroke-linejoin": "round", "aria-hidden": "true", class: "icon",
    };
    for (const [key, value] of Object.entries(attributes)) svg.setAttribute(key, String(value));
    svg.innerHTML = ICONS[name] || "";
    return svg;
  }

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

  function actionLabel(action, fallback) {
    return (action && (action.label || action.displayText || action.text)) || fallback || "開く";
  }

  function clickable(node, action) {
    if (!action) return node;
    node.classList.add("flex-clickable");
    node.tabIndex = 0;
    node.setAttribute("role", "button");
    node.addEventListener("click", (event) => { event.stopPropagation(); performAction(action); });
    node.addEventListener("keydown", (event) => { if (event.key === "Enter") performAction(action); });
    return node;
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
    item.messages.forEach((message, index) => {
      const first = index === 0;
      const sender = message.sender || {};
      const column = el("div", { class: "bot-column" },
        first ? el("div", { class: "sender-name" }, sender.name || "瀬戸内市") : null,
        el("div", { class: "with-time" }, renderMessage(message), index === item.messages.length - 1 ? el("div", { class: "time" }, clockTime(item.at)) : null));
      wrapper.append(el("div", { class: "row-bot" }, avatar(first ? sender : null, !first), column));
    });
    return wrapper;
  }

  function avatar(sender, hidden = false) {
    const node = el("div", { class: hidden ? "avatar spacer" : "avatar", "aria-hidden": "true" });
    if (sender && sender.iconUrl) node.append(el("img", { src: sender.iconUrl, alt: "" }));
    else node.textContent = "市";
    return node;
  }

  function linkify(text) {
    const parts = String(text).split(/(https?:\/\/[^\s]+)/g);
    return parts.map((part, i) => (i % 2 ? el("a", { href: part, target: "_blank", rel: "noopener" }, part) : part));
  }

  function renderMessage(message) {
    switch (message.type) {
      case "text":
        return el("div", { class: "bubble" }, linkify(message.text));
      case "textV2":
        return el("div", { class: "bubble" }, linkify(substitute(message)));
      case "sticker":
        return el("div", {}, el("div", { class: "sticker", title: "スタンプ" }, icon("smile", 72)),
          el("div", { class: "sticker-caption" }, "スタンプ"));
      case "image":
        return el("img", {
          class: "media-image", src: message.previewImageUrl, alt: "画像",
          onclick: () => window.open(message.originalContentUrl, "_blank", "noopener"),
        });
      case "video":
        return el("video", { class: "media-image", src: message.originalContentUrl, poster: message.previewImageUrl, controls: true });
      case "audio":
        return el("audio", { src: message.originalContentUrl, controls: true });
      case "location":
        return locationCard(message);
      case "flex":
        return renderFlexContainer(message.contents);
      case "template":
        return renderTemplate(message.template);
      case "imagemap":
        return renderImagemap(message);
      default:
        return el("div", { class: "unsupported" }, `（このサンドボックスで表示できないメッセージ：${message.type}）`);
    }
  }

  function substitute(message) {
    const table = message.substitution || {};
    return String(message.text).replace(/\{([a-zA-Z0-9_]+)\}/g, (whole, key) => {
      const entry = table[key];
      if (!entry) return whole;
      if (entry.type === "mention") return `@${state.user ? state.user.displayName : "あなた"}`;
      return "☺";
    });
  }

  function locationCard(location) {
    const lat = Number(location.latitude).toFixed(4);
    const lon = Number(location.longitude).toFixed(4);
    const mapUrl = `https://www.openstreetmap.org/?mlat=${location.latitude}&mlon=${location.longitude}#map=16/${location.latitude}/${location.longitude}`;
    return el("div", { class: "location-card" },
      el("div", { class: "location-map", "aria-hidden": "true" }, icon("pin", 40)),
      el("div", { class: "location-body" },
        el("div", { class: "location-title" }, location.title || "位置情報"),
        location.address ? el("div", { class: "location-address" }, location.address) : null,
        el("div", { class: "location-coords" }, `緯度 ${lat}, 経度 ${lon}`),
        el("a", { href: mapUrl, target: "_blank", rel: "noopener" }, "地図で見る")));
  }

  // --- templates and imagemaps ---------------------------------------------------------------------
  function templateActions(actions, confirm = false) {
    return el("div", { class: confirm ? "template-actions confirm" : "template-actions" },
      (actions || []).map((action) => el("button", { type: "button", onclick: () => performAction(action) }, actionLabel(action))));
  }

  function templateCard(column, confirm = false) {
    return clickable(el("div", { class: "template-card" },
      column.thumbnailImageUrl ? el("img", { src: column.thumbnailImageUrl, alt: "" }) : null,
      column.title ? el("div", { class: "template-title" }, column.title) : null,
      el("div", { class: "template-text" }, column.text),
      templateActions(column.actions, confirm)), column.defaultAction);
  }

  function renderTemplate(template) {
    switch (template.type) {
      case "buttons":
        return templateCard(template);
      case "confirm":
        return templateCard(template, true);
      case "carousel":
        return el("div", { class: "template-carousel" }, template.columns.map((column) => templateCard(column)));
      case "image_carousel":
        return el("div", { class: "template-carousel" }, template.columns.map((column) => el("div", { class: "template-card" },
          clickable(el("img", { src: column.imageUrl, alt: "" }), column.action),
          templateActions([column.action]))));
      default:
        return el("div", { class: "unsupported" }, "（テンプレートメッセージ）");
    }
  }

  function renderImagemap(message) {
    const base = message.baseSize || { width: 1040, height: 1040 };
    const frame = el("div", { class: "imagemap" }, el("img", { src: `${message.baseUrl}/1040`, alt: message.altText || "" }));
    for (const action of message.actions || []) {
      const area = action.area || {};
      const target = action.type === "uri" ? { type: "uri", uri: action.linkUri } : { type: "message", text: action.text };
      frame.append(el("button", {
        class: "area", type: "button", "aria-label": action.label || "",
        style: percentBox(area, base.width, base.height), onclick: () => performAction(target),
      }));
    }
    return frame;
  }

  function percentBox(bounds, width, height) {
    return {
      left: `${(bounds.x / width) * 100}%`, top: `${(bounds.y / height) * 100}%`,
      width: `${(bounds.width / width) * 100}%`, height: `${(bounds.height / height) * 100}%`,
    };
  }

  // --- Flex ----------------------------------------------------------------------------------------
  function renderFlexContainer(container) {
    if (!container) return el("div", { class: "unsupported" }, "（Flex）");
    if (container.type === "carousel") {
      return el("div", { class: "flex-carousel" }, (container.contents || []).map(renderBubble));
    }
    return renderBubble(container);
  }

  function renderBubble(bubble) {
    const styles = bubble.styles || {};
    const node = el("div", { class: "flex-bubble", style: { width: `${BUBBLE_WIDTHS[bubble.size] || 300}px` } });
    for (const block of ["header", "hero", "body", "footer"]) {
      const component = bubble[block];
      if (!component) continue;
      const blockStyle = styles[block] || {};
      const wrap = el("div", { class: `flex-block ${block}`, style: { backgroundColor: blockStyle.backgroundColor } });
      if (blockStyle.separator) wrap.style.borderTop = `1px solid ${blockStyle.separatorColor || "#d8d8d8"}`;
      wrap.append(renderComponent(component, "vertical"));
      node.append(wrap);
    }
    return clickable(node, bubble.action);
  }

  function px(value, table) {
    if (value === undefined || value === null) return undefined;
    if (table && value in table) return `${table[value]}px`;
    return /^\d+(\.\d+)?(px|%)$/.test(String(value)) ? String(value) : undefined;
  }

  function flexShare(component, parentLayout) {
    const flex = component.flex ?? (parentLayout === "vertical" ? 0 : 1);
    return flex > 0 ? `${flex} 1 0%` : "0 0 auto";
  }

  function applyCommon(node, component, parentLayout) {
    const s = node.style;
    s.flex = flexShare(component, parentLayout);
    const margin = px(component.margin, SPACING);
    if (margin) s[parentLayout === "vertical" ? "marginTop" : "marginLeft"] = margin;
    if (component.position === "absolute") s.position = "absolute";
    else if (component.offsetTop || component.offsetStart) s.position = "relative";
    for (const [key, css] of [["offsetTop", "top"], ["offsetBottom", "bottom"], ["offsetStart", "left"], ["offsetEnd", "right"]]) {
      const value = px(component[key], SPACING);
      if (value) s[css] = value;
    }
    if (component.gravity === "center") s.alignSelf = "center";
    if (component.gravity === "bottom") s.alignSelf = "flex-end";
    return node;
  }

  function renderComponent(component, parentLayout) {
    const render = FLEX_RENDERERS[component.type];
    if (!render) return el("span", { class: "unsupported" }, `（${component.type}）`);
    const node = render(component, parentLayout);
    if (component.type !== "span") applyCommon(node, component, parentLayout);
    if (component.type !== "button" && component.action) clickable(node, component.action);
    return node;
  }

  function renderBox(box) {
    const layout = box.layout || "vertical";
    const node = el("div", { class: `flex-box ${layout}` });
    const s = node.style;
    const gap = px(box.spacing, SPACING);
    if (gap) s.gap = gap;
    const padding = px(box.paddingAll, SPACING);
    if (padding) s.padding = padding;
    for (const [key, css] of [["paddingTop", "paddingTop"], ["paddingBottom", "paddingBottom"], ["paddingStart", "paddingLeft"], ["paddingEnd", "paddingRight"]]) {
      const value = px(box[key], SPACING);
      if (value) s[css] = value;
    }
    if (box.backgroundColor) s.backgroundColor = box.backgroundColor;
    if (box.borderColor) s.border = `${px(box.borderWidth, { none: 0, light: 0.5, normal: 1, medium: 2, "semi-bold": 3, bold: 4 }) || "1px"} solid ${box.borderColor}`;
    const radius = px(box.cornerRadius, SPACING);
    if (radius) s.borderRadius = radius;
    if (box.width) s.width = box.width;
    if (box.height) s.height = box.height;
    if (box.justifyContent) s.justifyContent = box.justifyContent;
    if (box.alignItems) s.alignItems = box.alignItems;
    for (const child of box.contents || []) node.append(renderComponent(child, layout));
    return node;
  }

  function textStyle(component) {
    const style = {};
    const size = px(component.size, TEXT_SIZES);
    if (size) style.fontSize = size;
    if (component.weight === "bold") style.fontWeight = "bold";
    if (component.color) style.color = component.color;
    if (component.style === "italic") style.fontStyle = "italic";
    if (component.decoration === "underline") style.textDecoration = "underline";
    if (component.decoration === "line-through") style.textDecoration = "line-through";
    return style;
  }

  function renderText(component) {
    const node = el("div", { class: component.wrap ? "flex-text wrap" : "flex-text", style: textStyle(component) });
    if (component.align) node.style.textAlign = { start: "left", end: "right", center: "center" }[component.align];
    if (component.maxLines) {
      Object.assign(node.style, { display: "-webkit-box", webkitLineClamp: String(component.maxLines), webkitBoxOrient: "vertical" });
    }
    if (component.lineSpacing) node.style.lineHeight = `calc(1.4em + ${component.lineSpacing})`;
    const spans = component.contents || [];
    if (spans.length) spans.forEach((span) => node.append(el("span", { style: textStyle(span) }, span.text)));
    else node.append(...linkify(component.text ?? ""));
    return node;
  }

  function renderImage(component) {
    const width = component.size === "full" ? "100%" : px(component.size, IMAGE_SIZES) || `${IMAGE_SIZES.md}px`;
    const [w, h] = String(component.aspectRatio || "1:1").split(":").map(Number);
    const wrap = el("div", {
      class: component.aspectMode === "cover" ? "flex-image-wrap cover" : "flex-image-wrap",
      style: { width, maxWidth: "100%", aspectRatio: `${w || 1} / ${h || 1}`, backgroundColor: component.backgroundColor },
    }, el("img", { src: component.url, alt: "" }));
    if (component.align === "start") wrap.style.alignSelf = "flex-start";
    if (component.align === "end") wrap.style.alignSelf = "flex-end";
    return wrap;
  }

  function renderIcon(component) {
    const size = px(component.size, TEXT_SIZES) || "17px";
    return el("img", { class: "flex-icon", src: component.url, alt: "", style: { width: size, height: size } });
  }

  function renderButton(component) {
    const style = component.style || "link";
    const node = el("button", { type: "button", class: `flex-button ${style} ${component.height || ""}` }, actionLabel(component.action, "ボタン"));
    if (component.color) node.style[style === "link" ? "color" : "backgroundColor"] = component.color;
    node.addEventListener("click", () => performAction(component.action));
    return node;
  }

  function renderSeparator(component) {
    const node = el("hr", { class: "flex-separator" });
    if (component.color) node.style.borderColor = component.color;
    return node;
  }

  function renderSpacer(component) {
    const size = px(component.size, { xs: 2, sm: 4, md: 8, lg: 12, xl: 16, xxl: 20 }) || "8px";
    return el("div", { style: { minHeight: size, minWidth: size } });
  }

  const FLEX_RENDERERS = {
    box: renderBox,
    text: renderText,
    span: (span) => el("span", { style: textStyle(span) }, span.text),
    image: renderImage,
    icon: renderIcon,
    button: renderButton,
    separator: renderSeparator,
    spacer: renderSpacer,
    filler: () => el("div", {}),
    video: (video) => (video.altContent ? renderComponent(video.altContent, "vertical") : renderImage({ url: video.previewUrl, size: "full" })),
  };

  // --- quick replies -------------------------------------------------------------------------------
  function renderQuickReplies() {
    const bar = $("quick-replies");
    bar.replaceChildren();
    const last = state.items[state.items.length - 1];
    if (!last || last.from !== "bot") return; // LINE hides them once the citizen acts
    const lastMessage = last.messages[last.messages.length - 1];
    const items = (lastMessage && lastMessage.quickReply && lastMessage.quickReply.items) || [];
    for (const item of items) {
      const action = item.action || {};
      // Chips that send at once vanish at once; pickers keep them, in case the citizen cancels.
      const sendsNow = action.type === "postback" || action.type === "message";
      bar.append(el("button", { type: "button", class: "chip", onclick: () => { if (sendsNow) bar.replaceChildren(); performAction(action); } },
        item.imageUrl ? el("img", { src: item.imageUrl, alt: "" }) : quickReplyIcon(action.type),
        actionLabel(action)));
    }
  }

  function quickReplyIcon(type) {
    const names = { location: "pin", datetimepicker: "calendar", camera: "camera", cameraRoll: "image", uri: "link", clipboard: "clipboard" };
    return names[type] ? icon(names[type]) : null;
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
