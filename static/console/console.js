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
  var REPLY_OPTIONS_DELAY_MS = 300;
  var REPLY_WINDOW_TICK_MS = 30000;
  // After a reconnect, the newest messages held are fetched again for what changed on them
  // (receipts, reactions, edits): at most this many.
  var STATE_REFRESH_LIMIT = 200;
  var HUMAN_AGENT_TAG = "HUMAN_AGENT";
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
  // --- The console's time zone (config.timezone), whatever the browser's -------------

  var zonePartsFormat = formatter({
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });

  function pad2(number) {
    return (number < 10 ? "0" : "") + number;
  }

  /** The wall-clock parts of `date` in the console's time zone (month from 1). */
  function zoneParts(date) {
    var parts = {};
    zonePartsFormat.formatToParts(date).forEach(function (part) {
      if (part.type !== "literal") parts[part.type] = parseInt(part.value, 10);
    });
    if (parts.hour === 24) parts.hour = 0;
    return parts;
  }

  function zoneOffset(date) {
    var p = zoneParts(date);
    var asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
    return asUtc - (date.getTime() - date.getMilliseconds());
  }

  /** The moment a wall-clock time (month from 0; days may overflow) is in the zone. */
  function zoneDate(year, month, day, hour, minute) {
    var guess = Date.UTC(year, month, day, hour, minute);
    var first = guess - zoneOffset(new Date(guess));
    return new Date(guess - zoneOffset(new Date(first)));
  }

  /** "2025-01-31" of a date in the zone (as the API reads a date; and which day it is). */
  function dayKey(date) {
    var p = zoneParts(date);
    return p.year + "-" + pad2(p.month) + "-" + pad2(p.day);
  }

  /** A `datetime-local` input's value for `date`, in the zone. */
  function zoneInputValue(date) {
    var p = zoneParts(date);
    return dayKey(date) + "T" + pad2(p.hour) + ":" + pad2(p.minute);
  }

  /** The moment a `datetime-local` value means in the zone, or null. */
  function zoneInputDate(value) {
    var match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(value || "");
    return match ? zoneDate(+match[1], +match[2] - 1, +match[3], +match[4], +match[5]) : null;
  }

  /** The snooze times offered everywhere: in an hour, in 4 hours, tomorrow at 9:00 and
   * next Monday at 9:00, the last two in the console's zone. */
  function snoozeChoices(now) {
    now = now || new Date();
    var p = zoneParts(now);
    var weekday = new Date(Date.UTC(p.year, p.month - 1, p.day)).getUTCDay(); // 0 Sunday
    var toMonday = (8 - weekday) % 7 || 7;
    return [
      { key: "hour", label: t("snooze_hour"), until: new Date(now.getTime() + 3600 * 1000) },
      { key: "hours", label: t("snooze_hours", { count: 4 }), until: new Date(now.getTime() + 4 * 3600 * 1000) },
      { key: "tomorrow", label: t("snooze_tomorrow"), until: zoneDate(p.year, p.month - 1, p.day + 1, 9, 0) },
      { key: "week", label: t("snooze_next_week"), until: zoneDate(p.year, p.month - 1, p.day + toMonday, 9, 0) },
    ];
  }

  var relative = null;
  var relativeLong = null;
  try {
    relative = new Intl.RelativeTimeFormat(LANG, { numeric: "auto", style: "short" });
    relativeLong = new Intl.RelativeTimeFormat(LANG, { numeric: "always", style: "long" });
  } catch (error) {
    relative = null;
    relativeLong = null;
  }

  function parseDate(value) {
    if (!value) return null;
    var date = new Date(value);
    return isNaN(date.getTime()) ? null : date;
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

  /** How long until a future date, in words: "in 3 hours", "in 20 minutes". */
  function untilText(date) {
    var minutes = Math.max(1, Math.round((date.getTime() - Date.now()) / 60000));
    var amount = minutes < 60 ? minutes : Math.round(minutes / 60);
    var unit = minutes < 60 ? "minute" : "hour";
    return relativeLong ? relativeLong.format(amount, unit) : "+" + amount + (unit === "hour" ? " h" : " min");
  }

  function isFuture(value) {
    var date = parseDate(value);
    return !!date && date.getTime() > Date.now();
  }

  /** Length as the server counts it (code points, so an emoji is one). */
  function textLength(text) {
    return Array.from(text || "").length;
  }

  /** A string from provider data, or "" for anything else (numbers become text). */
  function textOf(value) {
    if (typeof value === "string") return value;
    if (typeof value === "number" && isFinite(value)) return String(value);
    return "";
  }

  function isObject(value) {
    return !!value && typeof value === "object" && !Array.isArray(value);
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
    // Channel kinds learnt from reply-options and customer cards (the conversation list
    // names only the inbox): inbox id -> kind, conversation id -> kind.
    inboxKinds: new Map(),
    conversationKinds: new Map(),
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

  // --- Extensions ----------------------------------------------------------------------
  //
  // The workflow, list and composer tools live in their own files (workflow.js,
  // list_tools.js, composer_tools.js). Each calls SwitchboardConsole.extend(fn) as it
  // loads, before the console starts, and listens to these hooks:
  //   open(cur) · close() · header(cur) · row(li, conversation) · message(li, m)
  //   event(event): every socket event, after the console has handled it
  //   list-query(params): URLSearchParams of the list request, to add filters
  //   pending(li, pending): a message on its way (body, note, replyTo), drawn
  //   sent(cur): the composer's text went (compose.replyTo is cleared then)
  //   start()
  // `listFilters` are predicates a listed conversation must also pass (a live push that
  // falls out of the filters leaves the list).

  var hooks = {};
  var listFilters = [];
  // How the composer sends, set by the composer's tools: a note or a reply, and the seq
  // of a quoted message (cleared after each send).
  var compose = { note: false, replyTo: null };
  // Keyboard shortcuts the tools offer, for the "?" overview: {keys, label}.
  var shortcuts = [];

  function on(name, fn) {
    (hooks[name] = hooks[name] || []).push(fn);
  }

  function emit(name) {
    var args = Array.prototype.slice.call(arguments, 1);
    (hooks[name] || []).forEach(function (fn) {
      try {
        fn.apply(null, args);
      } catch (error) {
        if (window.console) window.console.error(error); // one tool failing keeps the rest
      }
    });
  }

  // Colleagues and teams (assign, transfer, mention and filter pickers of every tool):
  // asked once a minute at most, shared by the tools.
  var STAFF_MAX_AGE_MS = 60 * 1000;
  var staffCache = { at: 0, promise: null };

  function staffLists(fresh) {
    if (!staffCache.promise || fresh || Date.now() - staffCache.at >= STAFF_MAX_AGE_MS) {
      var apiRoot = config.urls.api;
      staffCache.at = Date.now();
      var promise = Promise.all([api(apiRoot + "agents/"), api(apiRoot + "teams/")]).then(function (answers) {
        return {
          agents: Array.isArray(answers[0]) ? answers[0] : [],
          teams: Array.isArray(answers[1]) ? answers[1] : [],
        };
      });
      promise.catch(function () {
        if (staffCache.promise === promise) staffCache.promise = null; // the next call asks again
      });
      staffCache.promise = promise;
    }
    return staffCache.promise;
  }

  /** Whether keys typed at `target` are text (so single-key shortcuts must not fire). */
  function isEditable(target) {
    if (!target || !target.tagName) return false;
    var tag = target.tagName;
    if (tag === "INPUT") return !/^(checkbox|radio|button|submit|reset)$/i.test(target.type || "");
    return tag === "TEXTAREA" || tag === "SELECT" || !!target.isContentEditable;
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
    if (!listFilters.every(function (keep) { return keep(conversation); })) return false;
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
    attachLabel: document.querySelector(".sb-attach"),
    replyRules: $("reply-rules"),
    charCount: $("char-count"),
    channel: $("conversation-channel"),
    panel: $("customer-panel"),
    panelBody: $("customer-panel-body"),
  };
  var baseTitle = document.title;
  var composerPlaceholder = el.composer.placeholder;

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
    var params = new URLSearchParams({ view: state.view, page_size: String(PAGE_SIZE) });
    emit("list-query", params);
    if (cursor) params.set("cursor", cursor);
    return API + "?" + params.toString();
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
      // Merged into (or split off to) another customer: the panel shows the new one.
      var shown = cur.detail && cur.detail.customer;
      var moved = incoming.customer && shown && String(incoming.customer.id) !== String(shown.id);
      if (cur.loaded && moved) refreshDetail();
    }
    cardConversationChanged(merged);
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
        h("span", { class: "conv-channel", hidden: true }),
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
    renderChannelChip(row.querySelector(".conv-channel"), conversationKind(conversation));
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
    emit("row", row, conversation);
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

  // --- Channel of a conversation ----------------------------------------------------------
  //
  // The conversation JSON names the inbox, not its channel's kind. The kind is read from
  // the conversation when it says it (`channel`, or `inbox.channel`/`inbox.kind`), else
  // learnt from reply-options and the customer card's conversations. An inbox has one
  // channel, so a kind learnt for one conversation labels every row of its inbox.

  function conversationKind(conversation) {
    if (!conversation) return "";
    var inbox = isObject(conversation.inbox) ? conversation.inbox : null;
    return (
      channelKindOf(conversation.channel) ||
      (inbox ? channelKindOf(inbox.channel) || textOf(inbox.kind) : "") ||
      state.conversationKinds.get(conversation.id) ||
      (inbox && state.inboxKinds.get(inbox.id)) ||
      ""
    );
  }

  function learnConversationKind(conversationId, kind) {
    if (!kind || state.conversationKinds.get(conversationId) === kind) return;
    state.conversationKinds.set(conversationId, kind);
    var known = state.list.get(conversationId) || state.latest.get(conversationId);
    var inbox = known && isObject(known.inbox) ? known.inbox : null;
    if (inbox && inbox.id !== undefined && inbox.id !== null) state.inboxKinds.set(inbox.id, kind);
    state.list.forEach(function (conversation) {
      if (conversation.id === conversationId || (inbox && isObject(conversation.inbox) && conversation.inbox.id === inbox.id)) {
        renderRow(conversation);
      }
    });
    if (state.cur && state.cur.id === conversationId) renderHeader();
  }

  /** A small "WhatsApp", "Email"… label with the channel's icon; hidden when not known. */
  function renderChannelChip(element, kind) {
    if (!element) return;
    if (element.dataset.kind === kind) return;
    element.dataset.kind = kind;
    element.replaceChildren.apply(element, kind ? [channelIcon(kind), h("span", { text: channelLabel(kind) })] : []);
    element.hidden = !kind;
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
      updates: new Map(), // seq -> a message.updated that came before the message itself
      pushes: 0, // message.updated pushes received, and the count at each seq's latest:
      pushedAt: new Map(), // a fetch begun before a seq's push must not draw an older version
      retries: new Map(), // seq -> {editing, body, busy, error, hint} of a failed reply
      expanded: new Set(), // "<seq>:<part>" of quoted text and email formatting opened
      // What a reply may be now (reply-options) and the agent's choices in the composer.
      reply: { options: null, token: 0, picking: false, templateId: null, values: [], mode: "", sending: null },
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
    renderReplyRules();
    renderHeader();
    renderTyping();
    state.rows.forEach(function (row, rowId) {
      var conversation = state.list.get(rowId);
      if (conversation) renderRow(conversation);
    });
    updateTitle();
    if (!options.keepFocus && window.matchMedia("(min-width: 761px)").matches) el.composer.focus();
    emit("open", cur);
    loadConversation(cur);
    loadReplyOptions(cur);
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
    emit("close");
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
      renderChannelChip(el.channel, "");
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
    renderChannelChip(el.channel, conversationKind(conversation));
    el.inbox.textContent = conversation.inbox ? conversation.inbox.name : "";
    emit("header", cur);
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
    var inbound = false;
    messages.forEach(function (m) {
      if (m.client_id) resolvePendingElement(cur.id, m.client_id);
      if (cur.messages.has(m.seq)) return;
      cur.messages.set(m.seq, m);
      var element = renderMessage(m);
      cur.elements.set(m.seq, element);
      placeMessage(element);
      added.push(m);
      if (m.direction === "out" && m.author && m.author.id === ME.id) mine = true;
      if (m.direction === "in" && !contentOf(m).automated) inbound = true;
    });
    if (!added.length && !options.initial) return added;
    decorate();
    // The customer wrote: a closed reply window may be open again.
    if (inbound && !options.initial && !options.older && cur.loaded) replyOptionsSoon();
    if (options.older) {
      el.scroll.scrollTop = previousTop + (el.scroll.scrollHeight - previousHeight);
    } else if (!options.initial && cur.loaded) {
      if (wasAtBottom || mine) scrollToBottom();
      else el.jump.hidden = false;
    }
    return added;
  }

  /** Messages show in the order they were sent (the provider's clock), then by seq. */
  function messageTime(m) {
    return m.sent_at || m.created_at;
  }

  function sortsAfter(element, other) {
    var a = Number(element.dataset.at) || 0;
    var b = Number(other.dataset.at) || 0;
    return a !== b ? a > b : Number(element.dataset.seq) > Number(other.dataset.seq);
  }

  function placeMessage(element) {
    var children = el.messages.children;
    var before = null;
    for (var i = 0; i < children.length; i++) {
      var child = children[i];
      if (child.classList.contains("msg-pending")) {
        before = child;
        break;
      }
      if (child.dataset.seq && sortsAfter(child, element)) {
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
    var content = contentOf(m);
    var li = h("li", {
      class:
        "msg " +
        (out ? "msg-out" : "msg-in") +
        " msg-from-" +
        (m.sender_type || "unknown") +
        (content.automated ? " msg-automated" : "") +
        (m.private ? (content.activity ? " msg-activity" : " msg-note") : "") +
        (content.deleted_at ? " is-deleted" : ""),
      "data-seq": m.seq,
    });
    var sent = messageTime(m);
    li.dataset.sender = senderKey(m);
    li.dataset.time = sent || "";
    li.dataset.at = String((parseDate(sent) || new Date(0)).getTime());
    li.appendChild(
      h(
        "div",
        { class: "msg-meta" },
        h("span", { class: "msg-author", text: authorName(m) }),
        timeElement(sent, "msg-time")
      )
    );
    var quoted = typeof m.reply_to === "number" && state.cur ? quoteElement(state.cur.messages.get(m.reply_to) || null) : null;
    var bubble = h("div", { class: "msg-bubble" }, quoted, contentBefore(m));
    if (m.body && !bodyIsDerived(m)) bubble.appendChild(bodyElement(m.body));
    appendChild(bubble, contentAfter(m));
    if (m.attachments && m.attachments.length) bubble.appendChild(attachmentsElement(m.attachments));
    li.appendChild(bubble);
    appendChild(li, reactionsElement(m));
    var labels = messageLabels(m);
    if (out || labels.length) {
      li.appendChild(h("div", { class: "msg-foot" }, labels, out && !m.private ? h("span", { class: "msg-status" }) : null));
    }
    if (out && !m.private) {
      setDeliveryStatus(li, m.seq, m);
      appendChild(li, retryEditor(m));
    }
    emit("message", li, m);
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

  // --- What channels add to a message ------------------------------------------------
  //
  // `content` holds structured parts beside the text (see MessageSerializer). All of it
  // comes from customers and providers: it reaches the page as text and attributes only,
  // links only when they are http(s), and email HTML only inside a sandboxed frame.

  function contentOf(m) {
    return isObject(m.content) ? m.content : {};
  }

  /** The text the server made up from a structured part when there was none: not repeated. */
  function bodyIsDerived(m) {
    var content = contentOf(m);
    var body = m.body;
    if (isObject(content.postback) && body === (textOf(content.postback.title) || textOf(content.postback.payload))) {
      return true;
    }
    if (isObject(content.location) && body === (textOf(content.location.name) || textOf(content.location.address))) {
      return true;
    }
    if (Array.isArray(content.contacts) && content.contacts.length) {
      var names = content.contacts.map(function (card) { return isObject(card) ? textOf(card.name) : ""; });
      if (body === names.join(", ")) return true;
    }
    return false;
  }

  /** Above the text: the email's subject, where the customer came from, what they answer. */
  function contentBefore(m) {
    var content = contentOf(m);
    return [
      textOf(content.subject) ? h("h4", { class: "msg-subject", text: content.subject }) : null,
      referralElement(content.referral),
      commentElement(content.comment),
      replyToElement(content.reply_to),
    ];
  }

  /** Below the text: places, contact cards, buttons, stickers, refused files, email extras. */
  function contentAfter(m) {
    var content = contentOf(m);
    return [
      locationElement(content.location),
      Array.isArray(content.contacts) ? content.contacts.map(contactElement) : null,
      postbackElement(content.postback),
      stickerElement(content.sticker),
      Array.isArray(content.media_refused) ? content.media_refused.map(refusedElement) : null,
      quotedElement(m, textOf(content.quoted)),
      emailHtmlElement(m, textOf(content.html)),
    ];
  }

  function externalLink(href, text, className) {
    return h("a", { class: className || null, href: href, target: "_blank", rel: "noopener noreferrer", text: text });
  }

  function referralElement(referral) {
    if (!isObject(referral)) return null;
    var source = textOf(referral.source);
    var name = textOf(referral.headline) || textOf(referral.ref) || textOf(referral.source_id) || source;
    var isAd = source.toLowerCase() === "ad" || !!textOf(referral.click_id);
    var label = isAd ? t("from_ad", { headline: name }) : t("from_referral", { source: name });
    var href = safeHttpUrl(referral.source_url);
    return h(
      "div",
      { class: "msg-chip msg-referral", title: textOf(referral.body) || null },
      href ? externalLink(href, label) : label
    );
  }

  function commentElement(comment) {
    if (!isObject(comment)) return null;
    var href = safeHttpUrl(comment.permalink);
    return h(
      "div",
      { class: "msg-chip msg-comment" },
      href ? externalLink(href, t("comment_on_post")) : t("comment_on_post")
    );
  }

  function messageByExternalId(externalId) {
    var found = null;
    if (state.cur) {
      state.cur.messages.forEach(function (m) {
        if (m.external_id && m.external_id === externalId) found = m;
      });
    }
    return found;
  }

  function excerpt(text, length) {
    var chars = Array.from(String(text || "").replace(/\s+/g, " ").trim());
    return chars.length > length ? chars.slice(0, length - 1).join("") + "…" : chars.join("");
  }

  function replyToElement(externalId) {
    if (!textOf(externalId)) return null;
    return quoteElement(messageByExternalId(textOf(externalId)));
  }

  /** "In reply to …": the quoted message (by provider id or, for agents' quotes, by seq);
   * a click scrolls to it when it is loaded. */
  function quoteElement(quoted) {
    var preview = quoted
      ? quoted.body || (quoted.attachments && quoted.attachments[0] ? "📎 " + quoted.attachments[0].name : "")
      : "";
    var element = h("div", {
      class: "msg-reply-to",
      text: preview ? t("in_reply_to", { text: excerpt(preview, 80) }) : t("in_reply_to_earlier"),
    });
    if (quoted && state.cur && state.cur.elements.get(quoted.seq)) {
      element.classList.add("is-link");
      element.addEventListener("click", function () {
        var target = state.cur && state.cur.elements.get(quoted.seq);
        if (!target) return;
        target.scrollIntoView({ block: "center", behavior: "smooth" });
        target.classList.add("is-flash");
        setTimeout(function () { target.classList.remove("is-flash"); }, 1600);
      });
    }
    return element;
  }

  /** A coordinate rounded to a metre or so, or null when it is not one. */
  function coordinate(value, limit) {
    var number = typeof value === "string" ? parseFloat(value) : value;
    if (typeof number !== "number" || !isFinite(number) || Math.abs(number) > limit) return null;
    return String(Math.round(number * 1e6) / 1e6);
  }

  function locationElement(location) {
    if (!isObject(location)) return null;
    var lat = coordinate(location.latitude, 90);
    var lon = coordinate(location.longitude, 180);
    var map =
      lat !== null && lon !== null
        ? "https://www.openstreetmap.org/?mlat=" + lat + "&mlon=" + lon + "#map=16/" + lat + "/" + lon
        : null;
    return h(
      "div",
      { class: "msg-card msg-location" },
      h("span", { class: "msg-card-kind", text: t("location") }),
      textOf(location.name) ? h("strong", { class: "msg-card-title", text: location.name }) : null,
      textOf(location.address) ? h("span", { text: location.address }) : null,
      map ? externalLink(map, t("open_map"), "msg-card-link") : null
    );
  }

  function contactElement(card) {
    if (!isObject(card)) return null;
    var lines = function (values) {
      return (Array.isArray(values) ? values : []).map(textOf).filter(Boolean).map(function (value) {
        return h("span", { class: "msg-card-line", text: value });
      });
    };
    return h(
      "div",
      { class: "msg-card msg-contact" },
      h("span", { class: "msg-card-kind", text: t("contact_card") }),
      h("strong", { class: "msg-card-title", text: textOf(card.name) || "—" }),
      textOf(card.organization) ? h("span", { class: "msg-card-line", text: card.organization }) : null,
      lines(card.phones),
      lines(card.emails)
    );
  }

  function postbackElement(postback) {
    if (!isObject(postback)) return null;
    var title = textOf(postback.title) || textOf(postback.payload);
    return h("div", {
      class: "msg-postback",
      title: textOf(postback.payload) || null,
      text: t("pressed", { title: title }),
    });
  }

  function stickerElement(sticker) {
    var value = textOf(sticker);
    if (!value) return null;
    // A sticker's emoji or description; some channels only say "sticker".
    var named = value.toLowerCase() !== "sticker" && Array.from(value).length <= 40;
    return h(
      "div",
      { class: "msg-sticker" },
      h("span", { class: "msg-card-kind", text: t("sticker") }),
      named ? h("span", { class: "msg-sticker-value", text: value }) : null
    );
  }

  function refusedElement(refused) {
    if (!isObject(refused)) return null;
    return h("p", {
      class: "msg-refused",
      text: t("file_refused", { name: textOf(refused.name) || t("attachment"), reason: textOf(refused.reason) || "—" }),
    });
  }

  /** A part shown on request (<details>); stays open when the message is drawn again. */
  function expander(m, part, summary, className, fill) {
    var key = m.seq + ":" + part;
    var details = h("details", { class: "msg-expand " + className }, h("summary", { text: summary }));
    var filled = false;
    var open = function () {
      if (filled) return;
      filled = true;
      appendChild(details, fill());
    };
    if (state.cur && state.cur.expanded.has(key)) {
      details.open = true;
      open();
    }
    details.addEventListener("toggle", function () {
      var cur = state.cur;
      if (details.open) {
        open();
        if (cur) cur.expanded.add(key);
      } else if (cur) {
        cur.expanded.delete(key);
      }
    });
    return details;
  }

  function quotedElement(m, quoted) {
    if (!quoted) return null;
    return expander(m, "quoted", t("show_quoted"), "msg-quoted", function () {
      return h("div", { class: "msg-quoted-text", text: quoted });
    });
  }

  // The frame's own policy: nothing is fetched (no remote images, fonts or styles).
  var EMAIL_FRAME_HEAD =
    '<!doctype html><meta charset="utf-8">' +
    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">" +
    "<style>body{margin:.75rem;font:14px/1.45 system-ui,sans-serif;color:#1f2933;overflow-wrap:anywhere}" +
    "img{max-width:100%;height:auto}table{max-width:100%}</style>";

  /** The email as formatted: sanitised on the server, and shown only in a frame that may
   * run nothing and is of no origin (sandbox with no allowances). */
  function emailHtmlElement(m, html) {
    if (!html) return null;
    return expander(m, "html", t("show_formatting"), "msg-html", function () {
      var frame = h("iframe", { class: "msg-html-frame", sandbox: "", referrerpolicy: "no-referrer", title: t("email_formatting") });
      frame.setAttribute("srcdoc", EMAIL_FRAME_HEAD + html);
      return h("div", { class: "msg-html-box" }, frame);
    });
  }

  function reactionsElement(m) {
    var reactions = contentOf(m).reactions;
    if (!isObject(reactions)) return null;
    var emojis = [];
    var titles = [];
    Object.keys(reactions).forEach(function (who) {
      var emoji = textOf(reactions[who]);
      if (!emoji) return;
      emojis.push(emoji);
      titles.push(t("reacted", { name: who === "customer" ? customerName() : who, emoji: emoji }));
    });
    if (!emojis.length) return null;
    return h("span", { class: "msg-reactions", title: titles.join("\n"), "aria-label": titles.join(", "), text: emojis.join(" ") });
  }

  /** Small labels under a message: auto-reply, template, tag, private reply, edited, deleted. */
  function messageLabels(m) {
    var content = contentOf(m);
    var labels = [];
    var label = function (className, text, title) {
      labels.push(h("span", { class: "msg-label " + className, title: title || null, text: text }));
    };
    if (m.private && !content.activity) label("msg-label-note", t("private_note"));
    if (content.automated) label("msg-label-auto", t("auto_reply"));
    if (isObject(content.template) && textOf(content.template.name)) {
      label("msg-label-template", t("template_sent", { name: content.template.name }));
    }
    var options = isObject(content.options) ? content.options : {};
    if (options.message_tag) label("msg-label-tag", t("sent_with_tag"));
    if (options.reply_mode === "private") label("msg-label-private", t("private_reply"));
    var edits = Array.isArray(content.edits) ? content.edits.filter(isObject) : [];
    if (edits.length || content.edited_at) {
      var versions = edits.map(function (edit) {
        return t("earlier_version", { time: fullTime(edit.replaced_at), text: textOf(edit.body) });
      });
      label("msg-label-edited", t("edited"), versions.length ? [t("earlier_versions")].concat(versions).join("\n") : fullTime(content.edited_at));
    }
    if (content.deleted_at) label("msg-label-deleted", t("deleted_by_customer"), fullTime(content.deleted_at));
    return labels;
  }

  function setDeliveryStatus(li, seq, message) {
    var status = li.querySelector(".msg-status");
    if (!status || !state.cur) return;
    var m = message || state.cur.messages.get(seq);
    if (m && m.delivery_status) {
      channelDeliveryStatus(li, status, m);
      return;
    }
    // No receipts from the channel (the website chat): read as the widget reports it.
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

  // --- Delivery of a reply through a channel ---------------------------------------------
  //
  // queued (clock) → sent ✓ → delivered ✓✓ → read ✓✓ (highlighted), or failed with the
  // provider's reason and a retry, as is or with corrected text.

  var DELIVERY_TICKS = { sent: "✓", delivered: "✓✓", read: "✓✓" };
  var DELIVERY_LABELS = { queued: "delivery_queued", sent: "sent", delivered: "delivered", read: "read" };

  function channelDeliveryStatus(li, status, m) {
    var delivery = m.delivery_status;
    status.dataset.state = delivery;
    li.classList.toggle("is-read", delivery === "read");
    li.classList.toggle("is-failed", delivery === "failed");
    if (delivery === "failed") {
      status.removeAttribute("title");
      status.replaceChildren.apply(status, failedStatus(m));
      return;
    }
    var label = DELIVERY_LABELS[delivery] ? t(DELIVERY_LABELS[delivery]) : delivery;
    var mark =
      delivery === "queued"
        ? svgIcon("clock")
        : h("span", { class: "msg-ticks", "aria-hidden": "true", text: DELIVERY_TICKS[delivery] || "" });
    status.title = label;
    status.replaceChildren(mark, h("span", { class: "visually-hidden", text: label }));
  }

  function retryState(cur, seq) {
    var retry = cur.retries.get(seq);
    if (!retry) {
      retry = { editing: false, body: "", busy: false, error: null, hint: "" };
      cur.retries.set(seq, retry);
    }
    return retry;
  }

  /** A template's text cannot be changed (the provider approved it as it is). */
  function canEditRetry(m) {
    return !!m.body && !isObject(contentOf(m).template);
  }

  function failedStatus(m) {
    var cur = state.cur;
    var retry = (cur && cur.retries.get(m.seq)) || {};
    var nodes = [
      h("span", {
        class: "msg-failed-text",
        text: m.delivery_error ? t("not_delivered_reason", { reason: m.delivery_error }) : t("not_delivered"),
      }),
    ];
    if (retry.editing) return nodes;
    nodes.push(
      h("button", {
        type: "button",
        class: "msg-retry sb-link-btn",
        disabled: !!retry.busy,
        text: t("retry"),
        onclick: function () { retryDelivery(m.seq); },
      })
    );
    if (canEditRetry(m)) {
      nodes.push(
        h("button", {
          type: "button",
          class: "msg-edit-retry sb-link-btn",
          disabled: !!retry.busy,
          text: t("edit_and_retry"),
          onclick: function () { openRetryEditor(m); },
        })
      );
    }
    if (retry.error) nodes.push(refusalElement("msg-retry-error", retry.error, retry.hint));
    return nodes;
  }

  function refusalElement(className, message, hint) {
    return h(
      "span",
      { class: className, role: "alert" },
      message,
      hint ? [" ", h("span", { class: "sb-refusal-hint", text: hint })] : null
    );
  }

  function openRetryEditor(m) {
    var cur = state.cur;
    if (!cur) return;
    var retry = retryState(cur, m.seq);
    retry.editing = true;
    retry.body = m.body;
    retry.error = null;
    rerenderMessage(m.seq);
    var input = cur.elements.get(m.seq) && cur.elements.get(m.seq).querySelector(".msg-retry-form textarea");
    if (input) {
      input.focus();
      input.setSelectionRange(input.value.length, input.value.length);
    }
  }

  /** The inline editor of "Edit and retry", under the failed reply. */
  function retryEditor(m) {
    var cur = state.cur;
    var retry = cur && cur.retries.get(m.seq);
    if (!retry || !retry.editing || m.delivery_status !== "failed") return null;
    var input = h("textarea", {
      class: "sb-input",
      rows: "3",
      "aria-label": t("edit_and_retry"),
      "data-draft": "retry-" + m.seq,
      oninput: function () { retry.body = input.value; },
    });
    input.value = retry.body;
    return h(
      "form",
      {
        class: "msg-retry-form",
        onsubmit: function (event) {
          event.preventDefault();
          if (retry.body.trim()) retryDelivery(m.seq, retry.body);
        },
      },
      input,
      retry.error ? refusalElement("sb-field-error", retry.error, retry.hint) : null,
      h(
        "div",
        { class: "sb-form-actions" },
        h("button", { type: "submit", class: "sb-btn sb-btn-primary sb-btn-sm", disabled: !!retry.busy, text: t("send_again") }),
        h("button", {
          type: "button",
          class: "sb-btn sb-btn-sm",
          text: t("cancel"),
          onclick: function () {
            cur.retries.delete(m.seq);
            rerenderMessage(m.seq);
          },
        })
      )
    );
  }

  /** Sends a failed reply again (with corrected text when `body` is given). */
  function retryDelivery(seq, body) {
    var cur = state.cur;
    if (!cur) return;
    var retry = retryState(cur, seq);
    if (retry.busy) return;
    retry.busy = true;
    retry.error = null;
    rerenderMessage(seq);
    api(conversationUrl(cur.id, "messages/" + seq + "/retry/"), {
      method: "POST",
      json: body === undefined ? {} : { body: body },
    }).then(
      function (message) {
        if (state.cur !== cur) return;
        cur.retries.delete(seq);
        applyMessage(message, { force: true });
      },
      function (error) {
        if (state.cur !== cur) return;
        var refusal = replyErrorOf(error);
        retry.busy = false;
        retry.error = refusal.message;
        retry.hint = refusal.hint;
        rerenderMessage(seq);
        if (error.status === 422) loadReplyOptions(cur);
      }
    );
  }

  /** What a refused send or retry says: the channel's reason and what to do instead. */
  function replyErrorOf(error) {
    if (error.status === 422) {
      var details = error.details || {};
      return { message: error.message, hint: typeof details.hint === "string" ? details.hint : "" };
    }
    if (error.status >= 400 && error.status < 500) return { message: apiErrorText(error), hint: "" };
    return { message: t("send_failed"), hint: "" };
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
    // A change pushed before the message itself is newer than what this says.
    var newer = cur.updates.get(m.seq);
    if (newer) {
      cur.updates.delete(m.seq);
      m = newer;
    }
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

  // --- Changes to messages already shown ----------------------------------------------
  //
  // A stored message changes when a receipt, a reaction, an edit or a deletion arrives
  // (the "message.updated" push), when a retry is answered, and after a reconnect, when
  // the newest messages held are fetched again in case such a push was lost.

  function messageStateKey(m) {
    return [m.body, m.delivery_status, m.delivery_error, m.sent_at, JSON.stringify(m.content || {})].join("\u0000");
  }

  /** A newer version of a message: drawn again where it changed. */
  function applyMessage(m, options) {
    var cur = state.cur;
    if (!cur) return;
    var held = cur.messages.get(m.seq);
    if (!held) {
      // Not here yet (its own push or the first page is on the way): used when it comes.
      if (!cur.loaded || m.seq > maxHeldSeq(cur)) cur.updates.set(m.seq, m);
      return;
    }
    if (!(options && options.force) && messageStateKey(held) === messageStateKey(m)) return;
    cur.messages.set(m.seq, m);
    if (m.delivery_status !== "failed") cur.retries.delete(m.seq);
    rerenderMessage(m.seq);
  }

  function rerenderMessage(seq) {
    var cur = state.cur;
    var old = cur && cur.elements.get(seq);
    var m = cur && cur.messages.get(seq);
    if (!old || !m) return;
    var fresh = renderMessage(m);
    // Keep the agent's place in an editor inside the message.
    var active = document.activeElement;
    var key = active && old.contains(active) && active.dataset ? active.dataset.draft : null;
    var selection = key && typeof active.selectionStart === "number" ? [active.selectionStart, active.selectionEnd] : null;
    var wasAtBottom = nearBottom();
    old.replaceWith(fresh);
    cur.elements.set(seq, fresh);
    if (old.dataset.at !== fresh.dataset.at) {
      fresh.remove();
      placeMessage(fresh);
    }
    decorate();
    if (wasAtBottom) scrollToBottom();
    if (key) {
      var again = fresh.querySelector('[data-draft="' + key + '"]');
      if (again) {
        again.focus({ preventScroll: true });
        if (selection) again.setSelectionRange(selection[0], selection[1]);
      }
    }
  }

  function onMessageUpdated(conversationId, m) {
    if (!state.cur || state.cur.id !== conversationId) return;
    state.cur.pushedAt.set(m.seq, ++state.cur.pushes);
    applyMessage(m);
    verifySoon();
  }

  /** After a reconnect: what changed on the newest messages held while the socket was down. */
  function refreshMessageStates() {
    var cur = state.cur;
    if (!cur || !cur.loaded) return Promise.resolve(true);
    var low = minHeldSeq(cur);
    if (low === null) return Promise.resolve(true);
    var after = Math.max(low, cur.lastSeq - STATE_REFRESH_LIMIT + 1) - 1;
    var url = conversationUrl(cur.id, "messages/") + "?after=" + after + "&limit=" + STATE_REFRESH_LIMIT;
    var pushesBefore = cur.pushes;
    return api(url)
      .then(function (page) {
        if (state.cur !== cur) return true;
        (page.results || []).forEach(function (m) {
          // A push that came while the page was on its way is newer than the page.
          if ((cur.pushedAt.get(m.seq) || 0) > pushesBefore) return;
          if (cur.messages.has(m.seq)) applyMessage(m);
        });
        return true;
      })
      .catch(function (error) {
        return !error.network;
      });
  }

  function refreshDetail() {
    var cur = state.cur;
    if (!cur || !cur.loaded) return Promise.resolve(true);
    return api(conversationUrl(cur.id))
      .then(function (detail) {
        if (state.cur !== cur) return true;
        cur.detail = detail;
        upsertConversation(detail);
        var card = cur.card;
        renderPanel();
        // The same customer as before: what may have changed on the card is fetched again.
        if (card && cur.card === card && !card.loading) return loadCard(cur);
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

  /** An error beside the composer; `kind` "too_long" goes away as the text gets shorter,
   * a channel's refusal stays until the next send. */
  function showComposerError(text, hint, kind) {
    el.composerError.replaceChildren();
    appendChild(el.composerError, [text, hint ? [" ", h("span", { class: "sb-refusal-hint", text: hint })] : null]);
    el.composerError.dataset.kind = kind || "";
    el.composerError.hidden = false;
  }

  function hideComposerError() {
    el.composerError.hidden = true;
    el.composerError.replaceChildren();
    el.composerError.dataset.kind = "";
  }

  /** Sends the composer's text; `extra` adds channel options (the human-agent tag).
   * `send.note` makes it a private note (never delivered, so the channel's rules do not
   * apply) and `send.replyTo` quotes a message by seq. */
  function sendText(extra, send) {
    var cur = state.cur;
    if (!cur) return;
    send = send || {};
    var body = el.composer.value;
    if (!body.trim()) return;
    var rules = cur.reply.options;
    var tagged = !!(extra && extra.message_tag);
    if (!send.note && !freeTextAllowed(rules) && !(tagged && tagAllowed(rules))) {
      showComposerError(rules.blocked_reason || t("free_text_blocked"), rules.hint);
      return;
    }
    var max = send.note ? config.max_body : textLimit(rules);
    if (textLength(body) > max) {
      showComposerError(t("too_long", { max: max }), "", "too_long");
      return;
    }
    hideComposerError();
    el.composer.value = "";
    autosize();
    updateCharCount();
    state.drafts.delete(cur.id);
    stopTyping();
    queueSend({
      conversationId: cur.id,
      clientId: newClientId(),
      body: body,
      file: null,
      note: !!send.note,
      replyTo: send.replyTo || null,
      options: send.note ? null : replyChoices(cur, extra),
    });
    compose.replyTo = null;
    emit("sent", cur);
    el.composer.focus();
  }

  function sendFiles(files) {
    var cur = state.cur;
    if (!cur) return;
    if (compose.note) {
      showComposerError(t("files_not_in_notes"));
      return;
    }
    var rules = cur.reply.options;
    if (!freeTextAllowed(rules)) {
      showComposerError(rules.blocked_reason || t("free_text_blocked"), rules.hint);
      return;
    }
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
      var data = { client_id: pending.clientId, body: pending.body };
      if (pending.template) data.template = pending.template;
      if (pending.options) data.options = pending.options;
      if (pending.replyTo) data.reply_to = pending.replyTo;
      var path = pending.note ? "notes/" : "messages/";
      request = api(conversationUrl(pending.conversationId, path), { method: "POST", json: data });
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
        if (error.status === 422) {
          pendingRefused(pending, error);
          return;
        }
        var refusal = replyErrorOf(error);
        pending.status = "failed";
        pending.error = error.status >= 400 && error.status < 500 ? [refusal.message, refusal.hint].filter(Boolean).join(" ") : null;
        updatePendingElement(pending);
        templateSendDone(pending, false);
      }
    );
  }

  /** The channel refused a reply (422): why, and what to do instead, beside the composer.
   * Text goes back into the composer (or stays as a failed reply if the agent has typed
   * something else since), a template's values stay in the picker, a file stays as a
   * failed reply. */
  function pendingRefused(pending, error) {
    var refusal = replyErrorOf(error);
    var id = pending.conversationId;
    var cur = state.cur && state.cur.id === id ? state.cur : null;
    var draft = cur ? el.composer.value : state.drafts.get(id) || "";
    var giveBack = !pending.template && !pending.file && !draft.trim();
    if (pending.template || giveBack) {
      resolvePendingElement(id, pending.clientId);
      if (giveBack && cur) {
        el.composer.value = pending.body;
        autosize();
        updateCharCount();
      } else if (giveBack) {
        state.drafts.set(id, pending.body);
      }
    } else {
      pending.status = "failed";
      pending.error = [refusal.message, refusal.hint].filter(Boolean).join(" ");
      updatePendingElement(pending);
    }
    templateSendDone(pending, false);
    if (!cur) return;
    decorate();
    showComposerError(refusal.message, refusal.hint);
    loadReplyOptions(cur);
  }

  function pendingDone(pending, message) {
    var cur = state.cur;
    if (cur && cur.id === pending.conversationId) {
      acceptLiveMessage(message);
    }
    templateSendDone(pending, true);
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
    var li = h("li", { class: "msg msg-out msg-pending" + (pending.note ? " msg-note" : ""), "data-client-id": pending.clientId });
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
    emit("pending", li, pending);
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

  // --- What a reply may be now (the channel's rules) --------------------------------------
  //
  // GET reply-options when a conversation opens, when the customer writes (that reopens a
  // window), after a reconnect and after a refusal. It says whether free text is accepted,
  // until when, and what else may be sent: an approved template (WhatsApp), the human-agent
  // tag (Messenger, Instagram), a public or private answer to a comment. The server checks
  // every reply again; this only shows the agent what will work before they try.

  var PLACEHOLDER = /\{\{\s*(\d+)\s*\}\}/g;
  var replyOptionsTimer = null;

  function freeTextAllowed(rules) {
    return !rules || !rules.blocked_code;
  }

  function tagAllowed(rules) {
    return (
      !!rules &&
      rules.outside_window === "message_tag" &&
      rules.blocked_code === "window_closed" &&
      isFuture(rules.tag_allowed_until)
    );
  }

  function templatesOffered(rules) {
    return (
      !!rules &&
      rules.outside_window === "template" &&
      rules.blocked_code !== "unsubscribed" &&
      Array.isArray(rules.templates) &&
      rules.templates.length > 0
    );
  }

  function textLimit(rules) {
    var channel = rules && rules.max_text_length;
    return channel ? Math.min(channel, config.max_body) : config.max_body;
  }

  /** The channel options a reply carries: the agent's reply mode, and `extra`. */
  function replyChoices(cur, extra) {
    var options = Object.assign({}, extra || {});
    var rules = cur.reply.options;
    if (rules && Array.isArray(rules.reply_modes) && rules.reply_modes.length) options.reply_mode = replyMode(cur);
    return Object.keys(options).length ? options : null;
  }

  function replyMode(cur) {
    var modes = (cur.reply.options && cur.reply.options.reply_modes) || [];
    return modes.indexOf(cur.reply.mode) >= 0 ? cur.reply.mode : modes[0] || "";
  }

  /** Fetches the rules for the open conversation. Resolves false when the network failed. */
  function loadReplyOptions(cur) {
    cur = cur || state.cur;
    if (!cur) return Promise.resolve(true);
    var token = ++cur.reply.token;
    return api(conversationUrl(cur.id, "reply-options/"))
      .then(function (rules) {
        if (state.cur !== cur || token !== cur.reply.token) return true;
        cur.reply.options = rules;
        learnConversationKind(cur.id, rules.kind);
        renderReplyRules();
        return true;
      })
      .catch(function (error) {
        return !error.network;
      });
  }

  /** Once after a burst of the customer's messages. */
  function replyOptionsSoon() {
    clearTimeout(replyOptionsTimer);
    replyOptionsTimer = setTimeout(function () { loadReplyOptions(); }, REPLY_OPTIONS_DELAY_MS);
  }

  function refreshReplyOptions() {
    var cur = state.cur;
    return cur && cur.loaded ? loadReplyOptions(cur) : Promise.resolve(true);
  }

  function renderReplyRules() {
    var cur = state.cur;
    var rules = cur && cur.reply.options;
    var parts = rules
      ? [blockedBanner(rules), windowNote(rules), replyModeControl(cur, rules), tagControl(rules), templatePicker(cur, rules)]
      : [];
    // Keep the agent's place in a template value while the rules are drawn again.
    var active = document.activeElement;
    var key = active && el.replyRules.contains(active) && active.dataset ? active.dataset.draft : null;
    var selection = key && typeof active.selectionStart === "number" ? [active.selectionStart, active.selectionEnd] : null;
    el.replyRules.replaceChildren.apply(el.replyRules, parts.filter(Boolean));
    el.replyRules.hidden = !el.replyRules.firstChild;
    if (key) {
      var again = el.replyRules.querySelector('[data-draft="' + key + '"]');
      if (again) {
        again.focus({ preventScroll: true });
        if (selection) again.setSelectionRange(selection[0], selection[1]);
      }
    }
    applyComposerState(rules);
  }

  /** Free text, files and the send button only where the channel takes them now. */
  function applyComposerState(rules) {
    var free = freeTextAllowed(rules);
    var writable = free || tagAllowed(rules);
    el.composer.disabled = !writable;
    el.composer.placeholder = writable ? composerPlaceholder : t("free_text_blocked");
    el.send.disabled = !free;
    el.attach.disabled = !free;
    el.attachLabel.classList.toggle("is-disabled", !free);
    el.form.classList.toggle("is-blocked", !writable);
    updateCharCount();
  }

  function updateCharCount() {
    var cur = state.cur;
    var max = cur && cur.reply.options && cur.reply.options.max_text_length;
    if (!max || el.composer.disabled || compose.note) {
      el.charCount.hidden = true;
      return;
    }
    var count = textLength(el.composer.value);
    el.charCount.textContent = t("char_count", { count: count, max: max });
    el.charCount.classList.toggle("is-over", count > max);
    el.charCount.hidden = false;
  }

  function blockedBanner(rules) {
    if (!rules.blocked_code) return null;
    return h(
      "div",
      { class: "sb-reply-blocked", role: "status", "data-code": rules.blocked_code },
      h("strong", { class: "sb-reply-reason", text: rules.blocked_reason || t("free_text_blocked") }),
      rules.hint ? h("span", { class: "sb-reply-hint", text: rules.hint }) : null
    );
  }

  function windowNote(rules) {
    var closes = parseDate(rules.window_closes_at);
    if (!rules.window_open || !closes || closes.getTime() <= Date.now()) return null;
    return h(
      "p",
      { class: "sb-window-note" },
      svgIcon("clock"),
      timeElement(rules.window_closes_at, "", t("window_closes", { when: untilText(closes) }))
    );
  }

  /** Every half minute: the window's countdown, and the rules again once a time passed. */
  function tickReplyWindow() {
    var cur = state.cur;
    var rules = cur && cur.reply.options;
    if (!rules) return;
    var closes = parseDate(rules.window_closes_at);
    var now = Date.now();
    // The window closed, or the tag's time ran out while its button shows.
    var passed =
      (rules.window_open && closes && closes.getTime() <= now) ||
      (!tagAllowed(rules) && !!el.replyRules.querySelector(".sb-tag-send"));
    if (passed) {
      loadReplyOptions(cur);
      return;
    }
    var note = el.replyRules.querySelector(".sb-window-note");
    var fresh = windowNote(rules);
    if (note && fresh) note.replaceWith(fresh);
  }

  function replyModeControl(cur, rules) {
    var modes = Array.isArray(rules.reply_modes) ? rules.reply_modes : [];
    if (!modes.length) return null;
    var current = replyMode(cur);
    return h(
      "fieldset",
      { class: "sb-reply-mode" },
      h("legend", { text: t("reply_mode") }),
      modes.map(function (mode) {
        return h(
          "label",
          { class: "sb-reply-mode-option" },
          h("input", {
            type: "radio",
            name: "reply-mode",
            value: mode,
            checked: mode === current,
            onchange: function () { cur.reply.mode = mode; },
          }),
          h("span", { text: S["reply_" + mode] ? t("reply_" + mode) : mode })
        );
      })
    );
  }

  function tagControl(rules) {
    if (!tagAllowed(rules)) return null;
    return h(
      "div",
      { class: "sb-tag-send" },
      h("button", {
        type: "button",
        class: "sb-btn sb-btn-sm",
        text: t("send_with_tag"),
        onclick: function () { sendText({ message_tag: HUMAN_AGENT_TAG }); },
      }),
      h("span", { class: "sb-muted", text: t("tag_allowed_until", { time: fullTime(rules.tag_allowed_until) }) })
    );
  }

  function chosenTemplate(cur, rules) {
    var found = null;
    (rules.templates || []).forEach(function (template) {
      if (template.id === cur.reply.templateId) found = template;
    });
    return found;
  }

  function templateCount(template) {
    return Math.max(0, Math.min(Number(template.variables) || 0, 100));
  }

  /** Approved templates: open by itself when only a template can be sent, else on request. */
  function templatePicker(cur, rules) {
    if (!templatesOffered(rules)) return null;
    var closed = !rules.window_open;
    if (!closed && !cur.reply.picking) {
      return h(
        "div",
        { class: "sb-template-toggle" },
        h("button", {
          type: "button",
          class: "sb-link-btn",
          text: t("use_template"),
          onclick: function () {
            cur.reply.picking = true;
            renderReplyRules();
          },
        })
      );
    }
    var chosen = chosenTemplate(cur, rules);
    var pick = function (template) {
      cur.reply.templateId = template ? template.id : null;
      cur.reply.values = [];
      renderReplyRules();
      var first = el.replyRules.querySelector(".sb-template-var input");
      if (first) first.focus();
    };
    var head = h(
      "div",
      { class: "sb-templates-head" },
      h("h3", { text: chosen ? chosen.name : t("choose_template") }),
      chosen ? h("button", { type: "button", class: "sb-link-btn", text: t("other_template"), onclick: function () { pick(null); } }) : null,
      closed
        ? null
        : iconButton("close", t("close_templates"), function () {
            cur.reply.picking = false;
            cur.reply.templateId = null;
            renderReplyRules();
            el.composer.focus();
          })
    );
    var body = chosen
      ? templateForm(cur, chosen)
      : h(
          "ul",
          { class: "sb-template-list" },
          rules.templates.map(function (template) {
            return h(
              "li",
              null,
              h(
                "button",
                { type: "button", class: "sb-template-option", onclick: function () { pick(template); } },
                h(
                  "span",
                  { class: "sb-template-name" },
                  template.name,
                  template.language ? h("span", { class: "sb-template-lang", text: template.language }) : null
                ),
                h("span", { class: "sb-template-body", text: template.body })
              )
            );
          })
        );
    return h("section", { class: "sb-templates", "aria-label": t("templates") }, head, body);
  }

  /** One input per {{n}}, with the filled text as it will be sent. */
  function templateForm(cur, template) {
    var count = templateCount(template);
    var values = cur.reply.values;
    while (values.length < count) values.push("");
    var preview = h("p", { class: "sb-template-preview", "aria-live": "polite" });
    var send = h("button", {
      type: "button",
      class: "sb-btn sb-btn-primary sb-btn-sm sb-template-send",
      text: t("send_template"),
      onclick: function () { sendTemplate(cur, template); },
    });
    var update = function () {
      preview.replaceChildren.apply(preview, templateParts(template.body, values));
      send.disabled = !templateComplete(values, count) || !!cur.reply.sending;
    };
    var inputs = [];
    for (var i = 0; i < count; i++) {
      (function (index) {
        var input = h("input", {
          type: "text",
          class: "sb-input",
          maxlength: "1024",
          "data-draft": "template-" + template.id + "-" + index,
          oninput: function () {
            values[index] = input.value;
            update();
          },
          onkeydown: function (event) {
            if (event.key === "Enter" && !event.isComposing) {
              event.preventDefault();
              sendTemplate(cur, template);
            }
          },
        });
        input.value = values[index];
        inputs.push(
          h("label", { class: "sb-template-var" }, h("span", { text: t("template_value", { n: "{{" + (index + 1) + "}}" }) }), input)
        );
      })(i);
    }
    update();
    return h(
      "div",
      { class: "sb-template-form" },
      inputs.length ? h("div", { class: "sb-template-vars" }, inputs) : null,
      h("div", { class: "sb-template-preview-box" }, h("span", { class: "sb-template-preview-label", text: t("template_preview") }), preview),
      h("div", { class: "sb-form-actions" }, send)
    );
  }

  /** The template's text as nodes: filled values marked, missing ones left as {{n}}. */
  function templateParts(body, values) {
    var parts = [];
    var index = 0;
    var match;
    PLACEHOLDER.lastIndex = 0;
    while ((match = PLACEHOLDER.exec(body))) {
      if (match.index > index) parts.push(body.slice(index, match.index));
      var value = (values[Number(match[1]) - 1] || "").trim();
      parts.push(value ? h("mark", { text: value }) : h("span", { class: "is-empty", text: match[0] }));
      index = match.index + match[0].length;
    }
    if (index < body.length) parts.push(body.slice(index));
    return parts;
  }

  /** The text the server will store for the template (values trimmed, as it does). */
  function templateFill(body, values) {
    return body.replace(PLACEHOLDER, function (match, number) {
      var value = values[Number(number) - 1];
      return value === undefined ? match : value;
    });
  }

  function templateComplete(values, count) {
    for (var i = 0; i < count; i++) {
      if (!(values[i] || "").trim()) return false;
    }
    return true;
  }

  function sendTemplate(cur, template) {
    if (state.cur !== cur || cur.reply.sending) return;
    var count = templateCount(template);
    var values = cur.reply.values.slice(0, count).map(function (value) { return value.trim(); });
    if (!templateComplete(values, count)) return;
    hideComposerError();
    var pending = {
      conversationId: cur.id,
      clientId: newClientId(),
      body: templateFill(template.body, values),
      file: null,
      template: { id: template.id, variables: values },
      options: replyChoices(cur, null),
    };
    cur.reply.sending = pending.clientId;
    renderReplyRules();
    queueSend(pending);
  }

  /** A template send was answered: sent, the picker starts afresh; refused, it keeps the values. */
  function templateSendDone(pending, sent) {
    if (!pending.template) return;
    var cur = state.cur;
    if (!cur || cur.id !== pending.conversationId || cur.reply.sending !== pending.clientId) return;
    cur.reply.sending = null;
    if (sent && cur.reply.templateId === pending.template.id) {
      cur.reply.templateId = null;
      cur.reply.values = [];
      cur.reply.picking = false;
    }
    renderReplyRules();
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
    updateCharCount();
    if (
      !el.composerError.hidden &&
      el.composerError.dataset.kind === "too_long" &&
      textLength(el.composer.value) <= textLimit(cur && cur.reply.options)
    ) {
      hideComposerError();
    }
    if (!cur) return;
    // A note is no reply: the customer must not see "typing…" for it.
    if (!el.composer.value.trim() || compose.note) {
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

  // --- Customer card -------------------------------------------------------------------
  //
  // The panel shows what the conversation detail says about where this conversation came
  // from, and the customer's card from /api/v1/customers/<uuid>/ and its sub-resources.
  // Every change goes to the API; the card is then drawn again from the API's answer.
  // What an agent is typing in the card (drafts, the open editor) lives in the card's
  // state, so a redraw never loses it.

  var API_ROOT = config.urls.api || "/api/v1/";
  var SEARCH_DELAY_MS = 250;
  var SVG_NS = "http://www.w3.org/2000/svg";
  var ADDABLE_KINDS = config.identity_kinds_addable || ["phone", "email"];
  var catalog = { attributes: null, attributesLoading: null, tags: null, tagsLoading: null };

  function customerUrl(id, suffix) {
    return API_ROOT + "customers/" + encodeURIComponent(id) + "/" + (suffix || "");
  }

  /** The items of a list answer, paginated ({results}) or not. */
  function itemsOf(answer) {
    if (Array.isArray(answer)) return answer;
    return answer && Array.isArray(answer.results) ? answer.results : [];
  }

  function noop() {}

  /** A translated text whose %(name)s placeholders become the given nodes or strings. */
  function fill(text, params) {
    var parts = [];
    var pattern = /%\((\w+)\)s/g;
    var index = 0;
    var match;
    while ((match = pattern.exec(text))) {
      if (match.index > index) parts.push(text.slice(index, match.index));
      var value = Object.prototype.hasOwnProperty.call(params, match[1]) ? params[match[1]] : match[0];
      parts.push(value instanceof Node ? value : String(value));
      index = match.index + match[0].length;
    }
    if (index < text.length) parts.push(text.slice(index));
    return parts;
  }

  // Icons: small inline SVGs drawn with currentColor; channel icons sit on the channel's colour.
  var ICONS = {
    phone: [
      [
        "path",
        {
          d: "M6.6 10.8a15.1 15.1 0 0 0 6.6 6.6l2.2-2.2c.3-.3.7-.4 1-.2 1.1.4 2.3.6 3.6.6.6 0 1 .4 1 1V20c0 .6-.4 1-1 1A17 17 0 0 1 3 4c0-.6.4-1 1-1h3.5c.6 0 1 .4 1 1 0 1.3.2 2.5.6 3.6.1.3 0 .7-.2 1z",
        },
      ],
    ],
    email: [
      [
        "path",
        { d: "M20 4H4a2 2 0 0 0-2 2v12a2 2 0 0 0 2 2h16a2 2 0 0 0 2-2V6a2 2 0 0 0-2-2Zm0 4-8 5-8-5V6l8 5 8-5Z" },
      ],
    ],
    web: [
      ["circle", { cx: "12", cy: "12", r: "8.5", fill: "none", stroke: "currentColor", "stroke-width": "2" }],
      [
        "path",
        {
          d: "M3.5 12h17M12 3.5c2.6 2.4 3.8 5.3 3.8 8.5s-1.2 6.1-3.8 8.5M12 3.5C9.4 5.9 8.2 8.8 8.2 12s1.2 6.1 3.8 8.5",
          fill: "none",
          stroke: "currentColor",
          "stroke-width": "1.8",
        },
      ],
    ],
    whatsapp: [
      [
        "path",
        {
          d: "M3.6 20.4 4.8 16A8.6 8.6 0 1 1 8 19.2z",
          fill: "none",
          stroke: "currentColor",
          "stroke-width": "2",
          "stroke-linejoin": "round",
        },
      ],
      [
        "path",
        {
          d: "M9.3 7.6c.3-.2.7 0 .8.3l.8 1.8c.1.3 0 .5-.2.7l-.5.5a6.3 6.3 0 0 0 2.8 2.8l.5-.5c.2-.2.5-.3.7-.2l1.8.8c.3.1.5.5.3.8-.4 1-1.4 1.6-2.4 1.4a7.4 7.4 0 0 1-5.8-5.8c-.2-1 .4-2 1.2-2.6z",
        },
      ],
    ],
    messenger: [
      [
        "path",
        {
          d: "M12 2.5c-5.4 0-9.5 3.9-9.5 9 0 2.8 1.3 5.2 3.4 6.8V22l3.2-1.8c.9.3 1.9.4 2.9.4 5.4 0 9.5-3.9 9.5-9.1S17.4 2.5 12 2.5Z",
        },
      ],
      ["path", { d: "m6.8 14.4 3.1-4.9 2.6 2 3-2-3.1 4.9-2.6-2z", class: "ink" }],
    ],
    instagram: [
      [
        "rect",
        {
          x: "3.5",
          y: "3.5",
          width: "17",
          height: "17",
          rx: "5",
          fill: "none",
          stroke: "currentColor",
          "stroke-width": "2",
        },
      ],
      ["circle", { cx: "12", cy: "12", r: "3.8", fill: "none", stroke: "currentColor", "stroke-width": "2" }],
      ["circle", { cx: "17.1", cy: "6.9", r: "1.2" }],
    ],
    telegram: [
      [
        "path",
        {
          d: "M21.4 3.3 2.8 10.5c-1 .4-.9 1.6.1 1.9l4.6 1.4 1.8 5.6c.2.7 1.1.9 1.6.4l2.6-2.5 4.6 3.4c.6.5 1.5.1 1.7-.7L22.9 4.7c.2-1-.6-1.8-1.5-1.4Zm-3.7 4.1-7.6 6.8-.3 3-1.3-4.2z",
        },
      ],
    ],
    line: [
      [
        "path",
        {
          d: "M12 3C6.5 3 2 6.6 2 11c0 4 3.5 7.3 8.3 7.9.9.2.6 1 .5 1.7-.1.6.3.9 1 .5 3.9-2.2 10.2-6.1 10.2-10.1C22 6.6 17.5 3 12 3Z",
        },
      ],
    ],
    wechat: [
      [
        "path",
        {
          d: "M9.5 3.5C5.4 3.5 2 6.3 2 9.7c0 1.9 1 3.6 2.7 4.8L4 16.8l2.7-1.4c.9.3 1.8.4 2.8.4h.5a5.6 5.6 0 0 1-.2-1.5c0-3.4 3.2-6.1 7.2-6.1h.5C16.9 5.4 13.5 3.5 9.5 3.5Z",
        },
      ],
      [
        "path",
        { d: "M17 9.6c-3.3 0-6 2.2-6 5s2.7 5 6 5c.7 0 1.4-.1 2-.3l2 1.1-.5-1.8c1.4-.9 2.5-2.4 2.5-4 0-2.8-2.7-5-6-5Z" },
      ],
    ],
    wecom: [
      [
        "path",
        {
          d: "M10 3.5c-4.4 0-8 3-8 6.7 0 2 1 3.8 2.7 5L4 17.8l3-1.5c.9.3 1.9.4 3 .4 4.4 0 8-3 8-6.5s-3.6-6.7-8-6.7Z",
          fill: "none",
          stroke: "currentColor",
          "stroke-width": "1.9",
        },
      ],
      ["circle", { cx: "18.5", cy: "17.5", r: "3.2" }],
    ],
    douyin: [
      [
        "path",
        {
          d: "M16.6 2h-3.3v13.2a2.9 2.9 0 1 1-2.9-2.9c.3 0 .6 0 .8.1V9a6.2 6.2 0 1 0 5.4 6.2V8.4a7.6 7.6 0 0 0 4.4 1.4V6.5a4.4 4.4 0 0 1-4.4-4.4Z",
        },
      ],
    ],
    other: [["circle", { cx: "12", cy: "12", r: "4" }]],
    check: [["path", { d: "M9.5 16.2 5.3 12l-1.4 1.4 5.6 5.6 11-11-1.4-1.4z" }]],
    clock: [
      [
        "path",
        {
          d: "M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20Zm0 18a8 8 0 1 1 0-16 8 8 0 0 1 0 16Zm.5-13H11v6l5.25 3.15.75-1.23-4.5-2.67Z",
        },
      ],
    ],
    close: [
      ["path", { d: "M19 6.4 17.6 5 12 10.6 6.4 5 5 6.4 10.6 12 5 17.6 6.4 19 12 13.4 17.6 19 19 17.6 13.4 12z" }],
    ],
    edit: [
      [
        "path",
        {
          d: "M3 17.3V21h3.7l11-11-3.7-3.7-11 11ZM20.7 7a1 1 0 0 0 0-1.4l-2.3-2.3a1 1 0 0 0-1.4 0l-1.8 1.8 3.7 3.7L20.7 7Z",
        },
      ],
    ],
  };

  // Identity kinds and channel kinds drawn with the same icon.
  var ICON_FOR = {
    phone: "phone",
    email: "email",
    web: "web",
    web_visitor: "web",
    web_user: "web",
    whatsapp: "whatsapp",
    messenger: "messenger",
    instagram: "instagram",
    telegram: "telegram",
    line: "line",
    wechat: "wechat",
    wechat_openid: "wechat",
    wechat_unionid: "wechat",
    wechat_id: "wechat",
    wecom: "wecom",
    douyin: "douyin",
  };

  function svgIcon(name) {
    var svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    (ICONS[name] || ICONS.other).forEach(function (shape) {
      var node = document.createElementNS(SVG_NS, shape[0]);
      Object.keys(shape[1]).forEach(function (attribute) {
        node.setAttribute(attribute, shape[1][attribute]);
      });
      svg.appendChild(node);
    });
    return svg;
  }

  /** The channel (or identity kind) as a small coloured icon, named for screen readers. */
  function channelIcon(kind, label) {
    var icon = ICON_FOR[kind] || "other";
    var element = h("span", {
      class: "sb-ch sb-ch-" + icon,
      title: label || null,
      role: label ? "img" : null,
      "aria-label": label || null,
    });
    if (!label) element.setAttribute("aria-hidden", "true");
    element.appendChild(svgIcon(icon));
    return element;
  }

  function iconButton(icon, label, onclick, className) {
    return h(
      "button",
      {
        type: "button",
        class: "sb-icon-btn sb-mini " + (className || ""),
        "aria-label": label,
        title: label,
        onclick: onclick,
      },
      svgIcon(icon)
    );
  }

  function channelKindOf(value) {
    if (!value) return "";
    return typeof value === "object" ? value.kind || "" : String(value);
  }

  function channelLabel(kind) {
    if (!kind) return "";
    if (kind === "web") return t("channel_web");
    return (LABELS.channel && LABELS.channel[kind]) || kind;
  }

  function identityLabel(identity) {
    return identity.kind_label || LABELS.identity[identity.kind] || identity.kind;
  }

  function personName(person) {
    return person ? person.name || "" : "";
  }

  function actorName(actor, automatic) {
    if (actor) return actor.id === ME.id ? t("you") : actor.name;
    return automatic ? t("automatically") : t("system");
  }

  // --- Card state and loading

  function newCard(customerId) {
    return {
      customerId: customerId,
      customer: null,
      conversations: null, // list, or false when it could not be loaded
      notes: null,
      loading: false,
      error: null,
      token: 0,
      drafts: {}, // input key -> text being typed
      errors: {}, // field key -> the API's message
      pending: {}, // field key -> true while its request runs
      editing: null, // "name" or "attr:<key>"
      flash: null, // a short confirmation shown at the top of the card
      historyOpen: false,
      history: null, // {items, next, loading, error}
      merging: false,
      search: { results: null, loading: false, token: 0, timer: null, error: null },
    };
  }

  /** The card of the open conversation's customer, started (and loaded) when it changes. */
  function cardFor(cur) {
    var customer = cur.detail && cur.detail.customer;
    if (!customer || customer.id === undefined || customer.id === null) return null;
    var id = String(customer.id);
    if (!cur.card || cur.card.customerId !== id) {
      if (cur.card) clearTimeout(cur.card.search.timer);
      catalog.attributes = null; // admins may have changed them: fetched with each new card
      cur.card = newCard(id);
      loadCard(cur);
    }
    return cur.card;
  }

  function loadAttributeDefinitions() {
    if (catalog.attributes) return Promise.resolve(catalog.attributes);
    if (!catalog.attributesLoading) {
      catalog.attributesLoading = api(API_ROOT + "customer-attributes/")
        .then(function (answer) {
          catalog.attributes = itemsOf(answer);
          return catalog.attributes;
        })
        .catch(function () {
          return [];
        })
        .finally(function () {
          catalog.attributesLoading = null;
        });
    }
    return catalog.attributesLoading;
  }

  function loadTags(force) {
    if (catalog.tags && !force) return Promise.resolve(catalog.tags);
    if (!catalog.tagsLoading) {
      catalog.tagsLoading = api(API_ROOT + "tags/")
        .then(function (answer) {
          catalog.tags = itemsOf(answer);
          return catalog.tags;
        })
        .catch(function () {
          return catalog.tags || [];
        })
        .finally(function () {
          catalog.tagsLoading = null;
        });
    }
    return catalog.tagsLoading;
  }

  function loadPart(card, part) {
    return api(customerUrl(card.customerId, part + "/")).then(
      function (answer) {
        card[part] = itemsOf(answer);
      },
      function () {
        if (!card[part]) card[part] = false;
      }
    );
  }

  /** (Re)loads the whole card. Resolves false when the network failed. */
  function loadCard(cur) {
    var card = cur.card;
    if (!card) return Promise.resolve(true);
    var token = ++card.token;
    card.loading = true;
    var stale = function () {
      return state.cur !== cur || cur.card !== card || token !== card.token;
    };
    return Promise.all([
      api(customerUrl(card.customerId)),
      loadPart(card, "conversations"),
      loadPart(card, "notes"),
      loadAttributeDefinitions(),
      loadTags(),
    ]).then(
      function (answers) {
        if (stale()) return true;
        card.loading = false;
        card.error = null;
        card.customer = answers[0];
        (card.conversations || []).forEach(function (conversation) {
          learnConversationKind(conversation.id, channelKindOf(conversation.channel));
        });
        renderPanel();
        if (card.historyOpen) loadHistory(cur, true);
        return true;
      },
      function (error) {
        if (stale()) return true;
        card.loading = false;
        card.error = error;
        renderPanel();
        return !error.network;
      }
    );
  }

  function isCustomerDetail(card, answer) {
    return (
      !!answer &&
      typeof answer === "object" &&
      String(answer.id) === card.customerId &&
      Array.isArray(answer.identities)
    );
  }

  /**
   * Sends one change from the card. While it runs, `key`'s controls are disabled; on
   * success `options.done(answer)` runs, the card takes the answer (a customer detail) or
   * fetches the customer again, reloads `options.reload` (e.g. ["notes"]) and is drawn
   * again (after a merge, `options.merge`, `afterMerge` reloads instead); on failure the
   * API's message is shown next to `key`. Resolves the answer, or null when it failed.
   */
  function cardChange(cur, key, request, options) {
    options = options || {};
    var card = cur.card;
    if (!card || card.pending[key]) return Promise.resolve(null);
    card.pending[key] = true;
    delete card.errors[key];
    card.flash = null;
    renderPanel();
    var current = function () {
      return state.cur === cur && cur.card === card;
    };
    return request().then(
      function (answer) {
        delete card.pending[key];
        if (!current()) return answer;
        if (options.done) options.done(answer);
        var waits = [];
        if (isCustomerDetail(card, answer)) card.customer = answer;
        else if (!options.merge)
          waits.push(
            api(customerUrl(card.customerId)).then(function (customer) {
              card.customer = customer;
            })
          );
        (options.reload || []).forEach(function (part) {
          waits.push(loadPart(card, part));
        });
        if (card.historyOpen) waits.push(loadHistory(cur, true, true));
        renderPanel();
        return Promise.all(
          waits.map(function (wait) {
            return wait.catch(noop);
          })
        ).then(function () {
          if (current()) renderPanel();
          return answer;
        });
      },
      function (error) {
        delete card.pending[key];
        if (!current()) return null;
        card.errors[key] = (options.errorText ? options.errorText(error) : apiErrorText(error)) || t("change_failed");
        renderPanel();
        if (error.status === 409) {
          // E.g. an identity that belongs to someone else: a merge suggestion was recorded.
          api(customerUrl(card.customerId)).then(function (customer) {
            if (!current()) return;
            card.customer = customer;
            renderPanel();
          }, noop);
        }
        return null;
      }
    );
  }

  function patchCustomer(cur, key, data, done) {
    var card = cur.card;
    return cardChange(
      cur,
      key,
      function () {
        return api(customerUrl(card.customerId), { method: "PATCH", json: data });
      },
      {
        done: done,
        errorText: function (error) {
          return fieldErrorText(error, data);
        },
      }
    );
  }

  /** The API's message for the one field of `data` that was sent. */
  function fieldErrorText(error, data) {
    var details = (error && error.details) || {};
    var names = Object.keys(data);
    for (var i = 0; i < names.length; i++) {
      var name = names[i];
      var value = details[name];
      if (name === "attributes" && value) {
        var keys = Object.keys(data.attributes);
        if (!Array.isArray(value) && typeof value === "object") {
          for (var j = 0; j < keys.length; j++) {
            var messages = value[keys[j]];
            if (messages) return Array.isArray(messages) ? messages.join(" ") : String(messages);
          }
        } else if (Array.isArray(value)) {
          for (var k = 0; k < value.length; k++) {
            var text = String(value[k]);
            for (var m = 0; m < keys.length; m++) {
              if (text.indexOf(keys[m] + ":") === 0) return text.slice(keys[m].length + 1).trim();
            }
          }
          if (value.length) return String(value[0]);
        }
      } else if (value) {
        return Array.isArray(value) ? value.join(" ") : String(value);
      }
    }
    return apiErrorText(error);
  }

  /**
   * A merge, its undo or a confirmed suggestion: asks `action.dialog`, then POSTs
   * `action.json` to `action.url` as a card change; on success `action.done` runs and the
   * conversation is reloaded (it may belong to another customer now) with `action.flash`.
   */
  function mergeChange(cur, key, action) {
    return confirmDialog(action.dialog).then(function (yes) {
      if (!yes) return null;
      return cardChange(
        cur,
        key,
        function () {
          return api(action.url, { method: "POST", json: action.json || {} });
        },
        { merge: true, done: action.done }
      ).then(function (answer) {
        if (answer) afterMerge(cur, action.flash);
      });
    });
  }

  /** After a merge or its undo: the open conversation may belong to another customer now. */
  function afterMerge(cur, flash) {
    if (state.cur !== cur) return Promise.resolve();
    var before = cur.card ? cur.card.customerId : null;
    return api(conversationUrl(cur.id)).then(
      function (detail) {
        if (state.cur !== cur) return;
        cur.detail = detail;
        upsertConversation(detail);
        renderHeader();
        var moved = !detail.customer || String(detail.customer.id) !== before;
        if (moved) {
          renderPanel(); // starts and loads the new customer's card
        } else {
          loadCard(cur);
        }
        if (cur.card) cur.card.flash = flash || null;
        renderPanel();
        loadList();
      },
      function () {
        if (state.cur === cur) loadCard(cur);
      }
    );
  }

  // --- Drawing helpers

  /** Binds an input to the card's drafts (kept across redraws) under `key`. */
  function draft(card, key, element, initial) {
    var value = Object.prototype.hasOwnProperty.call(card.drafts, key) ? card.drafts[key] : initial;
    if (value !== undefined && value !== null) element.value = String(value);
    element.dataset.draft = key;
    var keep = function () {
      card.drafts[key] = element.value;
    };
    element.addEventListener("input", keep);
    element.addEventListener("change", keep);
    return element;
  }

  function fieldError(card, key) {
    var text = card.errors[key];
    return text ? h("p", { class: "sb-field-error", role: "alert", text: text }) : null;
  }

  function smallButton(text, attrs) {
    return h("button", Object.assign({ type: "button", class: "sb-btn sb-btn-sm", text: text }, attrs || {}));
  }

  function cardSection(title, className, children, tools) {
    return h(
      "section",
      { class: "sb-panel-section " + (className || "") },
      h("div", { class: "sb-section-head" }, h("h3", { text: title }), tools || null),
      children
    );
  }

  // --- Confirmation dialog

  /** Asks before a change that is hard to take back. Resolves true when confirmed. */
  function confirmDialog(options) {
    return new Promise(function (resolve) {
      var dialog;
      var finish = function (answer) {
        if (!dialog) return;
        var node = dialog;
        dialog = null;
        if (node.open) node.close();
        node.remove();
        resolve(answer);
      };
      var paragraphs = (Array.isArray(options.body) ? options.body : [options.body])
        .filter(Boolean)
        .map(function (text) {
          return h("p", null, text);
        });
      var confirmButton = h("button", {
        type: "button",
        class: "sb-btn " + (options.danger ? "sb-btn-danger" : "sb-btn-primary"),
        text: options.confirm,
        onclick: function () {
          finish(true);
        },
      });
      dialog = h(
        "dialog",
        { class: "sb-dialog", "aria-labelledby": "sb-dialog-title" },
        h("h2", { id: "sb-dialog-title", text: options.title }),
        paragraphs,
        h(
          "div",
          { class: "sb-dialog-actions" },
          h("button", {
            type: "button",
            class: "sb-btn",
            text: t("cancel"),
            onclick: function () {
              finish(false);
            },
          }),
          confirmButton
        )
      );
      dialog.addEventListener("cancel", function (event) {
        event.preventDefault();
        finish(false);
      });
      dialog.addEventListener("keydown", function (event) {
        if (event.key === "Escape") {
          event.stopPropagation();
          event.preventDefault();
          finish(false);
        }
      });
      root.appendChild(dialog);
      if (typeof dialog.showModal === "function") dialog.showModal();
      else dialog.setAttribute("open", "");
      confirmButton.focus();
    });
  }

  // --- Sections

  function renderHead(cur, card, customer, ref, zone) {
    var name = (customer && customer.name) || ref.name || t("customer");
    var local = localTimeIn(zone);
    var subtitle = [(customer && customer.country) || ref.country, local ? t("local_time", { time: local }) : null]
      .filter(Boolean)
      .join(" · ");
    var title;
    if (customer && card.editing === "name") {
      var input = draft(
        card,
        "name",
        h("input", {
          type: "text",
          class: "sb-input",
          maxlength: "200",
          "aria-label": t("display_name"),
          placeholder: t("display_name"),
        }),
        customer.display_name || ""
      );
      var save = function (event) {
        if (event) event.preventDefault();
        patchCustomer(cur, "name", { display_name: input.value.trim() }, function () {
          card.editing = null;
          delete card.drafts.name;
        });
      };
      input.addEventListener("keydown", function (event) {
        if (event.key === "Escape") {
          event.stopPropagation();
          card.editing = null;
          delete card.drafts.name;
          delete card.errors.name;
          renderPanel();
        }
      });
      title = h(
        "form",
        { class: "sb-inline-form", onsubmit: save },
        input,
        h(
          "div",
          { class: "sb-form-actions" },
          h("button", {
            type: "submit",
            class: "sb-btn sb-btn-sm sb-btn-primary",
            text: t("save"),
            disabled: !!card.pending.name,
          }),
          smallButton(t("cancel"), {
            onclick: function () {
              card.editing = null;
              delete card.drafts.name;
              delete card.errors.name;
              renderPanel();
            },
          })
        ),
        fieldError(card, "name")
      );
    } else {
      title = h(
        "div",
        { class: "sb-name-line" },
        h("h2", { class: "sb-customer-name", text: name }),
        customer
          ? iconButton("edit", t("edit_name"), function () {
              card.editing = "name";
              renderPanel();
              focusDraft("name");
            })
          : null
      );
    }
    var badges = [];
    if (customer && customer.is_blocked)
      badges.push(h("span", { class: "sb-badge sb-badge-danger", text: t("blocked") }));
    if (customer && customer.lead_status && customer.lead_status !== "none") {
      badges.push(
        h("span", { class: "sb-badge sb-badge-lead", text: LABELS.lead[customer.lead_status] || customer.lead_status })
      );
    }
    return h(
      "header",
      { class: "sb-panel-head" },
      avatar(name, (customer && customer.id) || ref.id, "sb-avatar-lg"),
      h(
        "div",
        { class: "sb-panel-name" },
        title,
        subtitle ? h("p", { class: "sb-muted", text: subtitle }) : null,
        badges.length ? h("p", { class: "sb-badges" }, badges) : null
      )
    );
  }

  function evidenceText(evidence) {
    if (!evidence || typeof evidence !== "object" || !evidence.value) return "";
    var identity = (LABELS.identity[evidence.kind] || evidence.kind || "") + " " + evidence.value;
    var channel = evidence.channel ? channelLabel(channelKindOf(evidence.channel)) : "";
    var reason;
    if (evidence.reason === "verified_match") reason = t("evidence_verified_match", { channel: channel || "?" });
    else if (evidence.reason === "verified_over_typed")
      reason = t("evidence_verified_over_typed", { channel: channel || "?" });
    else if (evidence.via && LABELS.via && LABELS.via[evidence.via])
      reason = t("evidence_typed_via", { via: LABELS.via[evidence.via] });
    else if (channelKindOf(evidence.channel) === "web") reason = t("evidence_typed_web");
    else if (channel) reason = t("evidence_typed_on", { channel: channel });
    else reason = t("evidence_typed");
    return t("evidence", { identity: identity.trim(), reason: reason });
  }

  function renderSuggestions(cur, card, customer) {
    var suggestions = Array.isArray(customer.suggestions) ? customer.suggestions : [];
    if (!suggestions.length) return null;
    var here = customer.name || t("customer");
    return cardSection(
      t("merge_suggestions"),
      "sb-suggestions",
      suggestions.map(function (suggestion) {
        var other = personName(suggestion.other) || t("customer");
        var key = "suggestion:" + suggestion.id;
        var evidence = evidenceText(suggestion.evidence);
        return h(
          "div",
          { class: "sb-suggest", "data-suggestion": suggestion.id },
          h("p", { class: "sb-suggest-text" }, fill(t("maybe_same"), { name: h("strong", { text: other }) })),
          evidence ? h("p", { class: "sb-suggest-evidence", text: evidence }) : null,
          h(
            "div",
            { class: "sb-form-actions" },
            smallButton(t("confirm_merge"), {
              class: "sb-btn sb-btn-sm sb-btn-primary",
              disabled: !!card.pending[key],
              onclick: function () {
                mergeChange(cur, key, {
                  dialog: {
                    title: t("merge_title", { a: here, b: other }),
                    body: [t("merge_suggestion_explain", { a: here, b: other }), t("merge_undo_note")],
                    confirm: t("merge"),
                  },
                  url: API_ROOT + "merge-suggestions/" + encodeURIComponent(suggestion.id) + "/confirm/",
                  flash: t("merged_flash", { name: other }),
                });
              },
            }),
            smallButton(t("dismiss"), {
              class: "sb-btn sb-btn-sm",
              disabled: !!card.pending[key],
              onclick: function () {
                cardChange(cur, key, function () {
                  return api(API_ROOT + "merge-suggestions/" + encodeURIComponent(suggestion.id) + "/dismiss/", {
                    method: "POST",
                    json: {},
                  });
                });
              },
            })
          ),
          fieldError(card, key)
        );
      })
    );
  }

  function renderIdentities(cur, card, customer, fallback) {
    var identities = customer ? customer.identities || [] : fallback;
    var items = identities.map(function (identity) {
      var label = identityLabel(identity);
      var channel = identity.channel && identity.channel.name ? identity.channel.name : "";
      var verified = identity.verified
        ? h(
            "span",
            {
              class: "sb-verified",
              title: identity.verification
                ? t("verified_by", { how: (LABELS.verification || {})[identity.verification] || identity.verification })
                : t("verified"),
            },
            svgIcon("check"),
            h("span", { class: "visually-hidden", text: t("verified") })
          )
        : null;
      var key = "identity:" + identity.id;
      return h(
        "li",
        { class: "sb-ident", "data-kind": identity.kind },
        channelIcon(identity.kind, label),
        h(
          "span",
          { class: "sb-ident-text" },
          h("span", { class: "sb-ident-value sb-break" }, h("span", { text: identity.value }), verified),
          h("span", { class: "sb-ident-kind", text: channel ? label + " · " + channel : label }),
          fieldError(card, key)
        ),
        customer && identity.id !== undefined
          ? iconButton(
              "close",
              t("remove_identity", { identity: identity.value }),
              function () {
                confirmDialog({
                  title: t("remove_identity_title"),
                  body: t("remove_identity_explain", { identity: label + " " + identity.value }),
                  confirm: t("remove"),
                  danger: true,
                }).then(function (yes) {
                  if (!yes) return;
                  cardChange(cur, key, function () {
                    return api(customerUrl(card.customerId, "identities/" + encodeURIComponent(identity.id) + "/"), {
                      method: "DELETE",
                    });
                  });
                });
              },
              "sb-remove"
            )
          : null
      );
    });
    var form = null;
    if (customer) {
      var kind = draft(
        card,
        "identity-kind",
        h(
          "select",
          { class: "sb-input sb-kind-select", "aria-label": t("identity_kind") },
          ADDABLE_KINDS.map(function (value) {
            return h("option", { value: value, text: LABELS.identity[value] || value });
          })
        ),
        ADDABLE_KINDS[0]
      );
      var value = draft(
        card,
        "identity-value",
        h("input", {
          type: "text",
          class: "sb-input",
          "aria-label": t("identity_value"),
          placeholder: t("identity_value"),
        }),
        ""
      );
      form = h(
        "form",
        {
          class: "sb-add-form sb-identity-form",
          onsubmit: function (event) {
            event.preventDefault();
            if (!value.value.trim()) return;
            cardChange(
              cur,
              "identity-add",
              function () {
                return api(customerUrl(card.customerId, "identities/"), {
                  method: "POST",
                  json: { kind: kind.value, value: value.value.trim() },
                });
              },
              {
                done: function () {
                  delete card.drafts["identity-value"];
                },
              }
            );
          },
        },
        h(
          "div",
          { class: "sb-add-row" },
          kind,
          value,
          h("button", {
            type: "submit",
            class: "sb-btn sb-btn-sm",
            text: t("add"),
            disabled: !!card.pending["identity-add"],
          })
        ),
        fieldError(card, "identity-add")
      );
    }
    if (!items.length && !form) return null;
    return cardSection(t("contacts"), "sb-identities", [
      items.length ? h("ul", { class: "sb-ident-list" }, items) : null,
      form,
    ]);
  }

  function byRecent(a, b) {
    var da = parseDate(a.last_message_at || a.created_at);
    var db = parseDate(b.last_message_at || b.created_at);
    return (db ? db.getTime() : 0) - (da ? da.getTime() : 0);
  }

  function renderConversations(cur, card) {
    if (card.conversations === false) {
      return cardSection(
        t("conversations"),
        "sb-timeline-section",
        h("p", { class: "sb-muted", text: t("card_part_error") })
      );
    }
    var conversations = (card.conversations || []).slice().sort(byRecent);
    if (!conversations.length) return null;
    var items = conversations.map(function (conversation) {
      var kind = channelKindOf(conversation.channel);
      var when = conversation.last_message_at || conversation.created_at;
      var current = conversation.id === cur.id;
      var inbox = conversation.inbox
        ? typeof conversation.inbox === "object"
          ? conversation.inbox.name
          : conversation.inbox
        : "";
      return h(
        "li",
        { class: "sb-tl-item" + (current ? " is-current" : ""), "data-id": conversation.id },
        h(
          "a",
          {
            class: "sb-tl-link",
            href: "?c=" + encodeURIComponent(conversation.id),
            "aria-current": current ? "true" : null,
            onclick: function (event) {
              if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
              event.preventDefault();
              if (!current) openConversation(conversation.id);
            },
          },
          channelIcon(kind, channelLabel(kind)),
          h(
            "span",
            { class: "sb-tl-text" },
            h(
              "span",
              { class: "sb-tl-top" },
              h("span", { class: "sb-tl-inbox", text: inbox || channelLabel(kind) }),
              timeElement(when, "sb-tl-time", relativeTime(when))
            ),
            h("span", { class: "sb-tl-preview", text: conversation.last_message_preview || t("no_messages") }),
            h(
              "span",
              { class: "sb-tl-meta" },
              h("span", {
                class: "sb-pill",
                "data-status": conversation.status || "",
                text: LABELS.status[conversation.status] || conversation.status || "",
              }),
              current ? h("span", { class: "sb-tl-here", text: t("this_conversation") }) : null
            )
          )
        )
      );
    });
    return cardSection(t("conversations"), "sb-timeline-section", h("ol", { class: "sb-timeline" }, items));
  }

  /**
   * Keeps the open customer card's conversation list live: a pushed change to one of its
   * conversations (status, last message), a new conversation of the customer, or one out
   * of sight now is drawn without reloading the card.
   */
  function cardConversationChanged(conversation, gone) {
    var cur = state.cur;
    var card = cur && cur.card;
    if (!card || card.loading || !Array.isArray(card.conversations)) return;
    var list = card.conversations;
    var at = -1;
    list.forEach(function (item, index) {
      if (String(item.id) === String(conversation.id)) at = index;
    });
    var customer = conversation.customer;
    var elsewhere = !!customer && customer.id !== undefined && String(customer.id) !== card.customerId;
    if (gone || elsewhere) {
      if (at < 0) return;
      list.splice(at, 1);
    } else if (at >= 0) {
      // The card's rows name the inbox and channel kind flat (CustomerConversationSerializer).
      list[at] = Object.assign({}, list[at], conversation, { inbox: list[at].inbox, channel: list[at].channel });
    } else if (customer && String(customer.id) === card.customerId) {
      var inbox = conversation.inbox || {};
      list.push(Object.assign({}, conversation, { inbox: inbox.name || "", channel: inbox.channel || null }));
    } else {
      return;
    }
    var drawn = el.panelBody.querySelector(".sb-timeline-section");
    var fresh = renderConversations(cur, card);
    if (drawn && fresh) drawn.replaceWith(fresh);
    else renderPanel();
  }

  var TOUCH_SKIP = { conversation: true, at: true, user_agent: true, language: true, timezone: true, channel: true };
  var TOUCH_ORDER = [
    "page_url",
    "page_title",
    "referrer",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "utm_term",
  ];

  function touchRows(touch, withChannel, withTime) {
    if (!touch || typeof touch !== "object") return [];
    var labels = { page_url: t("page"), page_title: t("page_title"), referrer: t("referrer") };
    var rows = [];
    if (withChannel && touch.channel) rows.push(row(t("channel"), channelLabel(channelKindOf(touch.channel))));
    TOUCH_ORDER.forEach(function (key) {
      var value = touch[key];
      if (value === undefined || value === null || value === "") return;
      rows.push(
        row(labels[key] || key, key === "page_url" || key === "referrer" ? linkOrText(String(value)) : String(value))
      );
    });
    // Whatever else the channel reported (ad and campaign ids, click ids, a referral source).
    Object.keys(touch)
      .filter(function (key) {
        return !TOUCH_SKIP[key] && TOUCH_ORDER.indexOf(key) < 0;
      })
      .sort()
      .forEach(function (key) {
        var value = touch[key];
        if (value === null || value === undefined || value === "" || typeof value === "object") return;
        var label = Object.prototype.hasOwnProperty.call(S, "touch_" + key) ? S["touch_" + key] : key;
        rows.push(row(label, String(value)));
      });
    if (withTime && touch.at) rows.push(row(t("when"), fullTime(touch.at)));
    return rows.filter(Boolean);
  }

  function renderAttribution(customer) {
    var parts = [];
    var first = touchRows(customer.first_touch, true, true);
    var last = touchRows(customer.last_touch, true, true);
    var same =
      customer.first_touch &&
      customer.last_touch &&
      customer.first_touch.at &&
      customer.first_touch.at === customer.last_touch.at;
    if (first.length) parts.push(h("h4", { text: same ? t("first_and_last_touch") : t("first_touch") }), list(first));
    if (last.length && !same) parts.push(h("h4", { text: t("last_touch") }), list(last));
    var lead = customer.lead || {};
    if (lead.captured_at) {
      var leadRows = [
        row(t("when"), fullTime(lead.captured_at)),
        row(t("via"), lead.via ? (LABELS.via || {})[lead.via] || lead.via : null),
        row(t("channel"), lead.channel ? channelLabel(channelKindOf(lead.channel)) : null),
      ].concat(touchRows(lead.source, false, false));
      parts.push(h("h4", { text: t("lead_captured") }), list(leadRows));
    }
    if (!parts.length) return null;
    return cardSection(t("attribution"), "sb-attribution", parts);
  }

  function tagColor(color) {
    return typeof color === "string" && /^#[0-9a-fA-F]{6}$/.test(color) ? color : "#64748b";
  }

  function renderTags(cur, card, customer) {
    var tags = Array.isArray(customer.tags) ? customer.tags : [];
    var chips = tags.map(function (tag) {
      var key = "tag:" + tag.id;
      var chip = h(
        "li",
        { class: "sb-tag" },
        h("span", { class: "sb-tag-dot", "aria-hidden": "true" }),
        h("span", { class: "sb-tag-name", text: tag.name }),
        h(
          "button",
          {
            type: "button",
            class: "sb-tag-remove",
            "aria-label": t("remove_tag", { tag: tag.name }),
            title: t("remove_tag", { tag: tag.name }),
            disabled: !!card.pending[key],
            onclick: function () {
              cardChange(cur, key, function () {
                return api(customerUrl(card.customerId, "tags/" + encodeURIComponent(tag.id) + "/"), {
                  method: "DELETE",
                });
              });
            },
          },
          svgIcon("close")
        )
      );
      chip.style.setProperty("--tag-color", tagColor(tag.color));
      return chip;
    });
    var have = {};
    tags.forEach(function (tag) {
      have[String(tag.name).toLowerCase()] = true;
    });
    var options = h(
      "datalist",
      { id: "sb-tag-options" },
      (catalog.tags || [])
        .filter(function (tag) {
          return !have[String(tag.name).toLowerCase()];
        })
        .map(function (tag) {
          return h("option", { value: tag.name });
        })
    );
    var input = draft(
      card,
      "tag",
      h("input", {
        type: "text",
        class: "sb-input",
        list: "sb-tag-options",
        maxlength: "50",
        "aria-label": t("add_tag"),
        placeholder: t("add_tag"),
        autocomplete: "off",
      }),
      ""
    );
    input.addEventListener(
      "focus",
      function () {
        loadTags(true).then(function () {
          var fresh = (catalog.tags || []).filter(function (tag) {
            return !have[String(tag.name).toLowerCase()];
          });
          options.replaceChildren.apply(
            options,
            fresh.map(function (tag) {
              return h("option", { value: tag.name });
            })
          );
        });
      },
      { once: true }
    );
    var form = h(
      "form",
      {
        class: "sb-add-form sb-tag-form",
        onsubmit: function (event) {
          event.preventDefault();
          var name = input.value.trim();
          if (!name) return;
          cardChange(
            cur,
            "tag-add",
            function () {
              return api(customerUrl(card.customerId, "tags/"), { method: "POST", json: { name: name } });
            },
            {
              done: function () {
                delete card.drafts.tag;
                loadTags(true);
              },
            }
          );
        },
      },
      h(
        "div",
        { class: "sb-add-row" },
        input,
        options,
        h("button", { type: "submit", class: "sb-btn sb-btn-sm", text: t("add"), disabled: !!card.pending["tag-add"] })
      ),
      fieldError(card, "tag-add")
    );
    return cardSection(t("tags"), "sb-tags-section", [
      chips.length ? h("ul", { class: "sb-tags" }, chips) : null,
      form,
    ]);
  }

  var fmtDate = (function () {
    try {
      return new Intl.DateTimeFormat(LANG, { dateStyle: "medium", timeZone: "UTC" });
    } catch (error) {
      return null;
    }
  })();

  function attributeDisplay(definition, value) {
    if (value === null || value === undefined || value === "") return h("span", { class: "sb-faint", text: "—" });
    var type = definition ? definition.type : "text";
    if (type === "boolean")
      return h("span", { text: value === true ? t("yes") : value === false ? t("no") : String(value) });
    if (type === "date") {
      var date = /^\d{4}-\d{2}-\d{2}$/.test(String(value)) ? new Date(String(value) + "T00:00:00Z") : null;
      return h("span", { text: date && fmtDate && !isNaN(date.getTime()) ? fmtDate.format(date) : String(value) });
    }
    if (type === "link") {
      var href = safeHttpUrl(String(value));
      if (href)
        return h("a", {
          href: href,
          target: "_blank",
          rel: "noopener noreferrer",
          class: "sb-break",
          text: String(value),
          title: String(value),
        });
    }
    return h("span", { class: "sb-break", text: String(value) });
  }

  function attributeEditor(card, definition, value) {
    var key = "attr:" + definition.key;
    var initial = value === null || value === undefined ? "" : value;
    var attrs = { class: "sb-input", "aria-label": definition.label, name: definition.key };
    var input;
    if (definition.type === "list") {
      var options = Array.isArray(definition.options) ? definition.options : [];
      input = h(
        "select",
        attrs,
        h("option", { value: "", text: "—" }),
        options.map(function (option) {
          return h("option", { value: String(option), text: String(option) });
        })
      );
    } else if (definition.type === "boolean") {
      input = h(
        "select",
        attrs,
        h("option", { value: "", text: "—" }),
        h("option", { value: "true", text: t("yes") }),
        h("option", { value: "false", text: t("no") })
      );
      initial = value === true ? "true" : value === false ? "false" : "";
    } else if (definition.type === "date") {
      input = h("input", Object.assign({ type: "date" }, attrs));
    } else if (definition.type === "number") {
      input = h("input", Object.assign({ type: "text", inputmode: "decimal" }, attrs));
    } else if (definition.type === "link") {
      input = h("input", Object.assign({ type: "url", placeholder: "https://" }, attrs));
    } else {
      input = h("input", Object.assign({ type: "text", maxlength: "1000" }, attrs));
    }
    return draft(card, key, input, initial);
  }

  function attributeValueFrom(definition, input) {
    var raw = input.value;
    if (definition.type === "boolean") return raw === "" ? null : raw === "true";
    raw = raw.trim();
    return raw === "" ? null : raw;
  }

  function renderAttribute(cur, card, customer, definition) {
    var key = "attr:" + definition.key;
    var value = (customer.attributes || {})[definition.key];
    var content;
    if (card.editing === key) {
      var input = attributeEditor(card, definition, value);
      var close = function () {
        card.editing = null;
        delete card.drafts[key];
        delete card.errors[key];
        renderPanel();
      };
      input.addEventListener("keydown", function (event) {
        if (event.key === "Escape") {
          event.stopPropagation();
          close();
        }
      });
      var changes = {};
      content = h(
        "form",
        {
          class: "sb-inline-form sb-attr-form",
          novalidate: true,
          onsubmit: function (event) {
            event.preventDefault();
            changes[definition.key] = attributeValueFrom(definition, input);
            patchCustomer(cur, key, { attributes: changes }, function () {
              card.editing = null;
              delete card.drafts[key];
            });
          },
        },
        input,
        h(
          "div",
          { class: "sb-form-actions" },
          h("button", {
            type: "submit",
            class: "sb-btn sb-btn-sm sb-btn-primary",
            text: t("save"),
            disabled: !!card.pending[key],
          }),
          smallButton(t("cancel"), { onclick: close })
        ),
        fieldError(card, key)
      );
    } else {
      content = h(
        "div",
        { class: "sb-attr-value" },
        attributeDisplay(definition, value),
        iconButton("edit", t("edit_field", { field: definition.label }), function () {
          card.editing = key;
          delete card.drafts[key];
          renderPanel();
          focusDraft(key);
        })
      );
    }
    return h(
      "div",
      { class: "sb-row sb-attr", "data-key": definition.key, "data-type": definition.type },
      h("dt", { text: definition.label, title: definition.description || null }),
      h("dd", null, content)
    );
  }

  function renderProfile(cur, card, customer, ref, zone) {
    var select = h(
      "select",
      {
        class: "sb-input sb-lead-select",
        "aria-label": t("lead_status"),
        disabled: !!card.pending.lead_status,
        onchange: function () {
          patchCustomer(cur, "lead_status", { lead_status: select.value });
        },
      },
      Object.keys(LABELS.lead).map(function (value) {
        return h("option", { value: value, text: LABELS.lead[value], selected: value === customer.lead_status });
      })
    );
    select.value = customer.lead_status || "none";
    var definitions = catalog.attributes || [];
    var defined = {};
    definitions.forEach(function (definition) {
      defined[definition.key] = true;
    });
    var attributes = customer.attributes || {};
    var rows = [
      h(
        "div",
        { class: "sb-row" },
        h("dt", { text: t("lead_status") }),
        h("dd", null, select, fieldError(card, "lead_status"))
      ),
    ]
      .concat(
        definitions.map(function (definition) {
          return renderAttribute(cur, card, customer, definition);
        })
      )
      .concat(
        // Values whose definition was removed: shown, not editable.
        Object.keys(attributes)
          .filter(function (key) {
            return !defined[key];
          })
          .map(function (key) {
            return row(key, attributeDisplay(null, attributes[key]));
          })
      )
      .concat([
        row(t("country"), customer.country),
        row(t("language"), customer.language),
        row(t("time_zone"), zone),
        row(t("first_seen"), fullTime(customer.first_seen_at)),
        row(t("last_seen"), fullTime(customer.last_seen_at)),
      ]);
    return cardSection(t("details"), "sb-profile", list(rows));
  }

  function renderNotes(cur, card) {
    var textarea = draft(
      card,
      "note",
      h("textarea", {
        class: "sb-input sb-note-input",
        rows: "2",
        maxlength: "5000",
        "aria-label": t("add_note"),
        placeholder: t("note_placeholder"),
      }),
      ""
    );
    var form = h(
      "form",
      {
        class: "sb-add-form sb-note-form",
        onsubmit: function (event) {
          event.preventDefault();
          var body = textarea.value.trim();
          if (!body) return;
          cardChange(
            cur,
            "note",
            function () {
              return api(customerUrl(card.customerId, "notes/"), { method: "POST", json: { body: body } });
            },
            {
              reload: ["notes"],
              done: function () {
                delete card.drafts.note;
              },
            }
          );
        },
      },
      textarea,
      h(
        "div",
        { class: "sb-form-actions" },
        h("button", { type: "submit", class: "sb-btn sb-btn-sm", text: t("add_note"), disabled: !!card.pending.note })
      ),
      fieldError(card, "note")
    );
    textarea.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.metaKey || event.ctrlKey)) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    var notes = card.notes === false ? null : card.notes || [];
    var items = (notes || []).map(function (note) {
      var key = "note:" + note.id;
      var own = note.author && note.author.id === ME.id;
      return h(
        "li",
        { class: "sb-note-item", "data-id": note.id },
        h("p", { class: "sb-note-body", text: note.body }),
        h(
          "p",
          { class: "sb-note-meta" },
          h("span", { text: note.author ? (own ? t("you") : note.author.name) : t("system") }),
          " · ",
          timeElement(note.created_at, "sb-note-time", relativeTime(note.created_at)),
          own
            ? h("button", {
                type: "button",
                class: "sb-link-btn sb-note-delete",
                text: t("delete"),
                disabled: !!card.pending[key],
                onclick: function () {
                  confirmDialog({
                    title: t("delete_note_title"),
                    body: note.body.length > 160 ? note.body.slice(0, 160) + "…" : note.body,
                    confirm: t("delete"),
                    danger: true,
                  }).then(function (yes) {
                    if (!yes) return;
                    cardChange(
                      cur,
                      key,
                      function () {
                        return api(customerUrl(card.customerId, "notes/" + encodeURIComponent(note.id) + "/"), {
                          method: "DELETE",
                        });
                      },
                      { reload: ["notes"] }
                    );
                  });
                },
              })
            : null
        ),
        fieldError(card, key)
      );
    });
    return cardSection(t("notes"), "sb-notes", [
      form,
      notes === null ? h("p", { class: "sb-muted", text: t("card_part_error") }) : null,
      items.length ? h("ul", { class: "sb-note-list" }, items) : null,
    ]);
  }

  function searchCustomers(cur, card, q) {
    var search = card.search;
    clearTimeout(search.timer);
    q = q.trim();
    if (!q) {
      search.results = null;
      search.loading = false;
      search.error = null;
      renderPanel();
      return;
    }
    search.timer = setTimeout(function () {
      var token = ++search.token;
      search.loading = true;
      api(API_ROOT + "customers/?q=" + encodeURIComponent(q)).then(
        function (answer) {
          if (cur.card !== card || token !== search.token) return;
          search.loading = false;
          search.error = null;
          search.results = itemsOf(answer).filter(function (customer) {
            return String(customer.id) !== card.customerId;
          });
          renderPanel();
        },
        function (error) {
          if (cur.card !== card || token !== search.token) return;
          search.loading = false;
          search.error = apiErrorText(error) || t("change_failed");
          renderPanel();
        }
      );
    }, SEARCH_DELAY_MS);
  }

  function renderMerges(cur, card, customer) {
    var here = customer.name || t("customer");
    var parts = [];
    if (card.merging) {
      var input = draft(
        card,
        "merge-q",
        h("input", {
          type: "search",
          class: "sb-input",
          "aria-label": t("merge_search"),
          placeholder: t("merge_search"),
          autocomplete: "off",
        }),
        ""
      );
      input.addEventListener("input", function () {
        searchCustomers(cur, card, input.value);
      });
      input.addEventListener("keydown", function (event) {
        if (event.key === "Escape") {
          event.stopPropagation();
          card.merging = false;
          delete card.drafts["merge-q"];
          card.search.results = null;
          renderPanel();
        }
      });
      var results = card.search.results;
      var resultList = null;
      if (results && results.length) {
        resultList = h(
          "ul",
          { class: "sb-search-results" },
          results.map(function (other) {
            var otherName = other.name || t("customer");
            var hint = (other.identities || [])
              .slice(0, 2)
              .map(function (identity) {
                return identity.value;
              })
              .join(", ");
            return h(
              "li",
              null,
              h(
                "button",
                {
                  type: "button",
                  class: "sb-search-result",
                  "data-id": other.id,
                  onclick: function () {
                    mergeChange(cur, "merge", {
                      dialog: {
                        title: t("merge_title", { a: otherName, b: here }),
                        body: [t("merge_into_explain", { other: otherName, customer: here }), t("merge_undo_note")],
                        confirm: t("merge"),
                      },
                      url: customerUrl(card.customerId, "merge/"),
                      json: { other: other.id },
                      flash: t("merged_flash", { name: otherName }),
                      done: function () {
                        card.merging = false;
                        delete card.drafts["merge-q"];
                        card.search.results = null;
                      },
                    });
                  },
                },
                avatar(otherName, other.id),
                h(
                  "span",
                  { class: "sb-search-text" },
                  h("span", { class: "sb-search-name", text: otherName }),
                  hint ? h("span", { class: "sb-search-hint", text: hint }) : null
                )
              )
            );
          })
        );
      } else if (results) {
        resultList = h("p", { class: "sb-muted", text: t("no_customers_found") });
      }
      parts.push(
        h(
          "div",
          { class: "sb-merge-search" },
          h(
            "div",
            { class: "sb-add-row" },
            input,
            smallButton(t("cancel"), {
              onclick: function () {
                card.merging = false;
                delete card.drafts["merge-q"];
                card.search.results = null;
                renderPanel();
              },
            })
          ),
          card.search.loading ? h("p", { class: "sb-muted", text: t("loading") }) : null,
          card.search.error ? h("p", { class: "sb-field-error", role: "alert", text: card.search.error }) : null,
          resultList,
          fieldError(card, "merge")
        )
      );
    }
    var records = Array.isArray(customer.merges) ? customer.merges : [];
    if (records.length) {
      parts.push(
        h(
          "ul",
          { class: "sb-merge-list" },
          records.map(function (record) {
            var key = "undo:" + record.id;
            var by =
              record.automatic && !record.actor
                ? t("automatically")
                : t("by", { name: actorName(record.actor, record.automatic) });
            return h(
              "li",
              { class: "sb-merge-item" + (record.undone_at ? " is-undone" : ""), "data-id": record.id },
              h(
                "p",
                null,
                fill(t("merge_record"), {
                  merged: h("strong", { text: personName(record.merged) || t("customer") }),
                  survivor: h("strong", { text: personName(record.survivor) || t("customer") }),
                })
              ),
              h(
                "p",
                { class: "sb-merge-meta" },
                by,
                " · ",
                timeElement(record.created_at, "", fullTime(record.created_at))
              ),
              record.evidence && evidenceText(record.evidence)
                ? h("p", { class: "sb-merge-meta", text: evidenceText(record.evidence) })
                : null,
              record.undone_at
                ? h("p", { class: "sb-merge-meta", text: t("undone_at", { time: fullTime(record.undone_at) }) })
                : smallButton(t("undo_merge"), {
                    class: "sb-btn sb-btn-sm sb-undo-merge",
                    disabled: !!card.pending[key],
                    onclick: function () {
                      var mergedName = personName(record.merged) || t("customer");
                      mergeChange(cur, key, {
                        dialog: {
                          title: t("undo_merge_title"),
                          body: [
                            t("undo_merge_explain", {
                              merged: mergedName,
                              survivor: personName(record.survivor) || here,
                            }),
                          ],
                          confirm: t("undo_merge"),
                          danger: true,
                        },
                        url: API_ROOT + "customer-merges/" + encodeURIComponent(record.id) + "/undo/",
                        flash: t("split_flash", { name: mergedName }),
                      });
                    },
                  }),
              fieldError(card, key)
            );
          })
        )
      );
    }
    var tools = card.merging
      ? null
      : h("button", {
          type: "button",
          class: "sb-link-btn sb-merge-with",
          text: t("merge_with"),
          onclick: function () {
            card.merging = true;
            renderPanel();
            focusDraft("merge-q");
          },
        });
    return cardSection(t("merges"), "sb-merges", parts, tools);
  }

  // --- History

  function loadHistory(cur, fresh, quiet) {
    var card = cur.card;
    if (!card) return Promise.resolve();
    var history = card.history;
    if (!history || fresh) {
      // A new object: an answer still on its way for the old one is then ignored.
      history = card.history = {
        items: history ? history.items : [],
        next: history && !fresh ? history.next : null,
        loaded: history ? history.loaded : false,
        loading: false,
        error: null,
        token: 0,
      };
    }
    var token = ++history.token;
    var url = customerUrl(card.customerId, "history/");
    var cursor = !fresh && history.next ? cursorOf(history.next) : null;
    if (cursor) url += "?cursor=" + encodeURIComponent(cursor);
    history.loading = true;
    if (!quiet) renderPanel();
    return api(url).then(
      function (page) {
        if (cur.card !== card || card.history !== history || token !== history.token) return;
        var items = itemsOf(page);
        history.items = fresh ? items : history.items.concat(items);
        history.next = page && page.next ? page.next : null;
        history.loading = false;
        history.error = null;
        history.loaded = true;
        renderPanel();
      },
      function (error) {
        if (cur.card !== card || card.history !== history || token !== history.token) return;
        history.loading = false;
        history.error = apiErrorText(error) || t("card_part_error");
        renderPanel();
      }
    );
  }

  function formatChangeValue(value, field) {
    if (value === null || value === undefined || value === "") return "—";
    if (field === "lead_status") return LABELS.lead[value] || String(value);
    if (typeof value === "boolean") return value ? t("yes") : t("no");
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  function fieldLabel(field) {
    if (!field) return "";
    if (field.indexOf("attributes.") === 0) {
      var key = field.slice("attributes.".length);
      var definition = (catalog.attributes || []).filter(function (d) {
        return d.key === key;
      })[0];
      return definition ? definition.label : key;
    }
    var labels = {
      display_name: t("display_name"),
      lead_status: t("lead_status"),
      country: t("country"),
      language: t("language"),
      timezone: t("time_zone"),
      is_blocked: t("blocked"),
    };
    return labels[field] || field;
  }

  function changeSummary(change) {
    var data = change.data || {};
    switch (change.action) {
      case "updated":
        return (
          fieldLabel(data.field) +
          ": " +
          formatChangeValue(data.old, data.field) +
          " → " +
          formatChangeValue(data.new, data.field)
        );
      case "merge_conflict":
        return (
          fieldLabel(data.field) +
          ": " +
          formatChangeValue(data.kept, data.field) +
          " (" +
          t("replaced", { value: formatChangeValue(data.replaced, data.field) }) +
          ")"
        );
      case "identity_added":
      case "identity_removed":
      case "identity_verified":
        return (LABELS.identity[data.kind] || data.kind || "") + " " + (data.value || "");
      case "tag_added":
      case "tag_removed":
        return data.tag || "";
      case "note_deleted":
        return data.text || "";
      case "merged":
        return data.merged_name || "";
      case "lead_captured":
        return data.via ? (LABELS.via || {})[data.via] || data.via : "";
      case "created":
        return data.channel ? channelLabel(data.channel) : "";
      default:
        return "";
    }
  }

  function renderHistory(cur, card) {
    var history = card.history;
    var body = [];
    if (history && history.items.length) {
      body.push(
        h(
          "ol",
          { class: "sb-history-list" },
          history.items.map(function (change) {
            var summary = changeSummary(change);
            return h(
              "li",
              { class: "sb-history-item", "data-action": change.action },
              h(
                "p",
                { class: "sb-history-what" },
                h("strong", { text: change.action_label || change.action }),
                summary ? h("span", { class: "sb-break", text: " " + summary }) : null
              ),
              h(
                "p",
                { class: "sb-history-meta" },
                actorName(change.actor, false),
                " · ",
                timeElement(change.created_at, "", fullTime(change.created_at))
              )
            );
          })
        )
      );
    } else if (history && history.loaded && !history.loading) {
      body.push(h("p", { class: "sb-muted", text: t("no_history") }));
    }
    if (history && history.loading) body.push(h("p", { class: "sb-muted", text: t("loading") }));
    if (history && history.error) body.push(h("p", { class: "sb-field-error", role: "alert", text: history.error }));
    if (history && history.next && !history.loading) {
      body.push(
        smallButton(t("load_more"), {
          onclick: function () {
            loadHistory(cur, false);
          },
        })
      );
    }
    var details = h(
      "details",
      { class: "sb-panel-section sb-history", open: card.historyOpen },
      h("summary", null, h("h3", { text: t("history") })),
      body
    );
    details.addEventListener("toggle", function () {
      if (card.historyOpen === details.open) return;
      card.historyOpen = details.open;
      if (details.open && (!card.history || !card.history.loaded)) loadHistory(cur, true);
    });
    return details;
  }

  // --- The panel

  function focusDraft(key) {
    var element = el.panelBody.querySelector('[data-draft="' + key + '"]');
    if (element) element.focus();
  }

  function renderPanel() {
    var cur = state.cur;
    if (!cur || !cur.detail) return;
    var detail = cur.detail;
    var ref = detail.customer || {};
    var source = detail.source || {};
    var card = cardFor(cur);
    var customer = card && card.customer;
    var fallbackIdentities = Array.isArray(ref.identities) ? ref.identities : [];
    var context = null;
    fallbackIdentities.forEach(function (identity) {
      if (identity.details && identity.details.context) context = identity.details.context;
    });
    var zone =
      (customer && customer.timezone) || ref.timezone || source.timezone || (context && context.timezone) || "";

    // Keep what the agent is doing: the focused input and the scroll position.
    var active = document.activeElement;
    var focusKey = active && el.panelBody.contains(active) && active.dataset ? active.dataset.draft : null;
    var selection = null;
    if (focusKey && typeof active.selectionStart === "number") {
      try {
        selection = [active.selectionStart, active.selectionEnd];
      } catch (error) {
        selection = null;
      }
    }
    var scrollTop = el.panel.scrollTop;

    var reported = [];
    fallbackIdentities.forEach(function (identity) {
      var details = identity.details || {};
      if (details.user && Object.keys(details.user).length) {
        reported.push(section(t("website_user"), [reportedList(details.user)], t("not_verified")));
      }
      if (details.prechat && Object.keys(details.prechat).length) {
        reported.push(section(t("prechat"), [reportedList(details.prechat)], t("not_verified")));
      }
    });

    var ua = source.user_agent || (context && context.user_agent) || "";
    var utm = ["utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term"].map(function (key) {
      return row(key, source[key]);
    });
    var visit = section(t("visit"), [
      list(
        [
          row(t("channel"), source.channel ? channelLabel(source.channel) : null),
          row(t("page"), linkOrText(source.page_url)),
          row(t("page_title"), source.page_title),
          row(t("referrer"), linkOrText(source.referrer)),
        ]
          .concat(utm)
          .concat([
            ua ? row(t("device"), summariseUserAgent(ua), { title: ua }) : null,
            row(t("language"), source.language || ref.language),
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

    var sections = [renderHead(cur, card || newCard(""), customer, ref, zone)];
    if (card && card.flash) sections.push(h("p", { class: "sb-flash", role: "status", text: card.flash }));
    if (card && card.error && !customer) {
      sections.push(
        h(
          "p",
          { class: "sb-card-error sb-pad", role: "alert" },
          t("card_error"),
          " ",
          h("button", {
            type: "button",
            class: "sb-link-btn",
            text: t("retry"),
            onclick: function () {
              loadCard(cur);
              renderPanel();
            },
          })
        )
      );
    } else if (!customer) {
      sections.push(h("p", { class: "sb-muted sb-pad sb-card-loading", text: t("loading") }));
    }
    if (customer) {
      sections.push(renderSuggestions(cur, card, customer));
      sections.push(renderIdentities(cur, card, customer, fallbackIdentities));
      sections = sections.concat(reported);
      sections.push(renderConversations(cur, card));
      sections.push(renderTags(cur, card, customer));
      sections.push(renderProfile(cur, card, customer, ref, zone));
      sections.push(renderNotes(cur, card));
      sections.push(visit, latest);
      sections.push(renderAttribution(customer));
      sections.push(renderMerges(cur, card, customer));
      sections.push(renderHistory(cur, card));
    } else {
      sections.push(renderIdentities(cur, card || newCard(""), null, fallbackIdentities));
      sections = sections.concat(reported);
      sections.push(visit, latest);
    }
    sections = sections.filter(Boolean);
    el.panelBody.replaceChildren.apply(el.panelBody, sections);
    el.panelBody.dataset.customer = customer ? String(customer.id) : "";
    el.panel.scrollTop = scrollTop;
    if (focusKey) {
      var again = el.panelBody.querySelector('[data-draft="' + focusKey + '"]');
      if (again) {
        again.focus({ preventScroll: true });
        if (selection) {
          try {
            again.setSelectionRange(selection[0], selection[1]);
          } catch (error) {
            /* not a text input */
          }
        }
      }
    }
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
    Promise.all([loadList(), catchUp(), refreshDetail(), refreshMessageStates(), refreshReplyOptions()]).then(function (results) {
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
      case "message.updated":
        if (event.conversation && event.message) onMessageUpdated(event.conversation, event.message);
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
      case "conversation.removed":
        if (event.conversation) onConversationRemoved(event.conversation);
        break;
      default:
        break;
    }
    emit("event", event);
  }

  /** A group this console listens to lost the conversation (transferred, assigned away).
   * A hint: the agent may still see it another way, so the API decides. */
  function onConversationRemoved(id) {
    api(conversationUrl(id))
      .then(function (conversation) { upsertConversation(conversation); })
      .catch(function (error) { if (error.status === 404) dropConversation(id); });
  }

  /** Out of this agent's sight now: the row goes, and an open conversation closes with a
   * word why. */
  function dropConversation(id) {
    state.latest.delete(id);
    state.touched.set(id, ++state.clock);
    cardConversationChanged({ id: id }, true);
    if (state.list.has(id)) {
      state.list.delete(id);
      var row = state.rows.get(id);
      if (row) row.remove();
      state.rows.delete(id);
      updateListEmpty();
      updateTitle();
    }
    if (state.cur && state.cur.id === id) {
      closeConversation();
      showBanner(t("conversation_moved"), "info");
      setTimeout(hideBanner, 6000);
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

  // The composer grows (a longer text, the channel's rules): the newest messages stay in view.
  if (window.ResizeObserver) {
    new ResizeObserver(function () {
      if (state.cur && state.cur.stick) el.scroll.scrollTop = el.scroll.scrollHeight;
    }).observe(el.scroll);
  }

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

  function sendComposed() {
    sendText(null, compose);
  }

  el.form.addEventListener("submit", function (event) {
    event.preventDefault();
    sendComposed();
  });

  el.composer.addEventListener("keydown", function (event) {
    if (event.defaultPrevented) return; // a tool's suggestion list took the key
    if (event.key === "Enter" && !event.shiftKey && !event.altKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      sendComposed();
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
  setInterval(tickReplyWindow, REPLY_WINDOW_TICK_MS);

  // What the tools in their own files may use (see "Extensions" above).
  var shared = {
    config: config,
    me: ME,
    labels: LABELS,
    state: state,
    socket: socket,
    el: el,
    root: root,
    on: on,
    listFilters: listFilters,
    compose: compose,
    shortcuts: shortcuts,
    staffLists: staffLists,
    isEditable: isEditable,
    formatter: formatter,
    zone: {
      name: TZ,
      parts: zoneParts,
      date: zoneDate,
      dayKey: dayKey,
      inputValue: zoneInputValue,
      inputDate: zoneInputDate,
    },
    snoozeChoices: snoozeChoices,
    t: t,
    h: h,
    api: api,
    apiErrorText: apiErrorText,
    conversationUrl: conversationUrl,
    parseDate: parseDate,
    fullTime: fullTime,
    relativeTime: relativeTime,
    untilText: untilText,
    timeElement: timeElement,
    excerpt: excerpt,
    avatar: avatar,
    confirmDialog: confirmDialog,
    readStore: readStore,
    writeStore: writeStore,
    showBanner: showBanner,
    hideBanner: hideBanner,
    showComposerError: showComposerError,
    hideComposerError: hideComposerError,
    autosize: autosize,
    sendText: sendText,
    openConversation: openConversation,
    closeConversation: closeConversation,
    upsertConversation: upsertConversation,
    reloadList: function () { setView(state.view); },
    refreshRow: refreshRow,
    renderHeader: renderHeader,
    rerenderMessage: rerenderMessage,
    customerName: customerName,
  };
  window.SwitchboardConsole = {
    state: state,
    socket: socket,
    extend: function (tool) { tool(shared); },
  };

  // --- Start ---------------------------------------------------------------------------
  // After the tools' scripts (deferred like this one, so run before DOMContentLoaded).

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else setTimeout(start);

  function start() {
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
    emit("start");
  }
})();
