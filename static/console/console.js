/* Switchboard agent console: the conversation list, one conversation and its customer,
 * kept live over /ws/console/. Plain JavaScript, no build step.
 *
 * Rules this file keeps:
 * - Text is text: every piece of data reaches the page through textContent or an
 *   attribute, never innerHTML.
 * - Pushes are hints. Messages are kept by seq; after every socket "ready" and on any gap
 *   the console fetches `messages/?after=<last seq held>` from the REST API.
 * - A send has a client_id made here; the POST answer, the pushed event and a catch-up
 *   fetch are matched by it, so a message shows once, and a retry reuses it.
 */
(function () {
  "use strict";

  var configElement = document.getElementById("console-config");
  var root = document.querySelector(".sb-console");
  if (!configElement || !root) return;
  var config = JSON.parse(configElement.textContent);
  var S = config.strings || {};
  var ME = config.user || {};
  var LABELS = config.labels || { status: {}, identity: {}, lead: {} };
  var LANG = document.documentElement.lang || navigator.language || "en";
  var TZ = validTimeZone(config.timezone);
  var API = config.urls.conversations; // "/api/v1/conversations/"

  var PAGE_SIZE = 50;
  var TYPING_REPEAT_MS = 3000;
  var TYPING_IDLE_MS = 5000;
  var REMOTE_TYPING_TIMEOUT_MS = 8000;
  var PING_MS = 30000;
  var PONG_TIMEOUT_MS = 10000;
  var VERIFY_AFTER_MS = 1500;
  var READ_DELAY_MS = 250;
  var RECONNECT_MIN_MS = 500;
  var RECONNECT_MAX_MS = 15000;
  var GROUP_WINDOW_MS = 5 * 60 * 1000;
  var STORE_MUTED = "switchboard.console.muted";
  var STORE_VIEW = "switchboard.console.view";
  var VIEWS = ["mine", "unassigned", "all"];

  // --- Small helpers -------------------------------------------------------------------

  function t(key, params) {
    var text = Object.prototype.hasOwnProperty.call(S, key) ? S[key] : key;
    if (params) {
      text = text.replace(/%\((\w+)\)s/g, function (match, name) {
        return Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : match;
      });
    }
    return text;
  }

  /** Creates an element. Children that are strings become text nodes. */
  function h(tag, attrs) {
    var element = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (key) {
        var value = attrs[key];
        if (value === null || value === undefined || value === false) return;
        if (key === "class") element.className = value;
        else if (key === "text") element.textContent = value;
        else if (key.indexOf("on") === 0) element.addEventListener(key.slice(2), value);
        else element.setAttribute(key, value === true ? "" : String(value));
      });
    }
    for (var i = 2; i < arguments.length; i++) appendChild(element, arguments[i]);
    return element;
  }

  function appendChild(element, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) {
      child.forEach(function (c) { appendChild(element, c); });
    } else if (child instanceof Node) {
      element.appendChild(child);
    } else {
      element.appendChild(document.createTextNode(String(child)));
    }
  }

  function $(id) {
    return document.getElementById(id);
  }

  function validTimeZone(name) {
    if (!name) return undefined;
    try {
      new Intl.DateTimeFormat("en", { timeZone: name });
      return name;
    } catch (error) {
      return undefined;
    }
  }

  function formatter(options) {
    try {
      return new Intl.DateTimeFormat(LANG, Object.assign({ timeZone: TZ }, options));
    } catch (error) {
      return new Intl.DateTimeFormat(undefined, options);
    }
  }

  var fmtClock = formatter({ hour: "2-digit", minute: "2-digit" });
  var fmtFull = formatter({ dateStyle: "medium", timeStyle: "short" });
  var fmtWeekday = formatter({ weekday: "short" });
  var fmtShortDate = formatter({ month: "short", day: "numeric" });
  var fmtLongDate = formatter({ weekday: "long", month: "long", day: "numeric" });
  var fmtLongDateYear = formatter({ year: "numeric", month: "long", day: "numeric" });
  var fmtDayKey = formatter({ year: "numeric", month: "2-digit", day: "2-digit" });
  var relative = null;
  try {
    relative = new Intl.RelativeTimeFormat(LANG, { numeric: "auto", style: "short" });
  } catch (error) {
    relative = null;
  }

  function parseDate(value) {
    if (!value) return null;
    var date = new Date(value);
    return isNaN(date.getTime()) ? null : date;
  }

  function dayKey(date) {
    return fmtDayKey.format(date);
  }

  function relativeTime(value) {
    var date = parseDate(value);
    if (!date) return "";
    var seconds = (Date.now() - date.getTime()) / 1000;
    if (seconds < 45) return t("now");
    var minutes = Math.round(seconds / 60);
    if (minutes < 60) return relative ? relative.format(-minutes, "minute") : minutes + "m";
    var now = new Date();
    if (dayKey(date) === dayKey(now)) return fmtClock.format(date);
    if (dayKey(date) === dayKey(new Date(now.getTime() - 864e5))) return t("yesterday");
    if (seconds < 6 * 864e5) return fmtWeekday.format(date);
    return fmtShortDate.format(date);
  }

  function dayLabel(date) {
    var now = new Date();
    if (dayKey(date) === dayKey(now)) return relative ? capitalise(relative.format(0, "day")) : "";
    if (dayKey(date) === dayKey(new Date(now.getTime() - 864e5))) return t("yesterday");
    if (date.getFullYear() === now.getFullYear()) return fmtLongDate.format(date);
    return fmtLongDateYear.format(date);
  }

  function capitalise(text) {
    return text ? text.charAt(0).toLocaleUpperCase(LANG) + text.slice(1) : text;
  }

  function fullTime(value) {
    var date = parseDate(value);
    return date ? fmtFull.format(date) : "";
  }

  function timeElement(value, className, text) {
    var date = parseDate(value);
    if (!date) return null;
    return h("time", {
      class: className,
      datetime: date.toISOString(),
      title: fmtFull.format(date),
      text: text !== undefined ? text : fmtClock.format(date),
    });
  }

  function newClientId() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map
      .call(bytes, function (b) { return (b + 0x100).toString(16).slice(1); })
      .join("");
  }

  /** An http(s) URL as a string, or null: nothing else becomes a link. */
  function safeHttpUrl(value, allowRelative) {
    if (!value || typeof value !== "string") return null;
    try {
      var url = allowRelative ? new URL(value, location.href) : new URL(value);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (error) {
      return null;
    }
  }

  function initials(name) {
    var words = String(name || "?")
      .trim()
      .split(/\s+/)
      .filter(function (word) { return /^\p{L}/u.test(word); });
    if (!words.length) {
      var any = String(name || "").match(/[\p{L}\p{N}]/u);
      return any ? any[0].toLocaleUpperCase(LANG) : "?";
    }
    var first = Array.from(words[0])[0] || "?";
    var second = words.length > 1 ? Array.from(words[words.length - 1])[0] || "" : "";
    return (first + second).toLocaleUpperCase(LANG);
  }

  function hue(seed) {
    var text = String(seed);
    var hash = 2166136261;
    for (var i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 16777619);
    return ((hash >>> 0) % 24) * 15; // 24 distinct hues
  }

  function avatar(name, seed, className) {
    var element = h("span", { class: "sb-avatar " + (className || ""), "aria-hidden": "true" });
    element.textContent = initials(name);
    element.style.setProperty("--avatar-hue", String(hue(seed)));
    return element;
  }

  function formatSize(bytes) {
    if (!(bytes >= 0)) return "";
    if (bytes < 1024) return bytes + " B";
    if (bytes < 1024 * 1024) return (bytes / 1024).toFixed(bytes < 10240 ? 1 : 0) + " KB";
    return (bytes / 1024 / 1024).toFixed(1) + " MB";
  }

  // --- REST ----------------------------------------------------------------------------

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (match) return decodeURIComponent(match[1]);
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function ApiError(status, body, retryAfter) {
    this.status = status;
    this.body = body;
    this.retryAfter = retryAfter;
    this.network = status === 0;
    var error = body && body.error;
    this.code = error ? error.code : null;
    this.message = error ? error.message : "HTTP " + status;
    this.details = error ? error.details : null;
  }

  function apiErrorText(error) {
    if (!error) return "";
    var details = error.details;
    if (details && typeof details === "object") {
      for (var key in details) {
        var value = details[key];
        if (Array.isArray(value) && value.length) return String(value[0]);
        if (typeof value === "string") return value;
      }
    }
    return error.message || "";
  }

  function api(path, options) {
    options = options || {};
    var method = options.method || "GET";
    var headers = { Accept: "application/json" };
    var body;
    if (options.json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(options.json);
    } else if (options.form) {
      body = options.form;
    }
    if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
    return fetch(path, {
      method: method,
      headers: headers,
      body: body,
      credentials: "same-origin",
      keepalive: !!options.keepalive,
    }).then(
      function (response) {
        if (response.status === 204) return null;
        return response
          .json()
          .catch(function () { return null; })
          .then(function (data) {
            if (!response.ok || data === null) {
              if (
                response.status === 401 ||
                (response.status === 403 && data && data.error && data.error.code === "not_authenticated")
              ) {
                signedOut();
              }
              throw new ApiError(response.status, data, response.headers.get("Retry-After"));
            }
            return data;
          });
      },
      function () {
        throw new ApiError(0, null, null);
      }
    );
  }

  function conversationUrl(id, suffix) {
    return API + encodeURIComponent(id) + "/" + (suffix || "");
  }

  var signingOut = false;
  function signedOut() {
    if (signingOut) return;
    signingOut = true;
    showBanner(t("signed_out"), "error");
    var next = location.pathname + location.search;
    setTimeout(function () {
      location.assign(config.urls.login + "?next=" + encodeURIComponent(next));
    }, 600);
  }

  // --- State ---------------------------------------------------------------------------

  var state = {
    view: VIEWS.indexOf(readStore(STORE_VIEW)) >= 0 ? readStore(STORE_VIEW) : "all",
    list: new Map(), // id -> conversation (rows of the current tab)
    rows: new Map(), // id -> <li>
    listNext: null,
    listToken: 0,
    listLoading: false,
    listMoreLoading: false,
    known: new Set(), // conversation ids seen anywhere (for "new conversation" alerts)
    cur: null, // the open conversation
    pending: new Map(), // conversation id -> Map(client_id -> pending send)
    drafts: new Map(),
    remoteTyping: new Map(), // conversation id -> {sender, name, timer}
    alerted: new Set(),
    muted: readStore(STORE_MUTED) === "1",
    alerts: 0,
    clock: 0, // counts live updates, so a list fetched before one does not undo it
    touched: new Map(), // conversation id -> clock of its last live update
    latest: new Map(), // conversation id -> the newest state seen of it
  };

  function readStore(key) {
    try {
      return window.localStorage.getItem(key);
    } catch (error) {
      return null;
    }
  }

  function writeStore(key, value) {
    try {
      window.localStorage.setItem(key, value);
    } catch (error) {
      /* private mode: not remembered */
    }
  }

  function pendingFor(conversationId) {
    var map = state.pending.get(conversationId);
    if (!map) {
      map = new Map();
      state.pending.set(conversationId, map);
    }
    return map;
  }

  function listShape(conversation) {
    // The detail endpoint nests more customer fields and a source: keep the list's shape.
    var copy = Object.assign({}, conversation);
    delete copy.source;
    if (copy.customer) copy.customer = { id: copy.customer.id, name: copy.customer.name };
    return copy;
  }

  /** Merges a newer view of a conversation; counters only move forward. */
  function mergeConversation(old, incoming) {
    incoming = listShape(incoming);
    if (!old) return incoming;
    var merged = Object.assign({}, old, incoming);
    if ((incoming.last_seq || 0) < (old.last_seq || 0)) {
      merged.last_seq = old.last_seq;
      merged.last_message_at = old.last_message_at;
      merged.last_message_preview = old.last_message_preview;
      merged.unread_count = old.unread_count;
    }
    merged.agent_read_seq = Math.max(old.agent_read_seq || 0, incoming.agent_read_seq || 0);
    merged.customer_read_seq = Math.max(old.customer_read_seq || 0, incoming.customer_read_seq || 0);
    return merged;
  }

  function matchesView(conversation, view) {
    if (view === "mine") return !!conversation.assignee && conversation.assignee.id === ME.id;
    if (view === "unassigned") return !conversation.assignee;
    return true;
  }

  function sortKey(conversation) {
    return [conversation.last_message_at || conversation.created_at || "", conversation.created_at || "", conversation.id];
  }

  function compareConversations(a, b) {
    // Most recent activity first.
    var ka = sortKey(a);
    var kb = sortKey(b);
    var da = parseDate(ka[0]);
    var db = parseDate(kb[0]);
    var ta = da ? da.getTime() : 0;
    var tb = db ? db.getTime() : 0;
    if (ta !== tb) return tb - ta;
    if (ka[1] !== kb[1]) return ka[1] < kb[1] ? 1 : -1;
    return ka[2] < kb[2] ? 1 : ka[2] > kb[2] ? -1 : 0;
  }

  function isOpenAndVisible(conversationId) {
    return !!state.cur && state.cur.id === conversationId && document.visibilityState === "visible";
  }

  // --- Elements ------------------------------------------------------------------------

  var el = {
    banner: $("connection-banner"),
    list: $("conversation-list"),
    listScroll: $("conversation-list-scroll"),
    listEmpty: $("conversation-list-empty"),
    tabs: Array.prototype.slice.call(document.querySelectorAll(".sb-tab[data-view]")),
    notify: $("notify-toggle"),
    sound: $("sound-toggle"),
    conversation: $("conversation"),
    placeholder: $("conversation-placeholder"),
    main: $("conversation-main"),
    name: $("conversation-name"),
    status: $("conversation-status"),
    assignee: $("conversation-assignee"),
    inbox: $("conversation-inbox"),
    back: $("conversation-back"),
    panelToggle: $("customer-panel-toggle"),
    scroll: $("message-scroll"),
    messages: $("message-list"),
    loadOlder: $("load-older"),
    olderNote: $("older-note"),
    jump: $("jump-latest"),
    typing: $("typing-indicator"),
    form: $("composer-form"),
    composer: $("composer"),
    composerError: $("composer-error"),
    send: $("send"),
    attach: $("attach"),
    panel: $("customer-panel"),
    panelBody: $("customer-panel-body"),
  };
  var baseTitle = document.title;

  // --- Connection banner ---------------------------------------------------------------

  var bannerTimer = null;
  function showBanner(text, kind, delay) {
    clearTimeout(bannerTimer);
    var show = function () {
      el.banner.textContent = text;
      el.banner.dataset.kind = kind || "warning";
      el.banner.hidden = false;
    };
    if (delay) bannerTimer = setTimeout(show, delay);
    else show();
  }

  function hideBanner() {
    clearTimeout(bannerTimer);
    el.banner.hidden = true;
    el.banner.textContent = "";
  }

  // --- Conversation list ---------------------------------------------------------------

  function setView(view) {
    if (VIEWS.indexOf(view) < 0) return;
    state.view = view;
    writeStore(STORE_VIEW, view);
    el.tabs.forEach(function (tab) {
      var selected = tab.dataset.view === view;
      tab.setAttribute("aria-selected", selected ? "true" : "false");
      tab.tabIndex = selected ? 0 : -1;
      tab.classList.toggle("is-active", selected);
    });
    state.list = new Map();
    state.rows.forEach(function (row) { row.remove(); });
    state.rows = new Map();
    state.listNext = null;
    el.listEmpty.textContent = t("loading");
    el.listEmpty.hidden = false;
    loadList();
  }

  function listQuery(cursor) {
    var query = "?view=" + encodeURIComponent(state.view) + "&page_size=" + PAGE_SIZE;
    if (cursor) query += "&cursor=" + encodeURIComponent(cursor);
    return API + query;
  }

  function cursorOf(nextUrl) {
    if (!nextUrl) return null;
    try {
      return new URL(nextUrl, location.href).searchParams.get("cursor");
    } catch (error) {
      return null;
    }
  }

  /** Loads (or reloads) the first page of the current tab. Resolves false on failure. */
  function loadList() {
    var token = ++state.listToken;
    var view = state.view;
    var startedAt = state.clock;
    state.listLoading = true;
    el.list.setAttribute("aria-busy", "true");
    return api(listQuery())
      .then(function (page) {
        if (token !== state.listToken) return true;
        state.listLoading = false;
        replaceList(page.results || [], cursorOf(page.next), startedAt);
        return true;
      })
      .catch(function (error) {
        if (token !== state.listToken) return true;
        state.listLoading = false;
        if (!state.rows.size) {
          el.listEmpty.textContent = t("list_error");
          el.listEmpty.hidden = false;
        }
        return !error.network ? true : false;
      })
      .finally(function () {
        if (token === state.listToken && view === state.view) {
          state.listLoading = false;
          el.list.setAttribute("aria-busy", "false");
        }
      });
  }

  function replaceList(conversations, next, startedAt) {
    var fresh = new Map();
    conversations.forEach(function (conversation) {
      state.known.add(conversation.id);
      fresh.set(conversation.id, mergeConversation(null, conversation));
    });
    // What was pushed while the page was on its way is newer than the page.
    state.touched.forEach(function (clock, id) {
      if (clock <= startedAt || !state.latest.has(id)) return;
      var merged = mergeConversation(fresh.get(id) || null, state.latest.get(id));
      if (matchesView(merged, state.view)) fresh.set(id, merged);
      else fresh.delete(id);
    });
    state.rows.forEach(function (row, id) {
      if (!fresh.has(id)) {
        row.remove();
        state.rows.delete(id);
      }
    });
    state.list = fresh;
    state.listNext = next;
    fresh.forEach(function (conversation) { renderRow(conversation); });
    reorderRows();
    updateListEmpty();
    updateTitle();
    fillList();
    if (state.cur) {
      var listed = state.list.get(state.cur.id);
      if (listed) {
        state.cur.conv = mergeConversation(state.cur.conv, listed);
        renderHeader();
        refreshStatuses();
      }
    }
  }

  function loadMoreList() {
    if (!state.listNext || state.listMoreLoading || state.listLoading) return;
    state.listMoreLoading = true;
    var token = state.listToken;
    api(listQuery(state.listNext))
      .then(function (page) {
        if (token !== state.listToken) return;
        (page.results || []).forEach(function (conversation) {
          state.known.add(conversation.id);
          if (!state.list.has(conversation.id)) {
            state.list.set(conversation.id, mergeConversation(null, conversation));
            renderRow(state.list.get(conversation.id));
          }
        });
        state.listNext = cursorOf(page.next);
        reorderRows();
        updateListEmpty();
        state.listMoreLoading = false;
        fillList();
      })
      .catch(function () { /* scrolling again retries */ })
      .finally(function () {
        state.listMoreLoading = false;
      });
  }

  /** Loads the next page while the rows do not fill the column (nothing to scroll). */
  function fillList() {
    var s = el.listScroll;
    if (state.listNext && s.scrollHeight <= s.clientHeight + 40) loadMoreList();
  }

  /** Applies a conversation pushed or fetched: updates, adds or removes its row. */
  function upsertConversation(incoming) {
    state.known.add(incoming.id);
    state.touched.set(incoming.id, ++state.clock);
    var held = state.list.get(incoming.id);
    var cur = state.cur && state.cur.id === incoming.id ? state.cur : null;
    var merged = mergeConversation(held || state.latest.get(incoming.id) || (cur ? cur.conv : null), incoming);
    state.latest.set(merged.id, merged);
    if (cur) {
      cur.conv = mergeConversation(cur.conv, merged);
      renderHeader();
      refreshStatuses();
    }
    if (matchesView(merged, state.view)) {
      if (!held && state.listNext && state.list.size) {
        // Older than everything loaded: it belongs on a page not loaded yet.
        var last = null;
        state.list.forEach(function (c) {
          if (!last || compareConversations(c, last) > 0) last = c;
        });
        if (last && compareConversations(merged, last) > 0) return merged;
      }
      state.list.set(merged.id, merged);
      renderRow(merged);
      reorderRows();
    } else if (held) {
      state.list.delete(merged.id);
      var row = state.rows.get(merged.id);
      if (row) row.remove();
      state.rows.delete(merged.id);
    }
    updateListEmpty();
    updateTitle();
    return merged;
  }

  function renderRow(conversation) {
    var row = state.rows.get(conversation.id);
    if (!row) {
      var link = h("a", {
        class: "conv-link",
        href: "?c=" + encodeURIComponent(conversation.id),
        onclick: function (event) {
          if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
          event.preventDefault();
          openConversation(conversation.id);
        },
      });
      row = h("li", { class: "conv-row", "data-id": conversation.id }, link);
      row.dataset.id = conversation.id;
      var avatarSlot = h("span", { class: "conv-avatar" });
      var top = h(
        "span",
        { class: "conv-line conv-line-top" },
        h("span", { class: "conv-name" }),
        h("time", { class: "conv-time" })
      );
      var middle = h(
        "span",
        { class: "conv-line" },
        h("span", { class: "conv-preview" }),
        h("span", { class: "conv-unread", hidden: true })
      );
      var bottom = h(
        "span",
        { class: "conv-line conv-line-meta" },
        h("span", { class: "conv-inbox" }),
        h("span", { class: "conv-assignee" })
      );
      link.appendChild(avatarSlot);
      link.appendChild(h("span", { class: "conv-text" }, top, middle, bottom));
      state.rows.set(conversation.id, row);
    }
    var name = (conversation.customer && conversation.customer.name) || "";
    var link2 = row.firstChild;
    var avatarSlot2 = link2.querySelector(".conv-avatar");
    avatarSlot2.replaceChildren(avatar(name, conversation.customer ? conversation.customer.id : conversation.id));
    row.querySelector(".conv-name").textContent = name;
    var time = row.querySelector(".conv-time");
    var when = conversation.last_message_at || conversation.created_at;
    time.dataset.value = when || "";
    time.textContent = relativeTime(when);
    var date = parseDate(when);
    if (date) {
      time.setAttribute("datetime", date.toISOString());
      time.title = fmtFull.format(date);
    }
    var preview = row.querySelector(".conv-preview");
    var typing = state.remoteTyping.get(conversation.id);
    if (typing && typing.sender === "customer") {
      preview.textContent = t("someone_typing");
      preview.classList.add("is-typing");
    } else {
      preview.textContent = conversation.last_message_preview || "";
      preview.classList.remove("is-typing");
    }
    var unread = isOpenAndVisible(conversation.id) ? 0 : conversation.unread_count || 0;
    var badge = row.querySelector(".conv-unread");
    badge.textContent = unread > 99 ? "99+" : String(unread);
    badge.hidden = unread === 0;
    badge.setAttribute("aria-label", t("unread_count", { count: unread }));
    row.classList.toggle("is-unread", unread > 0);
    row.querySelector(".conv-inbox").textContent = conversation.inbox ? conversation.inbox.name : "";
    var assignee = row.querySelector(".conv-assignee");
    if (conversation.assignee) {
      assignee.textContent = conversation.assignee.id === ME.id ? t("you") : conversation.assignee.name;
      assignee.hidden = false;
    } else {
      assignee.textContent = "";
      assignee.hidden = true;
    }
    var selected = !!state.cur && state.cur.id === conversation.id;
    row.classList.toggle("is-selected", selected);
    if (selected) row.firstChild.setAttribute("aria-current", "true");
    else row.firstChild.removeAttribute("aria-current");
    return row;
  }

  function reorderRows() {
    var ordered = Array.from(state.list.values()).sort(compareConversations);
    var previous = null;
    ordered.forEach(function (conversation) {
      var row = state.rows.get(conversation.id) || renderRow(conversation);
      var expected = previous ? previous.nextSibling : el.list.firstChild;
      if (row !== expected) el.list.insertBefore(row, expected);
      previous = row;
    });
  }

  function updateListEmpty() {
    if (state.list.size) {
      el.listEmpty.hidden = true;
    } else if (!state.listLoading) {
      el.listEmpty.textContent = t("empty_" + state.view);
      el.listEmpty.hidden = false;
    }
  }

  function refreshRow(conversationId) {
    var conversation = state.list.get(conversationId);
    if (conversation) renderRow(conversation);
  }

  function refreshRowTimes() {
    state.rows.forEach(function (row) {
      var time = row.querySelector(".conv-time");
      if (time && time.dataset.value) time.textContent = relativeTime(time.dataset.value);
    });
  }

  function updateTitle() {
    var unread = 0;
    state.list.forEach(function (conversation) {
      if ((conversation.unread_count || 0) > 0 && !isOpenAndVisible(conversation.id)) unread++;
    });
    document.title = unread ? "(" + unread + ") " + baseTitle : baseTitle;
  }

  // --- The open conversation -----------------------------------------------------------

  function newCurrent(id) {
    return {
      id: id,
      conv: state.list.get(id) || state.latest.get(id) || null,
      detail: null,
      messages: new Map(), // seq -> message
      elements: new Map(), // seq -> <li>
      lastSeq: 0,
      hasOlder: false,
      loaded: false,
      early: [], // pushed before the first page arrived
      loadingOlder: false,
      catching: false,
      catchAgain: false,
      readSent: 0,
      stick: true,
    };
  }

  function openConversation(id, options) {
    options = options || {};
    if (state.cur && state.cur.id === id && !options.force) {
      root.dataset.state = "open";
      return;
    }
    leaveConversation();
    setPanelOpen(false);
    var cur = newCurrent(id);
    state.cur = cur;
    setUrlConversation(id);
    root.dataset.state = "open";
    el.placeholder.hidden = true;
    el.main.hidden = false;
    el.messages.replaceChildren();
    el.loadOlder.hidden = true;
    el.olderNote.hidden = true;
    el.jump.hidden = true;
    el.panelBody.replaceChildren(h("p", { class: "sb-muted sb-pad", text: t("loading") }));
    el.composer.value = state.drafts.get(id) || "";
    autosize();
    hideComposerError();
    renderHeader();
    renderTyping();
    state.rows.forEach(function (row, rowId) {
      var conversation = state.list.get(rowId);
      if (conversation) renderRow(conversation);
    });
    updateTitle();
    if (!options.keepFocus && window.matchMedia("(min-width: 761px)").matches) el.composer.focus();
    loadConversation(cur);
  }

  function loadConversation(cur) {
    cur.loading = true;
    el.messages.setAttribute("aria-busy", "true");
    var loading = h("li", { class: "sb-loading", text: t("loading") });
    el.messages.replaceChildren(loading);
    return Promise.all([api(conversationUrl(cur.id)), api(conversationUrl(cur.id, "messages/"))])
      .then(function (answers) {
        cur.loading = false;
        if (state.cur !== cur) return;
        var detail = answers[0];
        var page = answers[1];
        cur.detail = detail;
        cur.conv = mergeConversation(cur.conv, detail);
        if (state.list.has(cur.id)) upsertConversation(detail);
        loading.remove();
        var results = page.results || [];
        insertMessages(results.concat(cur.early), { initial: true });
        cur.early = [];
        cur.hasOlder = !!page.has_more;
        results.forEach(function (m) { cur.lastSeq = Math.max(cur.lastSeq, m.seq); });
        cur.loaded = true;
        el.messages.setAttribute("aria-busy", "false");
        renderPendingAll();
        decorate();
        updateOlderControls();
        renderHeader();
        renderPanel();
        scrollToBottom();
        fillViewport();
        if (maxHeldSeq(cur) > cur.lastSeq) catchUp();
        markRead();
      })
      .catch(function (error) {
        cur.loading = false;
        if (state.cur !== cur) return;
        loading.remove();
        el.messages.setAttribute("aria-busy", "false");
        if (error.status === 404) {
          setUrlConversation(null);
        }
        var retry =
          error.status === 404
            ? null
            : h("button", {
                type: "button",
                class: "sb-link-btn",
                text: t("retry"),
                onclick: function () {
                  if (state.cur === cur) loadConversation(cur);
                },
              });
        el.messages.replaceChildren(h("li", { class: "sb-error" }, t("conversation_error"), " ", retry));
        el.panelBody.replaceChildren();
      });
  }

  function leaveConversation() {
    var cur = state.cur;
    if (!cur) return;
    stopTyping();
    if (el.composer.value) state.drafts.set(cur.id, el.composer.value);
    else state.drafts.delete(cur.id);
    state.cur = null;
  }

  function setPanelOpen(open) {
    root.classList.toggle("panel-open", open);
    el.panelToggle.setAttribute("aria-expanded", open ? "true" : "false");
  }

  function closeConversation() {
    setPanelOpen(false);
    leaveConversation();
    setUrlConversation(null);
    root.dataset.state = "empty";
    el.main.hidden = true;
    el.placeholder.hidden = false;
    el.panelBody.replaceChildren();
    state.list.forEach(function (conversation) { renderRow(conversation); });
  }

  function setUrlConversation(id) {
    var url = new URL(location.href);
    if (id) url.searchParams.set("c", id);
    else url.searchParams.delete("c");
    history.replaceState(history.state, "", url.pathname + url.search + url.hash);
  }

  function renderHeader() {
    var cur = state.cur;
    if (!cur) return;
    var conversation = cur.conv;
    if (!conversation) {
      el.name.textContent = "";
      el.status.textContent = "";
      el.status.hidden = true;
      el.assignee.textContent = "";
      el.inbox.textContent = "";
      return;
    }
    el.name.textContent = (conversation.customer && conversation.customer.name) || "";
    el.status.hidden = false;
    el.status.textContent = LABELS.status[conversation.status] || conversation.status || "";
    el.status.dataset.status = conversation.status || "";
    if (conversation.handler === "ai") {
      el.assignee.textContent = t("ai_handling");
    } else if (conversation.assignee) {
      el.assignee.textContent =
        conversation.assignee.id === ME.id
          ? t("assigned_to_you")
          : t("assigned_to", { name: conversation.assignee.name });
    } else {
      el.assignee.textContent = t("unassigned_label");
    }
    el.inbox.textContent = conversation.inbox ? conversation.inbox.name : "";
  }

  function customerName() {
    var cur = state.cur;
    var conversation = cur && cur.conv;
    return (conversation && conversation.customer && conversation.customer.name) || t("customer");
  }

  function maxHeldSeq(cur) {
    var max = 0;
    cur.messages.forEach(function (m, seq) { if (seq > max) max = seq; });
    return max;
  }

  function minHeldSeq(cur) {
    var min = Infinity;
    cur.messages.forEach(function (m, seq) { if (seq < min) min = seq; });
    return min === Infinity ? null : min;
  }

  function nearBottom() {
    var s = el.scroll;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 80;
  }

  function scrollToBottom() {
    el.scroll.scrollTop = el.scroll.scrollHeight;
    if (state.cur) state.cur.stick = true;
    el.jump.hidden = true;
  }

  /**
   * Adds messages to the open conversation (any order, duplicates ignored) and resolves
   * the pending sends they answer. Returns the messages that were new.
   */
  function insertMessages(messages, options) {
    options = options || {};
    var cur = state.cur;
    if (!cur) return [];
    var wasAtBottom = nearBottom();
    var previousHeight = el.scroll.scrollHeight;
    var previousTop = el.scroll.scrollTop;
    var added = [];
    var mine = false;
    messages.forEach(function (m) {
      if (m.client_id) resolvePendingElement(cur.id, m.client_id);
      if (cur.messages.has(m.seq)) return;
      cur.messages.set(m.seq, m);
      var element = renderMessage(m);
      cur.elements.set(m.seq, element);
      placeMessage(element, m.seq);
      added.push(m);
      if (m.direction === "out" && m.author && m.author.id === ME.id) mine = true;
    });
    if (!added.length && !options.initial) return added;
    decorate();
    if (options.older) {
      el.scroll.scrollTop = previousTop + (el.scroll.scrollHeight - previousHeight);
    } else if (!options.initial && cur.loaded) {
      if (wasAtBottom || mine) scrollToBottom();
      else el.jump.hidden = false;
    }
    return added;
  }

  function placeMessage(element, seq) {
    var children = el.messages.children;
    var before = null;
    for (var i = 0; i < children.length; i++) {
      var child = children[i];
      if (child.classList.contains("msg-pending")) {
        before = child;
        break;
      }
      if (child.dataset.seq && Number(child.dataset.seq) > seq) {
        before = child;
        // a day separator right before it belongs to it
        if (before.previousSibling && before.previousSibling.classList.contains("sb-day")) {
          before = before.previousSibling;
        }
        break;
      }
    }
    el.messages.insertBefore(element, before);
  }

  function authorName(m) {
    if (m.direction === "in") return customerName();
    if (m.author) return m.author.name;
    if (m.sender_type === "ai") return t("ai_agent");
    return t("system");
  }

  function senderKey(m) {
    if (m.direction === "in") return "in";
    return "out:" + (m.author ? m.author.id : m.sender_type);
  }

  function renderMessage(m) {
    var out = m.direction === "out";
    var li = h("li", {
      class: "msg " + (out ? "msg-out" : "msg-in") + " msg-from-" + (m.sender_type || "unknown"),
      "data-seq": m.seq,
    });
    li.dataset.sender = senderKey(m);
    li.dataset.time = m.created_at || "";
    li.appendChild(
      h(
        "div",
        { class: "msg-meta" },
        h("span", { class: "msg-author", text: authorName(m) }),
        timeElement(m.created_at, "msg-time")
      )
    );
    var bubble = h("div", { class: "msg-bubble" });
    if (m.body) bubble.appendChild(bodyElement(m.body));
    if (m.attachments && m.attachments.length) bubble.appendChild(attachmentsElement(m.attachments));
    li.appendChild(bubble);
    if (out) {
      var status = h("span", { class: "msg-status" });
      li.appendChild(h("div", { class: "msg-foot" }, status));
      setDeliveryStatus(li, m.seq);
    }
    return li;
  }

  function bodyElement(body) {
    var element = h("div", { class: "msg-body" });
    var pattern = /\bhttps?:\/\/[^\s<>"'`]+/gi;
    var index = 0;
    var match;
    while ((match = pattern.exec(body))) {
      var url = match[0].replace(/[.,;:!?)\]}'"»。，、）]+$/, "");
      if (!url) continue;
      var href = safeHttpUrl(url);
      if (!href) continue;
      if (match.index > index) element.appendChild(document.createTextNode(body.slice(index, match.index)));
      element.appendChild(h("a", { href: href, target: "_blank", rel: "noopener noreferrer nofollow", text: url }));
      index = match.index + url.length;
      pattern.lastIndex = index;
    }
    if (index < body.length) element.appendChild(document.createTextNode(body.slice(index)));
    return element;
  }

  function attachmentsElement(attachments) {
    var box = h("div", { class: "msg-attachments" });
    attachments.forEach(function (attachment) {
      var href = safeHttpUrl(attachment.url, true);
      if (attachment.is_image && href) {
        var image = h("img", { src: href, alt: attachment.name || t("attachment"), loading: "lazy", decoding: "async" });
        image.addEventListener("load", function () {
          if (state.cur && state.cur.stick) scrollToBottom();
        });
        box.appendChild(
          h("a", { class: "msg-thumb", href: href, target: "_blank", rel: "noopener", title: attachment.name }, image)
        );
      } else {
        box.appendChild(
          h(
            href ? "a" : "span",
            { class: "msg-file", href: href, download: href ? attachment.name || true : null, rel: "noopener" },
            h("span", { class: "msg-file-icon", "aria-hidden": "true", text: fileBadge(attachment) }),
            h(
              "span",
              { class: "msg-file-text" },
              h("span", { class: "msg-file-name", text: attachment.name || t("attachment") }),
              h("span", { class: "msg-file-size", text: formatSize(attachment.size) })
            )
          )
        );
      }
    });
    return box;
  }

  function fileBadge(attachment) {
    var name = attachment.name || "";
    var dot = name.lastIndexOf(".");
    var extension = dot > 0 ? name.slice(dot + 1) : "";
    return (extension || "file").slice(0, 4).toUpperCase();
  }

  function setDeliveryStatus(li, seq) {
    var status = li.querySelector(".msg-status");
    if (!status || !state.cur) return;
    var conversation = state.cur.conv || {};
    var read = (conversation.customer_read_seq || 0) >= seq;
    status.textContent = read ? t("read") : t("sent");
    status.dataset.state = read ? "read" : "sent";
    li.classList.toggle("is-read", read);
  }

  function refreshStatuses() {
    var cur = state.cur;
    if (!cur) return;
    cur.elements.forEach(function (li, seq) {
      if (li.classList.contains("msg-out")) setDeliveryStatus(li, seq);
    });
  }

  /** Day separators and grouping of consecutive messages from the same sender. */
  function decorate() {
    var items = Array.prototype.slice.call(el.messages.children);
    var previous = null;
    var previousDay = null;
    items.forEach(function (item) {
      if (item.classList.contains("sb-day")) {
        item.remove();
        return;
      }
      if (!item.classList.contains("msg")) return;
      var date = parseDate(item.dataset.time) || new Date();
      var key = dayKey(date);
      if (key !== previousDay) {
        el.messages.insertBefore(
          h("li", { class: "sb-day", role: "separator" }, h("span", { text: dayLabel(date) })),
          item
        );
        previousDay = key;
        previous = null;
      }
      var continued =
        previous &&
        previous.dataset.sender === item.dataset.sender &&
        date - (parseDate(previous.dataset.time) || date) < GROUP_WINDOW_MS;
      item.classList.toggle("msg-cont", !!continued);
      if (previous) previous.classList.toggle("msg-last", !continued);
      previous = item;
    });
    if (previous) previous.classList.add("msg-last");
  }

  function updateOlderControls() {
    var cur = state.cur;
    if (!cur || !cur.loaded) return;
    el.loadOlder.hidden = !cur.hasOlder || cur.loadingOlder;
    var note = cur.loadingOlder ? t("loading") : !cur.hasOlder && cur.messages.size ? t("start_of_conversation") : "";
    el.olderNote.textContent = note;
    el.olderNote.hidden = !note;
  }

  function loadOlder() {
    var cur = state.cur;
    if (!cur || !cur.loaded || !cur.hasOlder || cur.loadingOlder) return;
    var before = minHeldSeq(cur);
    if (before === null) return;
    cur.loadingOlder = true;
    updateOlderControls();
    api(conversationUrl(cur.id, "messages/") + "?before=" + before)
      .then(function (page) {
        if (state.cur !== cur) return;
        cur.loadingOlder = false;
        cur.hasOlder = !!page.has_more;
        updateOlderControls();
        insertMessages(page.results || [], { older: true });
        fillViewport();
      })
      .catch(function () {
        if (state.cur !== cur) return;
        cur.loadingOlder = false;
        updateOlderControls();
      });
  }

  /** Loads older pages while the messages do not fill the view (nothing to scroll). */
  function fillViewport() {
    var cur = state.cur;
    if (cur && cur.hasOlder && el.scroll.scrollHeight <= el.scroll.clientHeight + 40) loadOlder();
  }

  /** A message pushed or answered: insert it, and fetch what lies between if there is a gap. */
  function acceptLiveMessage(m) {
    var cur = state.cur;
    if (!cur) return;
    if (!cur.loaded) {
      // Kept; the first load places it (and catches up if there is a gap).
      if (m.client_id) resolvePendingElement(cur.id, m.client_id);
      cur.early.push(m);
      return;
    }
    var held = cur.messages.has(m.seq);
    insertMessages([m]);
    if (held) return;
    if (m.seq > cur.lastSeq + 1) {
      catchUp();
    } else {
      cur.lastSeq = Math.max(cur.lastSeq, m.seq);
      while (cur.messages.has(cur.lastSeq + 1)) cur.lastSeq++;
    }
    markRead();
  }

  /** Fetches every message after the last seq held, page by page. */
  function catchUp() {
    var cur = state.cur;
    if (!cur || !cur.loaded) return Promise.resolve(true);
    if (cur.catching) {
      cur.catchAgain = true;
      return cur.catching;
    }
    var round = function () {
      cur.catchAgain = false;
      return api(conversationUrl(cur.id, "messages/") + "?after=" + cur.lastSeq + "&limit=200").then(function (page) {
        if (state.cur !== cur) return true;
        var results = page.results || [];
        // Messages that were held before (e.g. pushed ahead of a gap) still need placing.
        insertMessages(results);
        results.forEach(function (m) { cur.lastSeq = Math.max(cur.lastSeq, m.seq); });
        if (page.has_more || cur.catchAgain) return round();
        // Nothing else exists below what we hold: what was pushed ahead of the gap counts.
        cur.lastSeq = Math.max(cur.lastSeq, maxHeldSeq(cur));
        return true;
      });
    };
    cur.catching = round()
      .then(function (ok) {
        markRead();
        return ok;
      })
      .catch(function (error) {
        return !error.network;
      })
      .finally(function () {
        cur.catching = false;
      });
    return cur.catching;
  }

  function refreshDetail() {
    var cur = state.cur;
    if (!cur || !cur.loaded) return Promise.resolve(true);
    return api(conversationUrl(cur.id))
      .then(function (detail) {
        if (state.cur !== cur) return true;
        cur.detail = detail;
        upsertConversation(detail);
        renderPanel();
        return true;
      })
      .catch(function (error) {
        return !error.network;
      });
  }

  var readTimer = null;
  /** Marks the open conversation read, a moment after the last of a burst of messages. */
  function markRead() {
    if (readTimer) return;
    readTimer = setTimeout(function () {
      readTimer = null;
      markReadNow();
    }, READ_DELAY_MS);
  }

  function markReadNow() {
    var cur = state.cur;
    if (!cur || !cur.loaded || document.visibilityState !== "visible") return;
    var seq = Math.max(cur.lastSeq, 0);
    var conversation = cur.conv || {};
    if (!seq || seq <= (conversation.agent_read_seq || 0) || seq <= cur.readSent) {
      refreshRow(cur.id);
      updateTitle();
      return;
    }
    cur.readSent = seq;
    refreshRow(cur.id);
    updateTitle();
    api(conversationUrl(cur.id, "read/"), { method: "POST", json: { seq: seq } })
      .then(function (conversation) {
        if (conversation) upsertConversation(conversation);
      })
      .catch(function () {
        if (state.cur === cur && cur.readSent === seq) cur.readSent = 0;
      });
  }

  // --- Sending -------------------------------------------------------------------------

  function showComposerError(text) {
    el.composerError.textContent = text;
    el.composerError.hidden = false;
  }

  function hideComposerError() {
    el.composerError.hidden = true;
    el.composerError.textContent = "";
  }

  function sendText() {
    var cur = state.cur;
    if (!cur) return;
    var body = el.composer.value;
    if (!body.trim()) return;
    if (body.length > config.max_body) {
      showComposerError(t("too_long", { max: config.max_body }));
      return;
    }
    hideComposerError();
    el.composer.value = "";
    autosize();
    state.drafts.delete(cur.id);
    stopTyping();
    queueSend({ conversationId: cur.id, clientId: newClientId(), body: body, file: null });
    el.composer.focus();
  }

  function sendFiles(files) {
    var cur = state.cur;
    if (!cur) return;
    Array.prototype.forEach.call(files, function (file) {
      if (config.max_file_bytes && file.size > config.max_file_bytes) {
        showComposerError(t("file_too_large", { max: Math.round(config.max_file_bytes / 1048576) }));
        return;
      }
      hideComposerError();
      queueSend({ conversationId: cur.id, clientId: newClientId(), body: "", file: file });
    });
  }

  function queueSend(pending) {
    pending.status = "sending";
    pending.error = null;
    pending.createdAt = new Date().toISOString();
    pendingFor(pending.conversationId).set(pending.clientId, pending);
    if (state.cur && state.cur.id === pending.conversationId && state.cur.loaded) {
      el.messages.appendChild(renderPending(pending));
      decorate();
      scrollToBottom();
    }
    submit(pending);
  }

  function submit(pending) {
    pending.status = "sending";
    pending.error = null;
    clearTimeout(pending.retryTimer);
    updatePendingElement(pending);
    var request;
    if (pending.file) {
      var form = new FormData();
      form.append("file", pending.file, pending.file.name || "file");
      form.append("client_id", pending.clientId);
      if (pending.body) form.append("body", pending.body);
      request = api(conversationUrl(pending.conversationId, "attachments/"), { method: "POST", form: form });
    } else {
      request = api(conversationUrl(pending.conversationId, "messages/"), {
        method: "POST",
        json: { client_id: pending.clientId, body: pending.body },
      });
    }
    request.then(
      function (message) {
        pendingDone(pending, message);
      },
      function (error) {
        if (!pendingFor(pending.conversationId).has(pending.clientId)) return; // answered meanwhile
        if (error.status === 429) {
          var wait = parseFloat(error.retryAfter);
          pending.retryTimer = setTimeout(function () { submit(pending); }, (wait > 0 ? wait : 5) * 1000);
          return;
        }
        pending.status = "failed";
        pending.error = error.status >= 400 && error.status < 500 ? apiErrorText(error) : null;
        updatePendingElement(pending);
      }
    );
  }

  function pendingDone(pending, message) {
    var cur = state.cur;
    if (cur && cur.id === pending.conversationId) {
      acceptLiveMessage(message);
    }
    resolvePendingElement(pending.conversationId, pending.clientId);
    // The push updates the row too; this keeps it right while the socket is down.
    var listed = state.list.get(pending.conversationId);
    if (listed && message.seq > (listed.last_seq || 0)) {
      upsertConversation(
        Object.assign({}, listed, {
          last_seq: message.seq,
          last_message_at: message.created_at,
          last_message_preview: message.body || (message.attachments[0] ? "📎 " + message.attachments[0].name : ""),
          unread_count: 0,
          agent_read_seq: message.seq,
        })
      );
    }
  }

  /** Drops a pending send (answered by the server): its element goes, the message stays. */
  function resolvePendingElement(conversationId, clientId) {
    var map = state.pending.get(conversationId);
    var pending = map && map.get(clientId);
    if (!pending) return;
    clearTimeout(pending.retryTimer);
    map.delete(clientId);
    if (pending.element) pending.element.remove();
    pending.element = null;
  }

  function renderPending(pending) {
    var li = h("li", { class: "msg msg-out msg-pending", "data-client-id": pending.clientId });
    li.dataset.sender = "out:" + ME.id;
    li.dataset.time = pending.createdAt;
    li.appendChild(
      h("div", { class: "msg-meta" }, h("span", { class: "msg-author", text: ME.name }))
    );
    var bubble = h("div", { class: "msg-bubble" });
    if (pending.body) bubble.appendChild(bodyElement(pending.body));
    if (pending.file) {
      bubble.appendChild(
        h(
          "div",
          { class: "msg-attachments" },
          h(
            "span",
            { class: "msg-file" },
            h("span", { class: "msg-file-icon", "aria-hidden": "true", text: fileBadge(pending.file) }),
            h(
              "span",
              { class: "msg-file-text" },
              h("span", { class: "msg-file-name", text: pending.file.name || t("attachment") }),
              h("span", { class: "msg-file-size", text: formatSize(pending.file.size) })
            )
          )
        )
      );
    }
    li.appendChild(bubble);
    li.appendChild(h("div", { class: "msg-foot" }, h("span", { class: "msg-status" })));
    pending.element = li;
    updatePendingElement(pending);
    return li;
  }

  function updatePendingElement(pending) {
    var li = pending.element;
    if (!li) return;
    var foot = li.querySelector(".msg-foot");
    var status = h("span", { class: "msg-status" });
    status.dataset.state = pending.status;
    li.classList.toggle("is-failed", pending.status === "failed");
    if (pending.status === "failed") {
      status.textContent = pending.error ? t("failed_reason", { reason: pending.error }) : t("failed");
      foot.replaceChildren(
        status,
        h("button", {
          type: "button",
          class: "msg-retry sb-link-btn",
          text: t("retry"),
          onclick: function () { submit(pending); },
        }),
        h("button", {
          type: "button",
          class: "msg-discard sb-link-btn",
          text: t("discard"),
          onclick: function () { resolvePendingElement(pending.conversationId, pending.clientId); decorate(); },
        })
      );
    } else {
      status.textContent = t("sending");
      foot.replaceChildren(status);
    }
  }

  function renderPendingAll() {
    var cur = state.cur;
    if (!cur) return;
    var map = state.pending.get(cur.id);
    if (!map) return;
    map.forEach(function (pending) {
      el.messages.appendChild(renderPending(pending));
    });
  }

  // --- Typing --------------------------------------------------------------------------

  var typing = { conversationId: null, sentAt: 0, idleTimer: null };

  function postTyping(conversationId, value, keepalive) {
    api(conversationUrl(conversationId, "typing/"), {
      method: "POST",
      json: { typing: value },
      keepalive: keepalive,
    }).catch(function () { /* ephemeral */ });
  }

  function onComposerInput() {
    var cur = state.cur;
    autosize();
    if (!el.composerError.hidden && el.composer.value.length <= config.max_body) hideComposerError();
    if (!cur) return;
    if (!el.composer.value.trim()) {
      stopTyping();
      return;
    }
    var now = Date.now();
    if (typing.conversationId !== cur.id || now - typing.sentAt >= TYPING_REPEAT_MS) {
      if (typing.conversationId && typing.conversationId !== cur.id) stopTyping();
      typing.conversationId = cur.id;
      typing.sentAt = now;
      postTyping(cur.id, true);
    }
    clearTimeout(typing.idleTimer);
    typing.idleTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
  }

  function stopTyping(keepalive) {
    clearTimeout(typing.idleTimer);
    if (typing.conversationId) {
      postTyping(typing.conversationId, false, keepalive === true);
      typing.conversationId = null;
      typing.sentAt = 0;
    }
  }

  function onRemoteTyping(event) {
    var id = event.conversation;
    if (event.sender === "agent" && event.agent_id === ME.id) return;
    var previous = state.remoteTyping.get(id);
    if (previous) clearTimeout(previous.timer);
    if (event.typing) {
      state.remoteTyping.set(id, {
        sender: event.sender,
        name: event.name || "",
        timer: setTimeout(function () { clearRemoteTyping(id); }, REMOTE_TYPING_TIMEOUT_MS),
      });
    } else {
      state.remoteTyping.delete(id);
    }
    refreshRow(id);
    if (state.cur && state.cur.id === id) renderTyping();
  }

  function clearRemoteTyping(id, sender) {
    var current = state.remoteTyping.get(id);
    if (!current || (sender && current.sender !== sender)) return;
    clearTimeout(current.timer);
    state.remoteTyping.delete(id);
    refreshRow(id);
    if (state.cur && state.cur.id === id) renderTyping();
  }

  function renderTyping() {
    var cur = state.cur;
    var current = cur && state.remoteTyping.get(cur.id);
    if (!current) {
      el.typing.hidden = true;
      el.typing.querySelector(".sb-typing-text").textContent = "";
      return;
    }
    var text =
      current.sender === "customer"
        ? t("typing", { name: customerName() })
        : current.name
          ? t("colleague_typing", { name: current.name })
          : t("someone_typing");
    el.typing.querySelector(".sb-typing-text").textContent = text;
    el.typing.dataset.sender = current.sender;
    el.typing.hidden = false;
  }

  // --- Customer panel ------------------------------------------------------------------

  function section(title, children, note) {
    var items = children.filter(Boolean);
    if (!items.length) return null;
    return h(
      "section",
      { class: "sb-panel-section" },
      h("h3", { text: title }),
      note ? h("p", { class: "sb-note", text: note }) : null,
      items
    );
  }

  function row(label, value, options) {
    options = options || {};
    if (value === null || value === undefined || value === "") return null;
    var content = value instanceof Node ? value : h("span", { text: String(value) });
    if (options.title) content.title = options.title;
    return h("div", { class: "sb-row" }, h("dt", { text: label }), h("dd", null, content));
  }

  function list(rows) {
    rows = rows.filter(Boolean);
    return rows.length ? h("dl", { class: "sb-dl" }, rows) : null;
  }

  function linkOrText(value) {
    if (!value) return null;
    var href = safeHttpUrl(value);
    if (!href) return h("span", { class: "sb-break", text: value });
    return h("a", { href: href, target: "_blank", rel: "noopener noreferrer nofollow", class: "sb-break", text: value, title: value });
  }

  function summariseUserAgent(ua) {
    if (!ua) return null;
    var browser = null;
    var rules = [
      [/MicroMessenger/i, "WeChat"],
      [/EdgA?\/|EdgiOS/i, "Edge"],
      [/OPR\/|Opera/i, "Opera"],
      [/SamsungBrowser/i, "Samsung Internet"],
      [/Firefox\/|FxiOS/i, "Firefox"],
      [/CriOS|Chrome\/|Chromium\//i, "Chrome"],
      [/Version\/[\d.]+.*Safari/i, "Safari"],
    ];
    for (var i = 0; i < rules.length; i++) {
      if (rules[i][0].test(ua)) {
        browser = rules[i][1];
        break;
      }
    }
    var os = null;
    var systems = [
      [/iPhone|iPad|iPod/i, "iOS"],
      [/Android/i, "Android"],
      [/Windows/i, "Windows"],
      [/CrOS/i, "ChromeOS"],
      [/Mac OS X|Macintosh/i, "macOS"],
      [/Linux/i, "Linux"],
    ];
    for (var j = 0; j < systems.length; j++) {
      if (systems[j][0].test(ua)) {
        os = systems[j][1];
        break;
      }
    }
    if (browser && os) return t("on", { browser: browser, os: os });
    return browser || os || t("unknown_device");
  }

  function localTimeIn(zone) {
    if (!validTimeZone(zone)) return null;
    try {
      return new Intl.DateTimeFormat(LANG, { timeZone: zone, hour: "2-digit", minute: "2-digit" }).format(new Date());
    } catch (error) {
      return null;
    }
  }

  function reportedList(data) {
    if (!data || typeof data !== "object") return null;
    return list([
      row(t("user_id"), data.id),
      row(t("name"), data.name),
      row(t("email"), data.email),
      row(t("phone"), data.phone),
    ]);
  }

  function renderPanel() {
    var cur = state.cur;
    if (!cur || !cur.detail) return;
    var detail = cur.detail;
    var customer = detail.customer || {};
    var source = detail.source || {};
    var identities = Array.isArray(customer.identities) ? customer.identities : [];
    var context = null;
    identities.forEach(function (identity) {
      if (identity.details && identity.details.context) context = identity.details.context;
    });
    var zone = customer.timezone || source.timezone || (context && context.timezone) || "";
    var local = localTimeIn(zone);

    var head = h(
      "header",
      { class: "sb-panel-head" },
      avatar(customer.name, customer.id, "sb-avatar-lg"),
      h(
        "div",
        { class: "sb-panel-name" },
        h("h2", { text: customer.name || t("customer") }),
        h(
          "p",
          { class: "sb-muted" },
          [customer.country, local ? t("local_time", { time: local }) : null].filter(Boolean).join(" · ")
        )
      )
    );

    var contacts = identities.map(function (identity) {
      var label = LABELS.identity[identity.kind] || identity.kind;
      var value = h("span", { class: "sb-break", text: identity.value });
      var badge = identity.verified ? h("span", { class: "sb-badge sb-badge-ok", text: t("verified") }) : null;
      return row(label, h("span", null, value, badge ? " " : null, badge));
    });

    var reported = [];
    identities.forEach(function (identity) {
      var details = identity.details || {};
      if (details.user && Object.keys(details.user).length) {
        reported.push(section(t("website_user"), [reportedList(details.user)], t("not_verified")));
      }
      if (details.prechat && Object.keys(details.prechat).length) {
        reported.push(section(t("prechat"), [reportedList(details.prechat)], t("not_verified")));
      }
    });

    var ua = source.user_agent || (context && context.user_agent) || "";
    var channel = source.channel === "web" ? t("channel_web") : source.channel;
    var utm = ["utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term"].map(function (key) {
      return row(key, source[key]);
    });
    var visit = section(t("visit"), [
      list(
        [
          row(t("channel"), channel),
          row(t("page"), linkOrText(source.page_url)),
          row(t("page_title"), source.page_title),
          row(t("referrer"), linkOrText(source.referrer)),
        ]
          .concat(utm)
          .concat([
            ua ? row(t("device"), summariseUserAgent(ua), { title: ua }) : null,
            row(t("language"), source.language || customer.language),
            row(t("time_zone"), zone),
          ])
      ),
    ]);

    var latest = null;
    if (context && context.page_url && context.page_url !== source.page_url) {
      latest = section(t("latest_page"), [
        list([row(t("page"), linkOrText(context.page_url)), row(t("page_title"), context.page_title)]),
      ]);
    }

    var about = section(t("customer"), [
      list([
        row(t("lead_status"), customer.lead_status && customer.lead_status !== "none" ? LABELS.lead[customer.lead_status] || customer.lead_status : null),
        row(t("country"), customer.country),
        row(t("first_seen"), fullTime(customer.first_seen_at)),
        row(t("last_seen"), fullTime(customer.last_seen_at)),
      ]),
    ]);

    var sections = [head, section(t("contacts"), [list(contacts)])]
      .concat(reported)
      .concat([visit, latest, about])
      .filter(Boolean);
    if (sections.length === 1) sections.push(h("p", { class: "sb-muted sb-pad", text: t("nothing_known") }));
    el.panelBody.replaceChildren.apply(el.panelBody, sections);
  }

  // --- Sound and desktop notifications -------------------------------------------------

  var audio = null;
  var lastBeep = 0;

  function unlockAudio() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    if (!audio) {
      try {
        audio = new Context();
      } catch (error) {
        audio = null;
        return;
      }
    }
    if (audio.state === "suspended") audio.resume().catch(function () {});
  }

  function beep() {
    if (state.muted || !audio || Date.now() - lastBeep < 1500) return;
    lastBeep = Date.now();
    try {
      var now = audio.currentTime;
      var oscillator = audio.createOscillator();
      var gain = audio.createGain();
      oscillator.type = "sine";
      oscillator.frequency.setValueAtTime(880, now);
      oscillator.frequency.setValueAtTime(1318.5, now + 0.09);
      gain.gain.setValueAtTime(0.0001, now);
      gain.gain.exponentialRampToValueAtTime(0.12, now + 0.015);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + 0.28);
      oscillator.connect(gain).connect(audio.destination);
      oscillator.start(now);
      oscillator.stop(now + 0.3);
    } catch (error) {
      /* no sound then */
    }
  }

  function alertFor(conversation, message) {
    // Only what concerns me: my conversations and those nobody has taken yet.
    if (conversation.assignee && conversation.assignee.id !== ME.id) return;
    if (isOpenAndVisible(conversation.id)) return;
    var key = conversation.id + ":" + (message ? message.seq : "new");
    if (state.alerted.has(key)) return;
    state.alerted.add(key);
    state.alerts++;
    root.dataset.alerts = String(state.alerts);
    beep();
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    var name = (conversation.customer && conversation.customer.name) || t("customer");
    var title = !message || message.seq === 1 ? t("new_conversation") : t("new_message_from", { name: name });
    var body = message ? (message.body || (message.attachments && message.attachments[0] ? "📎 " + message.attachments[0].name : "")) : "";
    if (!message || message.seq === 1) body = name + (body ? ": " + body : "");
    try {
      var notification = new Notification(title, { body: body.slice(0, 200), tag: conversation.id, lang: LANG });
      notification.onclick = function () {
        window.focus();
        openConversation(conversation.id);
        notification.close();
      };
    } catch (error) {
      /* some browsers only allow notifications from a service worker */
    }
  }

  function renderNotifyControl() {
    if (!("Notification" in window)) {
      el.notify.hidden = true;
      return;
    }
    el.notify.hidden = false;
    var permission = Notification.permission;
    var label = permission === "granted" ? t("notify_on") : permission === "denied" ? t("notify_blocked") : t("notify_enable");
    el.notify.setAttribute("aria-label", label);
    el.notify.title = label;
    el.notify.dataset.permission = permission;
  }

  function renderSoundControl() {
    var label = state.muted ? t("sound_off") : t("sound_on");
    el.sound.setAttribute("aria-pressed", state.muted ? "false" : "true");
    el.sound.setAttribute("aria-label", label);
    el.sound.title = label;
    el.sound.classList.toggle("is-muted", state.muted);
  }

  // --- Realtime ------------------------------------------------------------------------

  var socket = {
    ws: null,
    attempt: 0,
    reconnectTimer: null,
    pingTimer: null,
    pongTimer: null,
    verifyTimer: null,
    ready: false,
    stopped: false,
    resyncTimer: null,
    resyncAttempt: 0,
  };

  function socketUrl() {
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + config.urls.socket;
  }

  function connect() {
    clearTimeout(socket.reconnectTimer);
    if (socket.stopped) return;
    var ws;
    try {
      ws = new WebSocket(socketUrl());
    } catch (error) {
      scheduleReconnect();
      return;
    }
    socket.ws = ws;
    ws.onmessage = function (event) {
      if (socket.ws !== ws) return;
      var data;
      try {
        data = JSON.parse(event.data);
      } catch (error) {
        return;
      }
      if (data && typeof data === "object") handleEvent(data);
    };
    ws.onclose = function (event) {
      if (socket.ws !== ws) return;
      socket.ws = null;
      socketDown();
      if (event.code === 4401) {
        checkSignedIn();
        return;
      }
      scheduleReconnect();
    };
    ws.onerror = function () {
      /* a close follows */
    };
  }

  function socketDown() {
    socket.ready = false;
    clearInterval(socket.pingTimer);
    clearTimeout(socket.pongTimer);
    clearTimeout(socket.verifyTimer);
    clearTimeout(socket.resyncTimer);
    showBanner(navigator.onLine === false ? t("offline") : t("reconnecting"), "warning");
  }

  /** Abandons the current socket without waiting for its close handshake. */
  function dropSocket() {
    var ws = socket.ws;
    socket.ws = null;
    if (ws) {
      try {
        ws.close();
      } catch (error) {
        /* already closed */
      }
    }
    socketDown();
  }

  function scheduleReconnect(immediately) {
    clearTimeout(socket.reconnectTimer);
    if (socket.stopped) return;
    var base = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * Math.pow(2, socket.attempt));
    socket.attempt = Math.min(socket.attempt + 1, 10);
    var delay = immediately ? 0 : base * (0.5 + Math.random() * 0.5);
    socket.reconnectTimer = setTimeout(connect, delay);
  }

  function checkSignedIn() {
    api(config.urls.me)
      .then(function (me) {
        if (me && me.role) scheduleReconnect();
        else {
          socket.stopped = true;
          showBanner(t("not_allowed"), "error");
        }
      })
      .catch(function (error) {
        if (error.status !== 401) scheduleReconnect();
      });
  }

  function send(data) {
    if (socket.ws && socket.ws.readyState === WebSocket.OPEN) socket.ws.send(JSON.stringify(data));
  }

  function onReady() {
    socket.ready = true;
    socket.attempt = 0;
    hideBanner();
    clearInterval(socket.pingTimer);
    socket.pingTimer = setInterval(heartbeat, PING_MS);
    socket.resyncAttempt = 0;
    resync();
  }

  /** Pings (keeps me "online"); the pong carries the open conversation's newest seq. */
  function heartbeat() {
    if (!socket.ready) return;
    var message = { type: "ping" };
    if (state.cur) message.conversation = state.cur.id;
    send(message);
    clearTimeout(socket.pongTimer);
    socket.pongTimer = setTimeout(function () {
      // No answer: the connection is dead even if the browser has not noticed.
      dropSocket();
      scheduleReconnect(true);
    }, PONG_TIMEOUT_MS);
  }

  /** Soon after activity, checks that the last push of a burst was not lost. */
  function verifySoon() {
    clearTimeout(socket.verifyTimer);
    socket.verifyTimer = setTimeout(heartbeat, VERIFY_AFTER_MS);
  }

  function onPong(event) {
    clearTimeout(socket.pongTimer);
    var cur = state.cur;
    if (cur && cur.loaded && event.conversation === cur.id && event.last_seq > cur.lastSeq) catchUp();
  }

  /** After every (re)connect: what may have been missed is fetched again. */
  function resync() {
    clearTimeout(socket.resyncTimer);
    var cur = state.cur;
    if (cur && !cur.loaded && !cur.loading) loadConversation(cur); // it failed to load before
    Promise.all([loadList(), catchUp(), refreshDetail()]).then(function (results) {
      if (results.every(Boolean) || !socket.ready) return;
      // The network is still flaky: try again while the socket is up.
      var delay = Math.min(RECONNECT_MAX_MS, 1000 * Math.pow(2, socket.resyncAttempt++));
      socket.resyncTimer = setTimeout(resync, delay);
    });
  }

  function handleEvent(event) {
    switch (event.type) {
      case "ready":
        onReady();
        break;
      case "pong":
        onPong(event);
        break;
      case "message.created":
        if (event.conversation && event.message) onMessageCreated(event.conversation, event.message);
        break;
      case "conversation.updated":
        if (event.conversation) onConversationUpdated(event.conversation);
        break;
      case "typing":
        onRemoteTyping(event);
        if (state.cur && state.cur.id === event.conversation) verifySoon();
        break;
      case "read":
        onRead(event);
        if (state.cur && state.cur.id === event.conversation) verifySoon();
        break;
      default:
        break;
    }
  }

  function onMessageCreated(conversation, message) {
    var merged = upsertConversation(conversation);
    var inbound = message.direction === "in";
    if (inbound) clearRemoteTyping(conversation.id, "customer");
    if (state.cur && state.cur.id === conversation.id) {
      acceptLiveMessage(message);
      verifySoon();
    }
    if (inbound && message.sender_type === "customer") alertFor(merged, message);
  }

  function onConversationUpdated(conversation) {
    var isNew = !state.known.has(conversation.id) && !conversation.last_seq;
    var merged = upsertConversation(conversation);
    if (isNew) alertFor(merged, null);
    var cur = state.cur;
    // It names a newer message than we hold: its push was lost.
    if (cur && cur.loaded && cur.id === conversation.id && conversation.last_seq > cur.lastSeq) catchUp();
  }

  function onRead(event) {
    var id = event.conversation;
    var field = event.reader === "customer" ? "customer_read_seq" : "agent_read_seq";
    var listed = state.list.get(id);
    if (listed && (listed[field] || 0) < event.seq) {
      listed[field] = event.seq;
    }
    var cur = state.cur;
    if (cur && cur.id === id && cur.conv && (cur.conv[field] || 0) < event.seq) {
      cur.conv[field] = event.seq;
      if (field === "customer_read_seq") refreshStatuses();
    }
  }

  // --- Wiring --------------------------------------------------------------------------

  function autosize() {
    var composer = el.composer;
    composer.style.height = "auto";
    composer.style.height = Math.min(composer.scrollHeight + 2, 220) + "px";
  }

  el.tabs.forEach(function (tab) {
    tab.addEventListener("click", function () {
      if (tab.dataset.view !== state.view) setView(tab.dataset.view);
    });
    tab.addEventListener("keydown", function (event) {
      var index = el.tabs.indexOf(tab);
      var next = null;
      if (event.key === "ArrowRight") next = el.tabs[(index + 1) % el.tabs.length];
      if (event.key === "ArrowLeft") next = el.tabs[(index + el.tabs.length - 1) % el.tabs.length];
      if (next) {
        event.preventDefault();
        next.focus();
        setView(next.dataset.view);
      }
    });
  });

  el.listScroll.addEventListener("scroll", function () {
    var s = el.listScroll;
    if (s.scrollHeight - s.scrollTop - s.clientHeight < 200) loadMoreList();
  }, { passive: true });

  el.scroll.addEventListener("scroll", function () {
    var cur = state.cur;
    if (!cur) return;
    cur.stick = nearBottom();
    if (cur.stick) el.jump.hidden = true;
    if (el.scroll.scrollTop < 120) loadOlder();
  }, { passive: true });

  el.loadOlder.addEventListener("click", loadOlder);
  el.jump.addEventListener("click", scrollToBottom);
  el.back.addEventListener("click", closeConversation);
  el.panelToggle.addEventListener("click", function () {
    setPanelOpen(!root.classList.contains("panel-open"));
  });
  $("customer-panel-close").addEventListener("click", function () {
    setPanelOpen(false);
    el.panelToggle.focus();
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && root.classList.contains("panel-open")) {
      setPanelOpen(false);
      el.panelToggle.focus();
    }
  });

  el.form.addEventListener("submit", function (event) {
    event.preventDefault();
    sendText();
  });

  el.composer.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.altKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      sendText();
    }
  });
  el.composer.addEventListener("input", onComposerInput);
  el.composer.addEventListener("blur", function () {
    if (state.cur) {
      if (el.composer.value) state.drafts.set(state.cur.id, el.composer.value);
      else state.drafts.delete(state.cur.id);
    }
  });
  el.composer.addEventListener("paste", function (event) {
    var data = event.clipboardData;
    if (!data) return;
    var files = [];
    if (data.files && data.files.length) {
      files = Array.prototype.slice.call(data.files);
    } else if (data.items) {
      Array.prototype.forEach.call(data.items, function (item) {
        if (item.kind === "file") {
          var file = item.getAsFile();
          if (file) files.push(file);
        }
      });
    }
    files = files.filter(function (file) { return /^image\//.test(file.type); });
    if (!files.length) return;
    event.preventDefault();
    sendFiles(files.map(function (file, index) {
      if (file.name && file.name !== "image.png") return file;
      var extension = (file.type.split("/")[1] || "png").replace("jpeg", "jpg");
      var stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
      try {
        return new File([file], "pasted-" + stamp + (index ? "-" + index : "") + "." + extension, { type: file.type });
      } catch (error) {
        return file;
      }
    }));
  });

  el.attach.addEventListener("change", function () {
    if (el.attach.files && el.attach.files.length) sendFiles(Array.prototype.slice.call(el.attach.files));
    el.attach.value = "";
  });

  el.sound.addEventListener("click", function () {
    state.muted = !state.muted;
    writeStore(STORE_MUTED, state.muted ? "1" : "0");
    renderSoundControl();
    if (!state.muted) {
      unlockAudio();
      lastBeep = 0;
      beep();
    }
  });

  el.notify.addEventListener("click", function () {
    if (!("Notification" in window)) return;
    if (Notification.permission === "default") {
      var asked = Notification.requestPermission(renderNotifyControl);
      if (asked && typeof asked.then === "function") asked.then(renderNotifyControl);
    }
    renderNotifyControl();
  });

  // Browsers only start audio after a gesture on the page.
  ["pointerdown", "keydown"].forEach(function (type) {
    document.addEventListener(type, unlockAudio, { passive: true, capture: true });
  });

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") {
      markRead();
      if (state.cur) refreshRow(state.cur.id);
      updateTitle();
      // A long-hidden tab may have a dead socket the browser has not noticed yet.
      if (socket.ready) send({ type: "ping" });
    }
  });
  window.addEventListener("focus", markRead);

  window.addEventListener("offline", function () {
    dropSocket();
    scheduleReconnect();
  });
  window.addEventListener("online", function () {
    // A fresh socket: its "ready" makes us fetch what happened meanwhile.
    dropSocket();
    socket.attempt = 0;
    scheduleReconnect(true);
  });
  window.addEventListener("pagehide", function () {
    stopTyping(true);
  });

  setInterval(refreshRowTimes, 30000);

  // Expose a little for debugging and tests (read-only use).
  window.SwitchboardConsole = { state: state, socket: socket };

  // --- Start ---------------------------------------------------------------------------

  renderSoundControl();
  renderNotifyControl();
  // The "signed in" flash from the login page would take room from the console for good.
  setTimeout(function () {
    var flash = document.querySelector("body > main > .messages");
    if (flash) flash.remove();
  }, 6000);
  setView(state.view);
  var initial = new URL(location.href).searchParams.get("c");
  if (initial && /^[0-9a-fA-F-]{36}$/.test(initial)) {
    openConversation(initial, { keepFocus: false });
  } else {
    if (initial) setUrlConversation(null);
    root.dataset.state = "empty";
  }
  connect();
})();
