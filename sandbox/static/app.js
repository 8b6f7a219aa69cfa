// The sandbox chat page: chat with the bot as any demo person, several side by side.
// Plain JavaScript, no build step. Talks to the page API under /sandbox/api/ (see page_api.py).
"use strict";

const API = "/sandbox/api";
const DEMO_LOCATION = { latitude: 39.9289, longitude: 116.4166 }; // Dongcheng, Beijing
const STORE_KEY = "retiree-sandbox";

const state = {
  bot: null,
  people: [],
  groups: [],
  feeds: new Map(), // chat id -> Feed
  columns: [],
  last: 0, // last event sequence number seen by the poller
  pollAbort: null,
  pollKey: "",
  boot: null, // the sandbox process this page was loaded from (a restart changes it)
  timezone: "Asia/Shanghai", // the office's time zone: bubble times are shown in it
};

class Feed {
  constructor(chatId) {
    this.chatId = chatId;
    this.chat = null;
    this.messages = new Map();
    this.keyboard = null;
    this.since = 0; // events up to this sequence are already in the snapshot
    this.loading = null;
  }
}

// -- helpers ------------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

async function api(path, options = {}) {
  const init = { ...options };
  if (options.json !== undefined) {
    init.method = init.method || "POST";
    init.headers = { "Content-Type": "application/json" };
    init.body = JSON.stringify(options.json);
    delete init.json;
  }
  const response = await fetch(API + path, init);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || `${response.status} ${response.statusText}`);
  return body;
}

function personById(id) {
  return state.people.find((p) => p.id === Number(id));
}

const HAN = /\p{Script=Han}/u;

// Chinese names in Chinese order: surname first, no space (周 + 建华 = 周建华); others as
// Telegram shows them (Wenhua Lin).
function fullName(user) {
  const first = (user.first_name || "").trim();
  const last = (user.last_name || "").trim();
  if (!last) return first;
  if (!first) return last;
  return HAN.test(first + last) ? last + first : `${first} ${last}`;
}

// A bubble's time in the office's time zone (not the browser's): what the bot's own texts say.
function timeOf(unix) {
  const d = new Date(unix * 1000);
  try {
    return d.toLocaleTimeString("zh-CN", { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: state.timezone });
  } catch {
    return d.toLocaleTimeString("zh-CN", { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  }
}

function safeUrl(url) {
  return /^(https?:|tg:)/i.test(url || "") ? url : null;
}

// Telegram entities (offsets in UTF-16 code units, which is how JavaScript strings count).
function renderText(text, entities) {
  const fragment = document.createDocumentFragment();
  if (!entities || !entities.length) {
    fragment.append(text);
    return fragment;
  }
  const points = new Set([0, text.length]);
  for (const e of entities) {
    points.add(Math.min(text.length, e.offset));
    points.add(Math.min(text.length, e.offset + e.length));
  }
  const sorted = [...points].sort((a, b) => a - b);
  for (let i = 0; i < sorted.length - 1; i++) {
    const [a, b] = [sorted[i], sorted[i + 1]];
    let node = document.createTextNode(text.slice(a, b));
    for (const e of entities) {
      if (e.offset <= a && e.offset + e.length >= b) node = wrapEntity(node, e, text);
    }
    fragment.append(node);
  }
  return fragment;
}

function wrapEntity(node, entity, text) {
  const tags = {
    bold: "b", italic: "i", underline: "u", strikethrough: "s", code: "code", pre: "pre",
    spoiler: "span", blockquote: "blockquote",
  };
  let wrapper;
  if (entity.type === "text_link" || entity.type === "url") {
    const href = safeUrl(entity.type === "url" ? text.substr(entity.offset, entity.length) : entity.url);
    if (!href) return node;
    wrapper = el("a", { href, target: "_blank", rel: "noopener noreferrer" });
  } else if (tags[entity.type]) {
    wrapper = el(tags[entity.type], { class: entity.type === "spoiler" ? "spoiler" : null });
  } else {
    return node;
  }
  wrapper.append(node);
  return wrapper;
}

// -- feeds and polling --------------------------------------------------------------------

function feedFor(chatId) {
  let feed = state.feeds.get(chatId);
  if (!feed) {
    feed = new Feed(chatId);
    state.feeds.set(chatId, feed);
  }
  return feed;
}

async function loadFeed(feed) {
  if (!feed.loading) {
    feed.loading = api(`/chats/${feed.chatId}/messages`).then((body) => {
      feed.chat = body.chat;
      feed.messages = new Map(body.messages.map((m) => [m.message_id, m]));
      feed.keyboard = body.keyboard;
      feed.since = body.last;
    });
  }
  return feed.loading;
}

function watchedChats() {
  return [...new Set(state.columns.filter((c) => c.chatId !== null).map((c) => c.chatId))].sort();
}

function restartPolling() {
  const key = watchedChats().join(",");
  if (key === state.pollKey && state.pollAbort) return;
  state.pollKey = key;
  if (state.pollAbort) state.pollAbort.abort();
  const controller = new AbortController();
  state.pollAbort = controller;
  poll(key, controller.signal);
}

async function poll(key, signal) {
  while (!signal.aborted) {
    try {
      const response = await fetch(`${API}/events?chats=${key}&after=${state.last}&timeout=25`, { signal });
      if (!response.ok) throw new Error(String(response.status));
      const body = await response.json();
      if (restarted(body.boot)) return;
      showConnection(true);
      for (const event of body.events) applyEvent(event);
      state.last = Math.max(state.last, body.last);
    } catch (error) {
      if (signal.aborted) return;
      showConnection(false);
      await new Promise((resolve) => setTimeout(resolve, 1500));
    }
  }
}

// A sandbox that was stopped and started again has none of this page's chats, people or event
// numbers: the page loads itself again instead of waiting for events that will never come.
function restarted(boot) {
  if (!boot || !state.boot || boot === state.boot) return false;
  if (state.pollAbort) state.pollAbort.abort();
  showConnection(false, "The sandbox was restarted; reloading… · 沙盒已重启，正在重新加载…");
  location.reload();
  return true;
}

function showConnection(ok, text) {
  const banner = document.querySelector(".connection");
  if (!banner) return;
  if (text) banner.textContent = text;
  banner.hidden = ok;
}

function applyEvent(event) {
  const feed = state.feeds.get(event.chat_id);
  if (!feed || event.seq <= feed.since) return;
  const columns = state.columns.filter((c) => c.chatId === event.chat_id);
  if (event.type === "message") {
    feed.messages.set(event.message.message_id, event.message);
    columns.forEach((c) => c.upsertMessage(event.message));
  } else if (event.type === "delete") {
    feed.messages.delete(event.message_id);
    columns.forEach((c) => c.removeMessage(event.message_id));
  } else if (event.type === "keyboard") {
    feed.keyboard = event.keyboard;
    columns.forEach((c) => { c.keyboardHidden = false; c.renderKeyboard(); });
  } else if (event.type === "answer") {
    columns
      .filter((c) => c.personId === event.user_id && event.text)
      .forEach((c) => c.toast(event.text, event.show_alert));
  } else if (event.type === "action") {
    columns.forEach((c) => c.showTyping());
  }
}

// -- a column: one person in one chat -------------------------------------------------------

class Column {
  constructor(personId, chatId) {
    this.personId = personId;
    this.chatId = chatId;
    const template = document.getElementById("column-template");
    this.root = template.content.firstElementChild.cloneNode(true);
    this.q = (selector) => this.root.querySelector(selector);
    this.personSelect = this.q(".person-select");
    this.chatSelect = this.q(".chat-select");
    this.list = this.q(".messages");
    this.input = this.q(".message-input");
    this.recorder = null;
    this.keyboardHidden = false;
    this.bind();
  }

  bind() {
    this.personSelect.addEventListener("focus", () => refreshPeople());
    this.personSelect.addEventListener("change", async () => {
      if (this.personSelect.value === "__new__") {
        const created = await askNewPerson();
        if (created) await this.setPerson(created.id);
        else this.fillPeople();
        return;
      }
      await this.setPerson(Number(this.personSelect.value));
    });
    this.chatSelect.addEventListener("change", () => this.setChat(Number(this.chatSelect.value)));
    this.q(".close-column").addEventListener("click", () => closeColumn(this));
    this.q(".toggle-details").addEventListener("click", () => this.toggleDetails());
    this.q(".keyboard-toggle").addEventListener("click", () => {
      this.keyboardHidden = !this.keyboardHidden;
      this.renderKeyboard();
    });
    this.q(".attach-toggle").addEventListener("click", () => {
      const open = this.root.classList.toggle("attach-open");
      this.q(".attach-toggle").setAttribute("aria-expanded", String(open));
    });
    this.q(".composer").addEventListener("submit", (event) => {
      event.preventDefault();
      this.sendText(this.input.value);
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.sendText(this.input.value);
      }
    });
    this.input.addEventListener("input", () => this.autosize());
    this.following = true;
    this.autoScrolledAt = 0;
    this.list.addEventListener("scroll", () => {
      // only the reader's own scrolling decides whether we keep following new messages
      if (Date.now() - this.autoScrolledAt > 400) this.following = this.nearBottom();
    });
    // pictures grow the list when they load: stay at the end if we were there
    this.list.addEventListener("load", () => { if (this.following) this.scrollToEnd(true); }, true);
    // the list gets shorter when the keyboard, the composer or the text size grows: keep the
    // newest message in sight
    if (window.ResizeObserver) {
      new ResizeObserver(() => { if (this.following) this.scrollToEnd(true); }).observe(this.list);
    }
    this.q(".photo-input").addEventListener("change", (event) => this.upload("photo", event.target));
    this.q(".voice-input").addEventListener("change", (event) => this.upload("voice", event.target));
    this.q(".record").addEventListener("click", () => this.toggleRecording());
    this.q(".location").addEventListener("click", () => this.sendLocation());
    if (!window.MediaRecorder || !navigator.mediaDevices) this.q(".record").hidden = true;
  }

  autosize() {
    if (!this.input.value) {
      this.input.style.height = "";
      return;
    }
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(this.input.scrollHeight, 200)}px`;
  }

  // The person pickers and card: open at the normal text size on a wide screen, folded into
  // the one-line bar at A+ / A++ and on phones, so the conversation keeps the height.
  detailsShown() {
    if (this.root.classList.contains("details-open")) return true;
    if (this.root.classList.contains("details-closed")) return false;
    return getComputedStyle(this.q(".column-details")).display !== "none";
  }

  toggleDetails(open = !this.detailsShown()) {
    this.root.classList.toggle("details-open", open);
    this.root.classList.toggle("details-closed", !open);
    this.q(".toggle-details").setAttribute("aria-expanded", String(open));
    if (open) this.personSelect.focus();
  }

  fillPeople() {
    this.personSelect.replaceChildren();
    const roles = new Map();
    for (const person of state.people) {
      const role = person.role_hint || "other · 其他";
      if (!roles.has(role)) roles.set(role, []);
      roles.get(role).push(person);
    }
    for (const [role, people] of roles) {
      const group = el("optgroup", { label: role });
      for (const person of people) {
        const label = fullName(person) + (person.blocked ? " (blocked the bot 已屏蔽)" : "");
        group.append(el("option", { value: person.id, text: label }));
      }
      this.personSelect.append(group);
    }
    this.personSelect.append(el("option", { value: "__new__", text: "+ New user · 新用户…" }));
    if (this.personId !== null) this.personSelect.value = String(this.personId);
  }

  fillChats() {
    const person = personById(this.personId);
    this.chatSelect.replaceChildren();
    if (!person) return;
    this.chatSelect.append(el("option", { value: person.id, text: `🤖 ${state.bot.name} (private 私聊)` }));
    for (const group of person.groups || []) {
      this.chatSelect.append(el("option", { value: group.id, text: `👥 ${group.title}` }));
    }
    this.chatSelect.value = String(this.chatId);
    const chosen = this.chatSelect.selectedOptions[0];
    this.q(".chat-name").textContent = chosen ? chosen.textContent : "";
  }

  async setPerson(personId) {
    this.personId = personId;
    const person = personById(personId);
    this.fillPeople();
    const groupIds = (person?.groups || []).map((g) => g.id);
    const chatId = groupIds.includes(this.chatId) ? this.chatId : personId;
    this.renderPerson();
    await this.setChat(chatId);
  }

  renderPerson() {
    const person = personById(this.personId);
    if (!person) return;
    this.q(".person-name").textContent = fullName(person) + (person.username ? `  @${person.username}` : "");
    const details = [`id ${person.id}`, person.role_hint, person.description, person.language_code].filter(Boolean);
    this.q(".person-desc").textContent = details.join(" · ");
    this.q(".avatar").textContent = [...(fullName(person) || "?")][0];
  }

  async setChat(chatId) {
    this.chatId = chatId;
    this.fillChats();
    saveLayout();
    const feed = feedFor(chatId);
    // a chat nobody else was watching got no events meanwhile: take a fresh snapshot
    if (!state.columns.some((c) => c !== this && c.chatId === chatId)) feed.loading = null;
    restartPolling();
    this.list.replaceChildren(el("div", { class: "empty", text: "Loading… 加载中…" }));
    try {
      await loadFeed(feed);
    } catch (error) {
      this.list.replaceChildren(el("div", { class: "empty", text: `Error: ${error.message}` }));
      return;
    }
    if (this.chatId !== chatId) return;
    this.renderAll();
  }

  get feed() {
    return state.feeds.get(this.chatId);
  }

  renderAll() {
    const messages = [...this.feed.messages.values()].sort((a, b) => a.message_id - b.message_id);
    this.list.replaceChildren();
    if (!messages.length) {
      this.list.append(el("div", { class: "empty", text: "No messages yet. Send /start · 还没有消息，发送 /start 开始" }));
    }
    for (const message of messages) this.list.append(this.renderMessage(message));
    this.renderKeyboard();
    this.scrollToEnd(true);
  }

  nearBottom() {
    return this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 120;
  }

  scrollToEnd(force = false) {
    if (force || this.nearBottom()) {
      this.list.scrollTop = this.list.scrollHeight;
      this.following = true;
      this.autoScrolledAt = Date.now();
    }
  }

  upsertMessage(message) {
    const follow = this.nearBottom();
    this.list.querySelector(".empty")?.remove();
    const node = this.renderMessage(message);
    const existing = this.list.querySelector(`[data-message-id="${message.message_id}"]`);
    if (existing) {
      existing.replaceWith(node);
      return;
    }
    const later = [...this.list.children].find((child) => Number(child.dataset.messageId) > message.message_id);
    this.list.insertBefore(node, later || null);
    if (follow || this.following || message.from?.id === this.personId) this.scrollToEnd(true);
  }

  removeMessage(messageId) {
    this.list.querySelector(`[data-message-id="${messageId}"]`)?.remove();
  }

  renderMessage(message) {
    const fromBot = Boolean(message.from?.is_bot);
    const mine = !fromBot && message.from?.id === this.personId;
    const side = fromBot ? "bot" : mine ? "me" : "other";
    const bubble = el("div", { class: "bubble" });
    if (side === "other" || (fromBot && this.feed?.chat?.type !== "private")) {
      bubble.append(el("div", { class: "sender", text: fromBot ? state.bot.name : fullName(message.from) }));
    }
    if (message.forward_origin) {
      const origin = message.forward_origin.sender_user || message.forward_origin.sender_chat || {};
      bubble.append(el("div", { class: "forwarded", text: `Forwarded from 转发自 ${origin.title || fullName(origin)}` }));
    }
    if (message.reply_to_message) {
      const quoted = message.reply_to_message;
      bubble.append(el("div", { class: "quote", text: quoted.text || quoted.caption || "…" }));
    }
    bubble.append(...this.renderContent(message));
    const meta = el("div", { class: "meta" });
    if (message.edit_date) meta.append(el("span", { class: "edited", text: "edited 已编辑 " }));
    meta.append(el("time", { text: timeOf(message.date) }));
    bubble.append(meta);
    const row = el("div", {
      class: `message ${side}`,
      dataset: { messageId: message.message_id, from: side },
      "data-testid": "message",
    }, bubble);
    const inline = message.reply_markup?.inline_keyboard;
    if (inline && inline.length) row.append(this.renderInlineKeyboard(message, inline));
    return row;
  }

  renderContent(message) {
    const parts = [];
    if (message.photo) {
      const largest = message.photo[message.photo.length - 1];
      const src = `${API}/files/${encodeURIComponent(largest.file_id)}`;
      parts.push(el("a", { href: src, target: "_blank", class: "photo" }, el("img", { src, alt: "photo 照片", loading: "lazy" })));
    }
    if (message.voice || message.audio) {
      const media = message.voice || message.audio;
      parts.push(el("div", { class: "voice" },
        el("span", { text: `🎤 ${media.duration || "?"}s` }),
        el("audio", { controls: true, preload: "none", src: `${API}/files/${encodeURIComponent(media.file_id)}` })));
    }
    if (message.document || message.video || message.animation) {
      const doc = message.document || message.video || message.animation;
      parts.push(el("a", { class: "document", href: `${API}/files/${encodeURIComponent(doc.file_id)}`, target: "_blank",
        text: `📄 ${doc.file_name || "file 文件"}` }));
    }
    if (message.sticker) parts.push(el("div", { class: "sticker", text: message.sticker.emoji || "🙂" }));
    if (message.contact) {
      const c = message.contact;
      parts.push(el("div", { class: "contact", text: `📞 ${fullName(c)}  ${c.phone_number}` }));
    }
    if (message.location) {
      const { latitude, longitude } = message.location;
      parts.push(el("a", {
        class: "location-link", target: "_blank", rel: "noopener noreferrer",
        href: `https://www.openstreetmap.org/?mlat=${latitude}&mlon=${longitude}#map=16/${latitude}/${longitude}`,
        text: `📍 ${latitude.toFixed(4)}, ${longitude.toFixed(4)}`,
      }));
    }
    const text = message.text ?? message.caption;
    if (text) parts.push(el("div", { class: "text" }, renderText(text, message.entities || message.caption_entities)));
    if (!parts.length) parts.push(el("div", { class: "text unsupported", text: "(unsupported message 不支持的消息)" }));
    return parts;
  }

  renderInlineKeyboard(message, rows) {
    const keyboard = el("div", { class: "inline-keyboard" });
    for (const row of rows) {
      const line = el("div", { class: "inline-row" });
      for (const button of row) {
        const node = el("button", { type: "button", class: "inline-button", "data-testid": "inline-button", text: button.text });
        if (button.url) node.append(el("span", { class: "corner", text: "↗" }));
        node.addEventListener("click", () => this.pressInline(message, button, node));
        line.append(node);
      }
      keyboard.append(line);
    }
    return keyboard;
  }

  async pressInline(message, button, node) {
    if (button.callback_data !== undefined) {
      node.classList.add("pressed");
      node.disabled = true;
      try {
        await api(`/chats/${this.chatId}/press`, {
          json: { user_id: this.personId, message_id: message.message_id, callback_data: button.callback_data },
        });
      } catch (error) {
        this.toast(`⚠ ${error.message}`);
      } finally {
        setTimeout(() => { node.disabled = false; node.classList.remove("pressed"); }, 600);
      }
    } else if (button.url && safeUrl(button.url)) {
      window.open(button.url, "_blank", "noopener");
    } else if (button.copy_text) {
      navigator.clipboard?.writeText(button.copy_text.text);
      this.toast("Copied 已复制");
    } else {
      this.toast("This button type is not simulated in the sandbox · 沙盒不支持此按钮");
    }
  }

  renderKeyboard() {
    const holder = this.q(".reply-keyboard");
    const keyboard = this.feed?.keyboard;
    const toggle = this.q(".keyboard-toggle");
    holder.replaceChildren();
    toggle.hidden = !keyboard;
    toggle.setAttribute("aria-pressed", String(Boolean(keyboard) && !this.keyboardHidden));
    holder.hidden = !keyboard || this.keyboardHidden;
    // the keyboard appeared, changed or went: the newest message stays in sight above it
    requestAnimationFrame(() => this.scrollToEnd(true));
    if (!keyboard) return;
    for (const row of keyboard.keyboard || []) {
      const line = el("div", { class: "reply-row" });
      for (const raw of row) {
        const button = typeof raw === "string" ? { text: raw } : raw;
        const node = el("button", { type: "button", class: "reply-button", "data-testid": "reply-button", text: button.text });
        if (button.request_contact) node.classList.add("contact-button");
        node.addEventListener("click", () => this.pressReply(button));
        line.append(node);
      }
      holder.append(line);
    }
    if (keyboard.input_field_placeholder) this.input.placeholder = keyboard.input_field_placeholder;
  }

  async pressReply(button) {
    try {
      if (button.request_contact) {
        await api(`/chats/${this.chatId}/contact`, { json: { user_id: this.personId } });
      } else if (button.request_location) {
        await this.sendLocation();
      } else {
        await api(`/chats/${this.chatId}/send`, { json: { user_id: this.personId, text: button.text, from_keyboard: true } });
      }
    } catch (error) {
      this.toast(`⚠ ${error.message}`);
    }
  }

  async sendText(value) {
    const text = value.trim();
    if (!text || this.personId === null) return;
    this.input.value = "";
    this.autosize();
    try {
      await api(`/chats/${this.chatId}/send`, { json: { user_id: this.personId, text } });
    } catch (error) {
      this.input.value = value;
      this.toast(`⚠ ${error.message}`);
    }
    this.input.focus();
  }

  async sendLocation() {
    try {
      await api(`/chats/${this.chatId}/location`, { json: { user_id: this.personId, ...DEMO_LOCATION } });
    } catch (error) {
      this.toast(`⚠ ${error.message}`);
    }
  }

  async upload(kind, input) {
    const file = input.files && input.files[0];
    input.value = "";
    if (!file) return;
    const duration = kind === "voice" ? await audioDuration(file) : null;
    await this.postFile(kind, file, file.name, duration);
  }

  async postFile(kind, blob, filename, duration) {
    const form = new FormData();
    form.append("user_id", String(this.personId));
    if (duration) form.append("duration", String(duration));
    const caption = this.input.value.trim();
    if (kind === "photo" && caption) {
      form.append("caption", caption);
      this.input.value = "";
    }
    form.append("file", blob, filename);
    try {
      const response = await fetch(`${API}/chats/${this.chatId}/${kind}`, { method: "POST", body: form });
      if (!response.ok) throw new Error((await response.json().catch(() => ({}))).error || response.statusText);
    } catch (error) {
      this.toast(`⚠ ${error.message}`);
    }
  }

  async toggleRecording() {
    const button = this.q(".record");
    if (this.recorder) {
      this.recorder.stop();
      return;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (error) {
      this.toast("Microphone not available 无法使用麦克风");
      return;
    }
    const type = ["audio/ogg;codecs=opus", "audio/webm;codecs=opus", "audio/webm"].find((t) => MediaRecorder.isTypeSupported(t));
    const recorder = new MediaRecorder(stream, type ? { mimeType: type } : {});
    const chunks = [];
    const started = Date.now();
    recorder.ondataavailable = (event) => chunks.push(event.data);
    recorder.onstop = async () => {
      stream.getTracks().forEach((track) => track.stop());
      this.recorder = null;
      button.classList.remove("recording");
      button.textContent = "🎤";
      const blob = new Blob(chunks, { type: recorder.mimeType || "audio/ogg" });
      const seconds = Math.max(1, Math.round((Date.now() - started) / 1000));
      await this.postFile("voice", blob, blob.type.includes("webm") ? "voice.webm" : "voice.ogg", seconds);
    };
    recorder.start();
    this.recorder = recorder;
    button.classList.add("recording");
    button.textContent = "⏹";
  }

  toast(text, alert = false) {
    const node = this.q(".toast");
    node.textContent = text;
    node.classList.toggle("alert", Boolean(alert));
    node.hidden = false;
    clearTimeout(this.toastTimer);
    if (alert) {
      node.onclick = () => { node.hidden = true; };
    } else {
      this.toastTimer = setTimeout(() => { node.hidden = true; }, 3500);
    }
  }

  showTyping() {
    const node = this.q(".typing");
    node.hidden = false;
    clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(() => { node.hidden = true; }, 3000);
  }
}

function audioDuration(file) {
  return new Promise((resolve) => {
    const audio = document.createElement("audio");
    const url = URL.createObjectURL(file);
    const done = (value) => { URL.revokeObjectURL(url); resolve(value); };
    audio.preload = "metadata";
    audio.onloadedmetadata = () => done(Number.isFinite(audio.duration) ? Math.max(1, Math.round(audio.duration)) : null);
    audio.onerror = () => done(null);
    setTimeout(() => done(null), 2000);
    audio.src = url;
  });
}

// -- layout ---------------------------------------------------------------------------------

async function refreshPeople() {
  const info = await api("/info");
  state.bot = info.bot;
  state.people = info.people;
  state.groups = info.groups;
  if (info.timezone) state.timezone = info.timezone;
  if (restarted(info.boot)) return info;
  state.boot = info.boot || state.boot;
  document.getElementById("bot-name").textContent = `${info.bot.name}  @${info.bot.username}`;
  if (!state.last) state.last = info.last || 0;
  return info;
}

async function openColumn(personId, chatId = null) {
  const column = new Column(personId, chatId ?? personId);
  state.columns.push(column);
  document.getElementById("columns").append(column.root);
  column.fillPeople();
  if (personId === null) {
    column.list.replaceChildren(el("div", { class: "empty", text: "Pick a person above, or create a new user · 请在上方选择一个人，或新建用户" }));
    return column;
  }
  column.renderPerson();
  await column.setChat(chatId ?? personId);
  return column;
}

function closeColumn(column) {
  if (state.columns.length <= 1) return;
  state.columns = state.columns.filter((c) => c !== column);
  column.root.remove();
  saveLayout();
  restartPolling();
}

function saveLayout() {
  const layout = state.columns.filter((c) => c.personId !== null).map((c) => ({ person: c.personId, chat: c.chatId }));
  const stored = loadStored();
  localStorage.setItem(STORE_KEY, JSON.stringify({ ...stored, layout }));
}

function loadStored() {
  try {
    return JSON.parse(localStorage.getItem(STORE_KEY) || "{}");
  } catch {
    return {};
  }
}

function setFont(level) {
  document.documentElement.dataset.font = String(level);
  state.columns.forEach((c) => c.autosize());
  // bigger text pushes the newest message out of sight: bring it back once laid out
  requestAnimationFrame(() => state.columns.forEach((c) => c.scrollToEnd(true)));
  document.querySelectorAll("[data-font]").forEach((button) => {
    button.classList.toggle("active", button.dataset.font === String(level));
  });
  localStorage.setItem(STORE_KEY, JSON.stringify({ ...loadStored(), font: level }));
}

function askNewPerson() {
  const dialog = document.getElementById("new-person");
  const form = dialog.querySelector("form");
  form.reset();
  const preview = () => {
    const data = new FormData(form);
    dialog.querySelector(".preview-name").textContent =
      fullName({ first_name: data.get("first_name"), last_name: data.get("last_name") }) || "—";
  };
  form.oninput = preview;
  preview();
  return new Promise((resolve) => {
    const cancel = dialog.querySelector(".cancel");
    const onCancel = () => dialog.close("cancel");
    cancel.addEventListener("click", onCancel, { once: true });
    dialog.addEventListener("close", async function handler() {
      dialog.removeEventListener("close", handler);
      cancel.removeEventListener("click", onCancel);
      if (dialog.returnValue !== "create") return resolve(null);
      const data = Object.fromEntries(new FormData(form).entries());
      try {
        const person = await api("/people", { json: data });
        await refreshPeople();
        state.columns.forEach((c) => c.fillPeople());
        resolve(person);
      } catch (error) {
        alert(error.message);
        resolve(null);
      }
    });
    dialog.showModal();
  });
}

async function main() {
  const stored = loadStored();
  setFont(stored.font || 1);
  document.querySelectorAll("[data-font]").forEach((button) => {
    button.addEventListener("click", () => setFont(Number(button.dataset.font)));
  });
  document.getElementById("add-column").addEventListener("click", async () => {
    await refreshPeople();
    const used = new Set(state.columns.map((c) => c.personId));
    const next = state.people.find((p) => !used.has(p.id));
    const column = await openColumn(next ? next.id : null);
    column.root.scrollIntoView({ behavior: "smooth", inline: "end", block: "nearest" });
    saveLayout();
  });
  await refreshPeople();

  const params = new URLSearchParams(location.search);
  let layout = [];
  if (params.get("people")) {
    layout = params.get("people").split(",").map((id) => ({ person: Number(id), chat: Number(id) }));
  } else if (Array.isArray(stored.layout)) {
    layout = stored.layout;
  }
  layout = layout.filter((item) => personById(item.person));
  if (!layout.length && state.people.length) layout = [{ person: state.people[0].id, chat: state.people[0].id }];
  if (!layout.length) {
    await openColumn(null);
    return;
  }
  for (const item of layout) {
    const person = personById(item.person);
    const allowed = [person.id, ...(person.groups || []).map((g) => g.id)];
    await openColumn(person.id, allowed.includes(item.chat) ? item.chat : person.id);
  }
}

main().catch((error) => {
  document.getElementById("columns").append(el("div", { class: "fatal", text: `Sandbox page failed: ${error.message}` }));
});
