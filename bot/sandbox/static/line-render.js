// LINE message rendering, shared by the sandbox chat page (chat.js) and the admin's previews.
// Plain JS, no frameworks; styled by line-render.css (load both before the page's own script).
//
//   <link rel="stylesheet" href="/admin/static/line-render.css">   (the sandbox: /sandbox/static/…)
//   <script src="/admin/static/line-render.js"></script>
//
//   // Bot rows (avatar, sender name, bubbles) appended to `container`, the last message's quick
//   // replies drawn as chips under them. Without onAction, buttons, areas and chips do nothing.
//   LineRender.renderMessages([{ type: "text", text: "こんにちは" }, flexMessage], container);
//
//   // One message alone (a bubble, an image, a Flex bubble or carousel, a template card…).
//   const node = LineRender.renderMessage(message, { onAction: (action) => console.log(action) });
//
// options (all optional):
//   onAction(action)  called with the LINE action of a tapped button, card, imagemap area or chip
//   mentionName       the name a textV2 mention substitution shows ("あなた" when not given)
//   time              renderMessages: the clock time shown beside the last message ("9:05")
//   quickReplies      renderMessages: false leaves out the last message's quick-reply chips
// Also exported for the chat page: renderQuickReplies(message, options) -> chips, and the helpers
// el, icon, avatar, linkify, locationCard, actionLabel, percentBox.
"use strict";

window.LineRender = (() => {
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

  function linkify(text) {
    const parts = String(text).split(/(https?:\/\/[^\s]+)/g);
    return parts.map((part, i) => (i % 2 ? el("a", { href: part, target: "_blank", rel: "noopener" }, part) : part));
  }

  function actionLabel(action, fallback) {
    return (action && (action.label || action.displayText || action.text)) || fallback || "開く";
  }

  function percentBox(bounds, width, height) {
    return {
      left: `${(bounds.x / width) * 100}%`, top: `${(bounds.y / height) * 100}%`,
      width: `${(bounds.width / width) * 100}%`, height: `${(bounds.height / height) * 100}%`,
    };
  }

  // Everything below draws with one set of options: `act(action)` is their onAction, or nothing.
  function renderer(options = {}) {
    const act = (action) => { if (options.onAction) options.onAction(action); };

    function clickable(node, action) {
      if (!action || !options.onAction) return node; // a preview: no pointer, no focus stop
      node.classList.add("flex-clickable");
      node.tabIndex = 0;
      node.setAttribute("role", "button");
      node.addEventListener("click", (event) => { event.stopPropagation(); act(action); });
      node.addEventListener("keydown", (event) => { if (event.key === "Enter") act(action); });
      return node;
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
            onclick: options.onAction ? () => window.open(message.originalContentUrl, "_blank", "noopener") : undefined,
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
        if (entry.type === "mention") return `@${options.mentionName ?? "あなた"}`;
        return "☺";
      });
    }

    // --- templates and imagemaps -------------------------------------------------------------------
    function templateActions(actions, confirm = false) {
      return el("div", { class: confirm ? "template-actions confirm" : "template-actions" },
        (actions || []).map((action) => el("button", { type: "button", onclick: () => act(action) }, actionLabel(action))));
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
          style: percentBox(area, base.width, base.height), onclick: () => act(target),
        }));
      }
      return frame;
    }

    // --- Flex --------------------------------------------------------------------------------------
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

    function renderComponent(component, parentLayout) {
      const render = FLEX_RENDERERS[component.type];
      if (!render) return el("span", { class: "unsupported" }, `（${component.type}）`);
      const node = render(component, parentLayout);
      if (component.type !== "span") applyCommon(node, component, parentLayout);
      if (component.type !== "button" && component.action) clickable(node, component.action);
      return node;
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

    function renderButton(component) {
      const style = component.style || "link";
      const node = el("button", { type: "button", class: `flex-button ${style} ${component.height || ""}` }, actionLabel(component.action, "ボタン"));
      if (component.color) node.style[style === "link" ? "color" : "backgroundColor"] = component.color;
      node.addEventListener("click", () => act(component.action));
      return node;
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

    // --- quick replies -----------------------------------------------------------------------------
    function renderQuickReplies(message) {
      const items = (message && message.quickReply && message.quickReply.items) || [];
      return items.map((item) => {
        const action = item.action || {};
        return el("button", { type: "button", class: "chip", onclick: () => act(action) },
          item.imageUrl ? el("img", { src: item.imageUrl, alt: "" }) : quickReplyIcon(action.type),
          actionLabel(action));
      });
    }

    // --- bot rows: avatar, sender name, the messages, the time -------------------------------------
    function renderMessages(messages, container) {
      container.classList.add("line-render");
      messages.forEach((message, index) => {
        const first = index === 0;
        const sender = message.sender || {};
        const last = index === messages.length - 1;
        const column = el("div", { class: "bot-column" },
          first ? el("div", { class: "sender-name" }, sender.name || "瀬戸内市") : null,
          el("div", { class: "with-time" }, renderMessage(message), last && options.time ? el("div", { class: "time" }, options.time) : null));
        container.append(el("div", { class: "row-bot" }, avatar(first ? sender : null, !first), column));
      });
      const chips = options.quickReplies === false ? [] : renderQuickReplies(messages[messages.length - 1]);
      if (chips.length) container.append(el("div", { class: "quick-replies" }, chips));
      return container;
    }

    return { renderMessage, renderMessages, renderQuickReplies };
  }

  // --- pure pieces (no actions) ----------------------------------------------------------------------
  function avatar(sender, hidden = false) {
    const node = el("div", { class: hidden ? "avatar spacer" : "avatar", "aria-hidden": "true" });
    if (sender && sender.iconUrl) node.append(el("img", { src: sender.iconUrl, alt: "" }));
    else node.textContent = "市";
    return node;
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

  function renderSeparator(component) {
    const node = el("hr", { class: "flex-separator" });
    if (component.color) node.style.borderColor = component.color;
    return node;
  }

  function renderSpacer(component) {
    const size = px(component.size, { xs: 2, sm: 4, md: 8, lg: 12, xl: 16, xxl: 20 }) || "8px";
    return el("div", { style: { minHeight: size, minWidth: size } });
  }

  function quickReplyIcon(type) {
    const names = { location: "pin", datetimepicker: "calendar", camera: "camera", cameraRoll: "image", uri: "link", clipboard: "clipboard" };
    return names[type] ? icon(names[type]) : null;
  }

  return {
    renderMessage: (message, options) => renderer(options).renderMessage(message),
    renderMessages: (messages, container, options) => renderer(options).renderMessages(messages || [], container),
    renderQuickReplies: (message, options) => renderer(options).renderQuickReplies(message),
    el, icon, avatar, linkify, locationCard, actionLabel, percentBox,
  };
})();
