/* Switchboard console: the conversation list's tools (see list_tools.css).
 *
 * - Search (GET /api/v1/search/: messages, notes and customers, Chinese included) whose
 *   results replace the rows while a text is searched; filters (status, channel, inbox,
 *   team, assignee, tag, priority, dates, unread) that narrow the list itself: added to
 *   the list request (`list-query`) and checked on every live push (`listFilters`).
 * - Saved views (GET/POST/DELETE /api/v1/saved-views/): the filters and the text under a
 *   name; the chosen one is remembered in localStorage.
 * - Bulk selection (a checkbox per row, shift-click for a range, select all shown) and
 *   bulk actions (POST /api/v1/conversations/bulk/), with each failure reported.
 * - What a row shows: priority, the nearest SLA due time (refreshed every 30 s without a
 *   fetch), tags, the status, snoozed until, waiting in the queue, claimed by.
 * - Keys: / search, j/k next/previous, x select, Escape clear.
 *
 * Text is text: everything from the server reaches the page through textContent or an
 * attribute; search matches are highlighted by splitting text into text nodes.
 */
(function () {
  "use strict";
  if (!window.SwitchboardConsole) return;

  window.SwitchboardConsole.extend(function (c) {
    var h = c.h;
    var t = c.t;
    var ME = c.me || {};
    var LABELS = c.labels || {};
    var API = (c.config.urls && c.config.urls.api) || "/api/v1/";
    var TZ = c.zone.name;
    var LANG = document.documentElement.lang || navigator.language || "en";
    var SEE_ALL = ME.role === "admin" || ME.role === "supervisor";

    var STORE_VIEW = "switchboard.console.list.savedView";
    var LIST_KEYS = ["status", "channel", "inbox", "team", "tag", "priority"];
    var DATE_KEYS = ["created_from", "created_to", "last_message_from", "last_message_to"];
    var STATUSES = ["open", "pending", "snoozed", "resolved"];
    var PRIORITIES = ["0", "1", "2", "3"];
    var SLA_FIELDS = [
      ["first_response_due_at", "lt_sla_first_response"],
      ["next_response_due_at", "lt_sla_next_response"],
      ["resolution_due_at", "lt_sla_resolution"],
    ];
    var SOON_MS = 15 * 60 * 1000;
    var TICK_MS = 30000;
    var SEARCH_DELAY_MS = 250;
    var MAX_ROW_TAGS = 3;
    var BULK_MAX = 200; // ids the bulk API takes at once (inbox.services.workflow.BULK_MAX)
    var REFRESH_ONE_BY_ONE = 25; // after a bulk action: more than this reloads the list

    // --- State ---------------------------------------------------------------------------

    var filters = emptyFilters();
    var query = ""; // the search text (results shown while it is not empty)
    var savedViews = null; // [{id, name, filters}] once loaded
    var activeView = null; // {id, name, filters} applied and not changed since
    var selected = new Set();
    var anchorId = null; // the last row (un)selected by a click, for shift-click ranges
    var busy = false; // a bulk action is on its way
    var options = { agents: null, teams: null, tags: null, loading: null };
    var inboxes = new Map(); // id (string) -> name: the inboxes I work in, and any seen on a row
    var search = { token: 0, next: null, results: new Map(), loading: false, error: "", timer: 0 };
    var reloadTimer = 0;
    var noticeTimer = 0;
    var popover = null; // {name, element, button}

    // --- Small helpers -------------------------------------------------------------------

    var fmtClock = c.formatter({ hour: "2-digit", minute: "2-digit" });
    var fmtDayClock = c.formatter({ weekday: "short", hour: "2-digit", minute: "2-digit" });
    var fmtDateClock = c.formatter({ month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
    var zoneDayKey = c.zone.dayKey;

    function parseDate(value) {
      return c.parseDate(value);
    }

    /** "12 min", "3 h", "2 d": a length of time, rounded. */
    function span(ms) {
      var minutes = Math.max(1, Math.round(Math.abs(ms) / 60000));
      if (minutes < 60) return t("lt_minutes", { n: minutes });
      var hours = Math.round(minutes / 60);
      if (hours < 48) return t("lt_hours", { n: hours });
      return t("lt_days", { n: Math.round(hours / 24) });
    }

    /** A moment, short: the time today, a weekday within a week, else a date. */
    function shortMoment(date) {
      var ms = date.getTime() - Date.now();
      if (zoneDayKey(date) === zoneDayKey(new Date())) return fmtClock.format(date);
      if (Math.abs(ms) < 6 * 864e5) return fmtDayClock.format(date);
      return fmtDateClock.format(date);
    }

    function icon(path, className) {
      var svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
      svg.setAttribute("viewBox", "0 0 24 24");
      svg.setAttribute("aria-hidden", "true");
      if (className) svg.setAttribute("class", className);
      var shape = document.createElementNS("http://www.w3.org/2000/svg", "path");
      shape.setAttribute("d", path);
      svg.appendChild(shape);
      return svg;
    }

    var ICONS = {
      search: "M9.5 3a6.5 6.5 0 0 1 5.16 10.45l5.45 5.44-1.42 1.42-5.44-5.45A6.5 6.5 0 1 1 9.5 3Zm0 2a4.5 4.5 0 1 0 0 9 4.5 4.5 0 0 0 0-9Z",
      close: "M19 6.4 17.6 5 12 10.6 6.4 5 5 6.4 10.6 12 5 17.6 6.4 19 12 13.4 17.6 19 19 17.6 13.4 12z",
      filter: "M3 5h18v2l-7 7v5l-4 2v-7L3 7V5Z",
      views: "M6 3h12a1 1 0 0 1 1 1v17l-7-4-7 4V4a1 1 0 0 1 1-1Z",
      lock: "M12 2a5 5 0 0 1 5 5v3h1a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2H6a2 2 0 0 1-2-2v-8a2 2 0 0 1 2-2h1V7a5 5 0 0 1 5-5Zm0 2a3 3 0 0 0-3 3v3h6V7a3 3 0 0 0-3-3Z",
      trash: "M9 3h6l1 2h4v2H4V5h4l1-2Zm-3 6h12l-1 12H7L6 9Z",
      check: "M9 16.2 4.8 12l-1.4 1.4L9 19 21 7l-1.4-1.4L9 16.2Z",
    };

    function emptyFilters() {
      return {
        status: [],
        channel: [],
        inbox: [],
        team: [],
        tag: [],
        priority: [],
        assignee: "",
        created_from: "",
        created_to: "",
        last_message_from: "",
        last_message_to: "",
        unread: false,
      };
    }

    function splitList(value) {
      if (Array.isArray(value)) return value.map(String).filter(Boolean);
      if (value === null || value === undefined || value === "") return [];
      return String(value)
        .split(",")
        .map(function (part) { return part.trim(); })
        .filter(Boolean);
    }

    /** Filters (and the search text) from a saved view's `filters` object. */
    function fromSaved(saved) {
      var result = emptyFilters();
      saved = saved || {};
      LIST_KEYS.forEach(function (key) { result[key] = splitList(saved[key]); });
      result.priority = result.priority.map(priorityKey).filter(Boolean);
      result.assignee = saved.assignee !== undefined && saved.assignee !== null ? String(saved.assignee) : "";
      DATE_KEYS.forEach(function (key) { result[key] = saved[key] ? String(saved[key]) : ""; });
      result.unread = saved.unread === true || saved.unread === "true" || saved.unread === "1";
      return { filters: result, q: saved.q ? String(saved.q) : "" };
    }

    function priorityKey(value) {
      var text = String(value).toLowerCase();
      var names = { low: "0", normal: "1", high: "2", urgent: "3" };
      if (names[text]) return names[text];
      return PRIORITIES.indexOf(text) >= 0 ? text : "";
    }

    /** The filters as query parameters / a saved view's `filters` (only those set). */
    function toParams(f, q) {
      var out = {};
      LIST_KEYS.forEach(function (key) {
        if (f[key].length) out[key] = f[key].join(",");
      });
      if (f.assignee) out.assignee = f.assignee;
      DATE_KEYS.forEach(function (key) {
        if (f[key]) out[key] = f[key];
      });
      if (f.unread) out.unread = "true";
      if (q) out.q = q;
      return out;
    }

    function sameParams(a, b) {
      var ka = Object.keys(a).sort();
      var kb = Object.keys(b).sort();
      return ka.join("|") === kb.join("|") && ka.every(function (key) { return String(a[key]) === String(b[key]); });
    }

    function filtersActive() {
      return Object.keys(toParams(filters, "")).length > 0;
    }

    function tagKey(name) {
      return String(name || "").toLocaleLowerCase();
    }

    function isOpen(id) {
      return !!c.state.cur && c.state.cur.id === id;
    }

    // --- Filtering the list: a predicate every listed conversation must pass -------------

    function teamNames(ids) {
      if (!options.teams) return null;
      var names = [];
      ids.forEach(function (id) {
        var team = options.teams.find(function (candidate) { return String(candidate.id) === String(id); });
        if (team) names.push(team.name);
      });
      return names;
    }

    function passes(conversation) {
      var f = filters;
      if (f.status.length && f.status.indexOf(conversation.status) < 0) return false;
      if (f.priority.length && f.priority.indexOf(String(conversation.priority)) < 0) return false;
      var inbox = conversation.inbox || {};
      if (f.inbox.length && f.inbox.indexOf(String(inbox.id)) < 0) return false;
      if (f.channel.length && inbox.channel && f.channel.indexOf(inbox.channel) < 0) return false;
      if (f.team.length) {
        var names = teamNames(f.team); // null while the teams are not loaded: the server decided
        if (names && names.indexOf(conversation.team) < 0) return false;
      }
      if (f.assignee) {
        var assignee = conversation.assignee;
        if (f.assignee === "me" && !(assignee && assignee.id === ME.id)) return false;
        if (f.assignee === "none" && assignee) return false;
        if (/^\d+$/.test(f.assignee) && !(assignee && String(assignee.id) === f.assignee)) return false;
      }
      if (f.tag.length) {
        var wanted = f.tag.map(tagKey);
        var has = (conversation.tags || []).some(function (name) { return wanted.indexOf(tagKey(name)) >= 0; });
        if (!has) return false;
      }
      // The open conversation stays while it is read (it would leave the moment it opens).
      if (f.unread && !(conversation.unread_count > 0) && !isOpen(conversation.id)) return false;
      if (!inRange(conversation.created_at, f.created_from, f.created_to)) return false;
      if ((f.last_message_from || f.last_message_to) && !inRange(conversation.last_message_at, f.last_message_from, f.last_message_to)) {
        return false;
      }
      return true;
    }

    /** Dates are days in the console's time zone ("to" includes its day), as the API reads them. */
    function inRange(value, from, to) {
      if (!from && !to) return true;
      var date = parseDate(value);
      if (!date) return false;
      var key = zoneDayKey(date);
      if (from && key < from) return false;
      if (to && key > to) return false;
      return true;
    }

    c.listFilters.push(passes);

    c.on("list-query", function (params) {
      var extra = toParams(filters, "");
      Object.keys(extra).forEach(function (key) { params.set(key, extra[key]); });
    });

    function reloadSoon() {
      // The selection goes with the filters that made it, at once: a row ticked while the
      // reload waits belongs to the new list.
      clearSelection();
      clearTimeout(reloadTimer);
      reloadTimer = setTimeout(c.reloadList, 120);
    }

    // --- Options for the pickers: agents, teams, tags, inboxes ---------------------------

    function loadOptions() {
      if (options.loading) return options.loading;
      var get = function (path) {
        return c.api(API + path).catch(function () { return null; });
      };
      var staff = c.staffLists().catch(function () { return { agents: [], teams: [] }; });
      options.loading = Promise.all([staff, get("tags/"), get("inboxes/")]).then(function (answers) {
        options.agents = answers[0].agents;
        options.teams = answers[0].teams;
        options.tags = Array.isArray(answers[1]) ? answers[1] : answers[1] && answers[1].results ? answers[1].results : [];
        (Array.isArray(answers[2]) ? answers[2] : []).forEach(function (inbox) { learnInbox({ inbox: inbox }); });
        renderChips();
        refreshAllRows();
        if (popover) popover.render();
      });
      return options.loading;
    }

    function learnInbox(conversation) {
      var inbox = conversation && conversation.inbox;
      if (!inbox || inbox.id === undefined || inbox.id === null) return;
      var id = String(inbox.id);
      if (inboxes.get(id) !== inbox.name) {
        inboxes.set(id, inbox.name || "");
        if (filters.inbox.indexOf(id) >= 0) renderChipsSoon();
      }
    }

    function agentName(id) {
      if (String(id) === String(ME.id)) return t("lt_me");
      var agent = (options.agents || []).find(function (a) { return String(a.id) === String(id); });
      return agent ? agent.name : t("lt_agent_number", { id: id });
    }

    function teamName(id) {
      var team = (options.teams || []).find(function (candidate) { return String(candidate.id) === String(id); });
      return team ? team.name : t("lt_team_number", { id: id });
    }

    function inboxName(id) {
      return inboxes.get(String(id)) || t("lt_inbox_number", { id: id });
    }

    function channelName(kind) {
      return (LABELS.channel && LABELS.channel[kind]) || kind;
    }

    function tagColor(name) {
      var tag = (options.tags || []).find(function (candidate) { return tagKey(candidate.name) === tagKey(name); });
      return tag && /^#[0-9a-fA-F]{3,8}$/.test(tag.color || "") ? tag.color : null;
    }

    // --- The toolbar ---------------------------------------------------------------------

    var host = document.getElementById("list-tools");
    if (!host) return;
    host.classList.add("lt-host");

    var searchInput = h("input", {
      type: "search",
      class: "lt-search-input",
      placeholder: t("lt_search_placeholder"),
      "aria-label": t("lt_search_label"),
      title: t("lt_search_label") + " (/)",
      "aria-keyshortcuts": "/",
      autocomplete: "off",
      spellcheck: "false",
      maxlength: "200",
    });
    var searchClear = h(
      "button",
      { type: "button", class: "lt-search-clear", "aria-label": t("lt_search_clear"), title: t("lt_search_clear"), hidden: true },
      icon(ICONS.close)
    );
    var filterButton = h(
      "button",
      {
        type: "button",
        class: "sb-icon-btn lt-tool-btn lt-filter-btn",
        "aria-label": t("lt_filters"),
        title: t("lt_filters"),
        "aria-haspopup": "dialog",
        "aria-expanded": "false",
      },
      icon(ICONS.filter),
      h("span", { class: "lt-count", hidden: true })
    );
    var viewsButton = h(
      "button",
      {
        type: "button",
        class: "sb-icon-btn lt-tool-btn lt-views-btn",
        "aria-label": t("lt_views"),
        title: t("lt_views"),
        "aria-haspopup": "menu",
        "aria-expanded": "false",
      },
      icon(ICONS.views)
    );
    var bar = h(
      "div",
      { class: "lt-bar" },
      h("div", { class: "lt-search", role: "search" }, icon(ICONS.search, "lt-search-icon"), searchInput, searchClear),
      filterButton,
      viewsButton
    );

    var selectAll = h("input", { type: "checkbox", class: "lt-select-all", "aria-label": t("lt_select_all") });
    var selectedCount = h("span", { class: "lt-selected-count", "aria-live": "polite" });
    var bulkButtons = {
      assign: h("button", { type: "button", class: "sb-btn sb-btn-sm lt-bulk-assign", text: t("lt_assign"), "aria-haspopup": "dialog", "aria-expanded": "false" }),
      tag: h("button", { type: "button", class: "sb-btn sb-btn-sm lt-bulk-tag", text: t("lt_tag"), "aria-haspopup": "dialog", "aria-expanded": "false" }),
      resolve: h("button", { type: "button", class: "sb-btn sb-btn-sm lt-bulk-resolve", text: t("lt_resolve") }),
      snooze: h("button", { type: "button", class: "sb-btn sb-btn-sm lt-bulk-snooze", text: t("lt_snooze"), "aria-haspopup": "dialog", "aria-expanded": "false" }),
    };
    var bulkClear = h(
      "button",
      { type: "button", class: "sb-icon-btn lt-bulk-clear", "aria-label": t("lt_clear_selection"), title: t("lt_clear_selection") + " (Esc)" },
      icon(ICONS.close)
    );
    var bulkBar = h(
      "div",
      { class: "lt-bulk", role: "toolbar", "aria-label": t("lt_bulk_label"), hidden: true },
      h("div", { class: "lt-bulk-head" }, h("label", { class: "lt-select-all-label" }, selectAll, selectedCount), bulkClear),
      h("div", { class: "lt-bulk-actions" }, bulkButtons.assign, bulkButtons.tag, bulkButtons.resolve, bulkButtons.snooze)
    );

    var chips = h("div", { class: "lt-chips", hidden: true });
    var notice = h("div", { class: "lt-notice", role: "status", "aria-live": "polite", hidden: true });
    var noMatch = h(
      "p",
      { class: "lt-no-match", hidden: true },
      h("span", { text: t("lt_no_match") }),
      " ",
      h("button", { type: "button", class: "sb-link-btn", text: t("lt_clear_filters"), onclick: function () { clearFilters(); } })
    );
    var resultsHead = h("div", { class: "lt-results-head" });
    var resultsList = h("ul", { class: "lt-results-list", "aria-label": t("lt_results") });
    var resultsMore = h("button", { type: "button", class: "sb-btn sb-btn-sm lt-results-more", text: t("lt_more_results"), hidden: true });
    var resultsState = h("p", { class: "lt-results-state", hidden: true });
    var results = h(
      "section",
      { class: "lt-results", "aria-label": t("lt_results"), hidden: true },
      resultsHead,
      h("div", { class: "lt-results-scroll" }, resultsList, resultsState, resultsMore)
    );
    host.replaceChildren(bar, bulkBar, chips, notice, noMatch, results);

    // --- Chips: the active filters, each removable ----------------------------------------

    var chipsTimer = 0;
    function renderChipsSoon() {
      clearTimeout(chipsTimer);
      chipsTimer = setTimeout(renderChips, 50);
    }

    function chip(label, value, onRemove, className) {
      return h(
        "span",
        { class: "lt-chip " + (className || "") },
        h("span", { class: "lt-chip-label", text: label }),
        value !== null ? h("span", { class: "lt-chip-value", text: value }) : null,
        onRemove
          ? h(
              "button",
              {
                type: "button",
                class: "lt-chip-remove",
                "aria-label": t("lt_remove_filter", { name: value !== null ? label + " " + value : label }),
                title: t("lt_remove"),
                onclick: onRemove,
              },
              icon(ICONS.close)
            )
          : null
      );
    }

    function renderChips() {
      var items = [];
      if (activeView) {
        items.push(
          chip(t("lt_view_chip"), activeView.name, function () {
            leaveView();
          }, "lt-chip-view")
        );
      }
      var removeFrom = function (key, value) {
        return function () {
          filters[key] = filters[key].filter(function (v) { return v !== value; });
          filtersChanged();
        };
      };
      filters.status.forEach(function (value) {
        items.push(chip(t("lt_status"), (LABELS.status && LABELS.status[value]) || value, removeFrom("status", value)));
      });
      filters.priority.forEach(function (value) {
        items.push(chip(t("lt_priority"), (LABELS.priority && LABELS.priority[value]) || value, removeFrom("priority", value)));
      });
      if (filters.assignee) {
        var who =
          filters.assignee === "me" ? t("lt_me") : filters.assignee === "none" ? t("lt_nobody") : agentName(filters.assignee);
        items.push(chip(t("lt_assignee"), who, function () {
          filters.assignee = "";
          filtersChanged();
        }));
      }
      filters.team.forEach(function (value) {
        items.push(chip(t("lt_team"), teamName(value), removeFrom("team", value)));
      });
      filters.inbox.forEach(function (value) {
        items.push(chip(t("lt_inbox"), inboxName(value), removeFrom("inbox", value)));
      });
      filters.channel.forEach(function (value) {
        items.push(chip(t("lt_channel"), channelName(value), removeFrom("channel", value)));
      });
      filters.tag.forEach(function (value) {
        items.push(chip(t("lt_tag_filter"), value, removeFrom("tag", value)));
      });
      DATE_KEYS.forEach(function (key) {
        if (!filters[key]) return;
        items.push(chip(t("lt_" + key), filters[key], function () {
          filters[key] = "";
          filtersChanged();
        }));
      });
      if (filters.unread) {
        items.push(chip(t("lt_unread_only"), null, function () {
          filters.unread = false;
          filtersChanged();
        }));
      }
      if (items.length > 2) {
        items.push(h("button", { type: "button", class: "sb-link-btn lt-chips-clear", text: t("lt_clear_all"), onclick: function () { clearFilters(); } }));
      }
      chips.replaceChildren.apply(chips, items);
      chips.hidden = !items.length;
      var count = Object.keys(toParams(filters, "")).length;
      var badge = filterButton.querySelector(".lt-count");
      badge.textContent = String(count);
      badge.hidden = !count;
      filterButton.classList.toggle("is-active", count > 0);
      viewsButton.classList.toggle("is-active", !!activeView);
      updateNoMatch();
    }

    // --- Changing the filters ------------------------------------------------------------

    function filtersChanged(options2) {
      options2 = options2 || {};
      if (activeView && !sameParams(toParams(filters, query), activeView.params)) {
        activeView = null;
        rememberView();
      }
      renderChips();
      if (popover && popover.name === "filters" && !options2.keepPanel) popover.render();
      if (query) runSearch();
      reloadSoon();
    }

    function clearFilters() {
      filters = emptyFilters();
      if (activeView) {
        activeView = null;
        rememberView();
      }
      filtersChanged();
    }

    // --- Search --------------------------------------------------------------------------

    function setQuery(text, now) {
      query = text;
      if (searchInput.value !== text) searchInput.value = text;
      searchClear.hidden = !text;
      if (activeView && !sameParams(toParams(filters, query), activeView.params)) {
        activeView = null;
        rememberView();
        renderChips();
      }
      clearTimeout(search.timer);
      if (!text.trim()) {
        stopSearch();
        return;
      }
      if (now) runSearch();
      else search.timer = setTimeout(runSearch, SEARCH_DELAY_MS);
    }

    function stopSearch() {
      search.token++;
      search.results = new Map();
      search.next = null;
      resultsList.replaceChildren();
      results.hidden = true;
      host.classList.remove("is-searching");
      c.root.classList.remove("lt-searching");
      updateNoMatch();
    }

    function clearSearch(keepFocus) {
      setQuery("", true);
      if (!keepFocus && document.activeElement === searchInput) searchInput.blur();
    }

    function searchParams(cursor) {
      var params = new URLSearchParams(toParams(filters, query.trim()));
      if (cursor) params.set("cursor", cursor);
      return API + "search/?" + params.toString();
    }

    function cursorOf(nextUrl) {
      if (!nextUrl) return null;
      try {
        return new URL(nextUrl, location.href).searchParams.get("cursor");
      } catch (error) {
        return null;
      }
    }

    function runSearch(more) {
      clearTimeout(search.timer);
      if (!query.trim()) return stopSearch();
      var token = more ? search.token : ++search.token;
      var cursor = more ? search.next : null;
      if (!more) {
        search.results = new Map();
        search.next = null;
        resultsList.replaceChildren();
      }
      search.loading = true;
      search.error = "";
      host.classList.add("is-searching");
      c.root.classList.add("lt-searching");
      results.hidden = false;
      updateNoMatch();
      renderResultsState();
      resultsList.setAttribute("aria-busy", "true");
      return c
        .api(searchParams(cursor))
        .then(function (page) {
          if (token !== search.token) return;
          (page.results || []).forEach(function (conversation) {
            learnInbox(conversation);
            if (search.results.has(conversation.id)) return;
            search.results.set(conversation.id, conversation);
            resultsList.appendChild(resultItem(conversation));
          });
          search.next = cursorOf(page.next);
        })
        .catch(function (error) {
          if (token !== search.token) return;
          search.error = c.apiErrorText(error) || t("lt_search_error");
        })
        .finally(function () {
          if (token !== search.token) return;
          search.loading = false;
          resultsList.setAttribute("aria-busy", "false");
          renderResultsState();
        });
    }

    function renderResultsState() {
      resultsHead.replaceChildren(
        h("span", { class: "lt-results-title" }, t("lt_results_for"), " ", h("q", { text: query.trim() })),
        h("button", { type: "button", class: "sb-link-btn lt-results-close", text: t("lt_back_to_list"), onclick: function () { clearSearch(); } })
      );
      var count = search.results.size;
      if (search.loading) {
        resultsState.textContent = t("loading");
      } else if (search.error) {
        resultsState.textContent = search.error;
      } else if (!count) {
        resultsState.textContent = filtersActive() ? t("lt_no_results_filtered") : t("lt_no_results");
      } else if (!search.next) {
        resultsState.textContent = t(count === 1 ? "lt_result_count_one" : "lt_result_count", { count: count });
      } else {
        resultsState.textContent = "";
      }
      resultsState.hidden = !resultsState.textContent;
      resultsState.classList.toggle("is-error", !!search.error);
      resultsMore.hidden = search.loading || !search.next;
    }

    /** `text` as text nodes, with what matches the search terms in <mark>. */
    function highlighted(text, q) {
      var terms = String(q || "")
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .sort(function (a, b) { return b.length - a.length; })
        .map(function (term) { return term.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); });
      var fragment = document.createDocumentFragment();
      if (!terms.length) {
        fragment.appendChild(document.createTextNode(text));
        return fragment;
      }
      var pattern;
      try {
        pattern = new RegExp(terms.join("|"), "giu");
      } catch (error) {
        pattern = new RegExp(terms.join("|"), "gi");
      }
      var last = 0;
      var match;
      while ((match = pattern.exec(text)) !== null) {
        if (!match[0]) {
          pattern.lastIndex++;
          continue;
        }
        if (match.index > last) fragment.appendChild(document.createTextNode(text.slice(last, match.index)));
        fragment.appendChild(h("mark", { class: "lt-mark", text: match[0] }));
        last = match.index + match[0].length;
      }
      if (last < text.length) fragment.appendChild(document.createTextNode(text.slice(last)));
      return fragment;
    }

    function resultItem(conversation) {
      var name = (conversation.customer && conversation.customer.name) || t("customer");
      var match = conversation.match;
      var snippet = h("span", { class: "lt-result-snippet" });
      if (match && typeof match.text === "string") {
        if (match.private) snippet.appendChild(h("span", { class: "lt-result-note", text: t("lt_in_note") }));
        snippet.appendChild(highlighted(match.text, query));
      } else {
        snippet.appendChild(h("span", { class: "lt-result-note lt-result-customer", text: t("lt_customer_matched") }));
        snippet.appendChild(highlighted(conversation.last_message_preview || "", query));
      }
      var when = (match && match.sent_at) || conversation.last_message_at || conversation.created_at;
      var button = h(
        "button",
        {
          type: "button",
          class: "lt-result-btn",
          "data-id": conversation.id,
          onclick: function () {
            c.openConversation(conversation.id, { keepFocus: true });
            markCurrentResult();
          },
        },
        c.avatar(name, conversation.customer ? conversation.customer.id : conversation.id),
        h(
          "span",
          { class: "lt-result-text" },
          h(
            "span",
            { class: "lt-result-top" },
            h("span", { class: "lt-result-name", text: name }),
            h("time", { class: "lt-result-time", text: c.relativeTime(when), title: c.fullTime(when) })
          ),
          snippet,
          h("span", { class: "lt-result-meta" }, h("span", { class: "lt-result-inbox", text: conversation.inbox ? conversation.inbox.name : "" }), badges(conversation, true))
        )
      );
      var item = h("li", { class: "lt-result", "data-id": conversation.id }, button);
      item.classList.toggle("is-current", isOpen(conversation.id));
      return item;
    }

    function markCurrentResult() {
      Array.prototype.forEach.call(resultsList.children, function (item) {
        var current = isOpen(item.dataset.id);
        item.classList.toggle("is-current", current);
        var button = item.firstChild;
        if (current) button.setAttribute("aria-current", "true");
        else button.removeAttribute("aria-current");
      });
    }

    /** A pushed change to a conversation shown in the results: its state line follows. */
    function refreshResult(conversation) {
      if (!conversation || !search.results.has(conversation.id)) return;
      var merged = Object.assign({}, search.results.get(conversation.id), conversation);
      search.results.set(conversation.id, merged);
      var item = resultsList.querySelector('[data-id="' + CSS.escape(conversation.id) + '"]');
      var old = item && item.querySelector(".lt-result-meta .lt-badges");
      if (old) old.replaceWith(badges(merged, true));
    }

    searchInput.addEventListener("input", function () {
      setQuery(searchInput.value);
    });
    searchInput.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.isComposing) {
        event.preventDefault();
        setQuery(searchInput.value, true);
      } else if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        if (searchInput.value || query) clearSearch(true);
        else searchInput.blur();
      } else if (event.key === "ArrowDown" && query && resultsList.firstChild) {
        event.preventDefault();
        resultsList.firstChild.firstChild.focus();
      }
    });
    searchClear.addEventListener("click", function () {
      clearSearch(true);
      searchInput.focus();
    });
    resultsMore.addEventListener("click", function () { runSearch(true); });
    resultsList.addEventListener("keydown", function (event) {
      if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
      var item = event.target.closest(".lt-result");
      if (!item) return;
      event.preventDefault();
      var next = event.key === "ArrowDown" ? item.nextElementSibling : item.previousElementSibling;
      if (next) next.firstChild.focus();
      else if (event.key === "ArrowUp") searchInput.focus();
    });

    // --- Popovers (filters, views, bulk pickers) ------------------------------------------

    function openPopover(name, button, render) {
      if (popover && popover.name === name) {
        closePopover(true);
        return;
      }
      closePopover(false);
      var element = h("div", { class: "lt-pop lt-pop-" + name, role: "dialog", "aria-label": button.getAttribute("aria-label") || button.textContent });
      popover = {
        name: name,
        element: element,
        button: button,
        render: function () {
          var focused = document.activeElement;
          var focusKey = focused && element.contains(focused) ? focused.dataset.focusKey : null;
          element.replaceChildren.apply(element, [].concat(render()));
          if (focusKey) {
            var again = element.querySelector('[data-focus-key="' + focusKey + '"]');
            if (again) again.focus();
          }
        },
      };
      popover.render();
      button.setAttribute("aria-expanded", "true");
      host.appendChild(element);
      var first = element.querySelector("[autofocus], input:not([type=hidden]), button, select");
      if (first) first.focus();
    }

    function closePopover(returnFocus) {
      if (!popover) return;
      var closing = popover;
      popover = null;
      closing.element.remove();
      closing.button.setAttribute("aria-expanded", "false");
      if (returnFocus && document.body.contains(closing.button) && closing.button.offsetParent !== null) closing.button.focus();
    }

    document.addEventListener("mousedown", function (event) {
      if (!popover) return;
      if (popover.element.contains(event.target) || popover.button.contains(event.target)) return;
      if (event.target.closest && event.target.closest("dialog")) return;
      closePopover(false);
    });

    function section(title, children, className) {
      return h(
        "fieldset",
        { class: "lt-field " + (className || "") },
        h("legend", { class: "lt-field-title", text: title }),
        children
      );
    }

    function toggleButton(label, pressed, onToggle, focusKey) {
      return h("button", {
        type: "button",
        class: "lt-toggle",
        "aria-pressed": pressed ? "true" : "false",
        "data-focus-key": focusKey,
        text: label,
        onclick: onToggle,
      });
    }

    function selectControl(label, focusKey, choices, value, onChange) {
      var select = h("select", { class: "sb-input lt-select", "data-focus-key": focusKey, "aria-label": label });
      choices.forEach(function (choice) {
        var option = h("option", { value: choice[0], text: choice[1] });
        if (choice[2]) option.disabled = true;
        select.appendChild(option);
      });
      select.value = value;
      select.addEventListener("change", function () { onChange(select.value); });
      return h("label", { class: "lt-select-field" }, h("span", { class: "lt-field-title", text: label }), select);
    }

    function listToggle(key, value) {
      return function () {
        var list = filters[key];
        var at = list.indexOf(value);
        if (at >= 0) list.splice(at, 1);
        else list.push(value);
        this.setAttribute("aria-pressed", at >= 0 ? "false" : "true");
        filtersChanged({ keepPanel: true });
      };
    }

    /** One value of a multi-valued filter picked in a <select>: several show as "several". */
    function singleOf(key, any, known) {
      var list = filters[key];
      var choices = [["", any]];
      known.forEach(function (pair) { choices.push(pair); });
      list.forEach(function (value) {
        if (!known.some(function (pair) { return pair[0] === value; })) choices.push([value, value]);
      });
      if (list.length > 1) choices.unshift(["__several", t("lt_several", { count: list.length }), true]);
      return {
        choices: choices,
        value: list.length > 1 ? "__several" : list[0] || "",
        set: function (value) {
          filters[key] = value ? [value] : [];
          filtersChanged({ keepPanel: true });
        },
      };
    }

    function renderFilterPanel() {
      var statusToggles = STATUSES.map(function (status) {
        return toggleButton((LABELS.status && LABELS.status[status]) || status, filters.status.indexOf(status) >= 0, listToggle("status", status), "status-" + status);
      });
      var priorityToggles = PRIORITIES.map(function (priority) {
        return toggleButton((LABELS.priority && LABELS.priority[priority]) || priority, filters.priority.indexOf(priority) >= 0, listToggle("priority", priority), "priority-" + priority);
      });

      var assigneeChoices = [["", t("lt_anyone")], ["me", t("lt_me")], ["none", t("lt_nobody")]];
      (options.agents || []).forEach(function (agent) {
        if (String(agent.id) !== String(ME.id)) assigneeChoices.push([String(agent.id), agent.name]);
      });
      if (/^\d+$/.test(filters.assignee) && !assigneeChoices.some(function (choice) { return choice[0] === filters.assignee; })) {
        assigneeChoices.push([filters.assignee, agentName(filters.assignee)]);
      }
      var team = singleOf("team", t("lt_any_team"), (options.teams || []).map(function (x) { return [String(x.id), x.name]; }));
      var inboxChoices = [];
      inboxes.forEach(function (name, id) { inboxChoices.push([id, name]); });
      inboxChoices.sort(function (a, b) { return a[1].localeCompare(b[1], LANG); });
      var inbox = singleOf("inbox", t("lt_any_inbox"), inboxChoices);
      var channelChoices = Object.keys(LABELS.channel || {}).map(function (kind) { return [kind, channelName(kind)]; });
      var channel = singleOf("channel", t("lt_any_channel"), channelChoices);

      // Tags: any of them; typed with suggestions from the tags that exist.
      var tagInput = h("input", {
        type: "text",
        class: "sb-input lt-tag-input",
        list: "lt-tag-options",
        placeholder: t("lt_tag_placeholder"),
        "aria-label": t("lt_tag_filter"),
        "data-focus-key": "tag-input",
        maxlength: "50",
      });
      var addTag = function () {
        var name = tagInput.value.trim().replace(/,/g, " ");
        if (!name) return;
        if (!filters.tag.some(function (v) { return tagKey(v) === tagKey(name); })) filters.tag.push(name);
        tagInput.value = "";
        filtersChanged({ keepPanel: true });
        renderTagChips();
      };
      tagInput.addEventListener("keydown", function (event) {
        if (event.key === "Enter" && !event.isComposing) {
          event.preventDefault();
          addTag();
        }
      });
      tagInput.addEventListener("change", function () {
        // Picked from the suggestions.
        if ((options.tags || []).some(function (tag) { return tag.name === tagInput.value; })) addTag();
      });
      var tagChips = h("span", { class: "lt-tag-chips" });
      var renderTagChips = function () {
        tagChips.replaceChildren.apply(
          tagChips,
          filters.tag.map(function (name) {
            return chip(name, null, function () {
              filters.tag = filters.tag.filter(function (v) { return v !== name; });
              filtersChanged({ keepPanel: true });
              renderTagChips();
            }, "lt-chip-tag");
          })
        );
      };
      renderTagChips();

      // Dates: created or last message, from and to (days, inclusive).
      var dateField = filters.last_message_from || filters.last_message_to ? "last_message" : "created";
      var fieldSelect = h(
        "select",
        { class: "sb-input lt-date-field", "aria-label": t("lt_date_field"), "data-focus-key": "date-field" },
        h("option", { value: "created", text: t("lt_date_created") }),
        h("option", { value: "last_message", text: t("lt_date_last_message") })
      );
      fieldSelect.value = dateField;
      var dateInput = function (end) {
        var input = h("input", {
          type: "date",
          class: "sb-input lt-date",
          "aria-label": end ? t("lt_date_to") : t("lt_date_from"),
          "data-focus-key": "date-" + (end ? "to" : "from"),
        });
        input.value = filters[dateField + (end ? "_to" : "_from")] || "";
        input.addEventListener("change", function () {
          filters[fieldSelect.value + (end ? "_to" : "_from")] = input.value;
          filtersChanged({ keepPanel: true });
        });
        return input;
      };
      var fromInput = dateInput(false);
      var toInput = dateInput(true);
      fieldSelect.addEventListener("change", function () {
        var other = fieldSelect.value === "created" ? "last_message" : "created";
        filters[other + "_from"] = "";
        filters[other + "_to"] = "";
        filters[fieldSelect.value + "_from"] = fromInput.value;
        filters[fieldSelect.value + "_to"] = toInput.value;
        filtersChanged({ keepPanel: true });
      });

      var unread = h("input", { type: "checkbox", "data-focus-key": "unread" });
      unread.checked = !!filters.unread;
      unread.addEventListener("change", function () {
        filters.unread = unread.checked;
        filtersChanged({ keepPanel: true });
      });

      var datalist = h("datalist", { id: "lt-tag-options" });
      (options.tags || []).forEach(function (tag) { datalist.appendChild(h("option", { value: tag.name })); });

      return [
        h("div", { class: "lt-pop-head" }, h("h2", { class: "lt-pop-title", text: t("lt_filters") }), options.agents ? null : h("span", { class: "sb-muted lt-pop-loading", text: t("loading") })),
        section(t("lt_status"), h("div", { class: "lt-toggles" }, statusToggles)),
        section(t("lt_priority"), h("div", { class: "lt-toggles" }, priorityToggles)),
        h(
          "div",
          { class: "lt-grid" },
          selectControl(t("lt_assignee"), "assignee", assigneeChoices, filters.assignee, function (value) {
            filters.assignee = value;
            filtersChanged({ keepPanel: true });
          }),
          selectControl(t("lt_team"), "team", team.choices, team.value, team.set),
          selectControl(t("lt_inbox"), "inbox", inbox.choices, inbox.value, inbox.set),
          selectControl(t("lt_channel"), "channel", channel.choices, channel.value, channel.set)
        ),
        section(t("lt_tag_filter"), [h("div", { class: "lt-tag-row" }, tagInput, h("button", { type: "button", class: "sb-btn sb-btn-sm", text: t("lt_add"), onclick: addTag })), tagChips, datalist]),
        section(t("lt_dates"), h("div", { class: "lt-date-row" }, fieldSelect, fromInput, h("span", { class: "sb-muted", text: "–" }), toInput)),
        h("label", { class: "lt-check-field" }, unread, h("span", { text: t("lt_unread_only") })),
        h(
          "div",
          { class: "lt-pop-actions" },
          h("button", { type: "button", class: "sb-btn sb-btn-sm", text: t("lt_clear_all"), onclick: function () { clearFilters(); } }),
          h("button", { type: "button", class: "sb-btn sb-btn-sm sb-btn-primary", text: t("lt_done"), onclick: function () { closePopover(true); } })
        ),
      ];
    }

    filterButton.addEventListener("click", function () {
      loadOptions();
      openPopover("filters", filterButton, renderFilterPanel);
    });

    // --- Saved views ---------------------------------------------------------------------

    var viewForm = { open: false, name: "", error: "", busy: false };

    function viewRecord(view) {
      var parsed = fromSaved(view.filters);
      return { id: view.id, name: view.name, filters: parsed.filters, q: parsed.q, params: toParams(parsed.filters, parsed.q) };
    }

    function rememberView() {
      if (activeView) {
        c.writeStore(STORE_VIEW, JSON.stringify({ id: activeView.id, name: activeView.name, filters: activeView.params }));
      } else {
        try {
          window.localStorage.removeItem(STORE_VIEW);
        } catch (error) {
          /* private mode */
        }
      }
    }

    function applyView(view, options2) {
      options2 = options2 || {};
      var record = viewRecord(view);
      activeView = record;
      rememberView();
      filters = fromSaved(view.filters).filters;
      renderChips();
      setQuery(record.q, true);
      if (!record.q && document.activeElement === searchInput) searchInput.blur();
      if (!options2.noReload) reloadSoon();
    }

    function leaveView() {
      activeView = null;
      rememberView();
      filters = emptyFilters();
      setQuery("", true);
      filtersChanged();
    }

    function loadViews() {
      return c
        .api(API + "saved-views/")
        .then(function (views) {
          savedViews = Array.isArray(views) ? views : [];
          // The remembered view: still there (it may be deleted elsewhere), and as saved now.
          if (activeView) {
            var current = savedViews.find(function (view) { return view.id === activeView.id; });
            if (!current) {
              activeView = null;
              rememberView();
              renderChips();
            } else if (!sameParams(viewRecord(current).params, activeView.params) || current.name !== activeView.name) {
              applyView(current);
            }
          }
          if (popover && popover.name === "views") popover.render();
        })
        .catch(function () {
          if (savedViews === null) savedViews = [];
          if (popover && popover.name === "views") popover.render();
        });
    }

    function saveView(name) {
      viewForm.busy = true;
      viewForm.error = "";
      popover && popover.render();
      var body = { name: name, filters: toParams(filters, query.trim()), position: (savedViews || []).length };
      return c
        .api(API + "saved-views/", { method: "POST", json: body })
        .then(function (view) {
          savedViews = (savedViews || []).concat([view]);
          viewForm = { open: false, name: "", error: "", busy: false };
          activeView = viewRecord(view);
          rememberView();
          renderChips();
          showNotice(t("lt_view_saved", { name: view.name }), "ok");
          closePopover(true);
        })
        .catch(function (error) {
          viewForm.busy = false;
          viewForm.error = c.apiErrorText(error) || t("lt_view_save_error");
          if (popover && popover.name === "views") popover.render();
        });
    }

    function deleteView(view) {
      c.confirmDialog({
        title: t("lt_delete_view_title", { name: view.name }),
        body: t("lt_delete_view_body"),
        confirm: t("lt_delete"),
        danger: true,
      }).then(function (yes) {
        if (!yes) return;
        c.api(API + "saved-views/" + encodeURIComponent(view.id) + "/", { method: "DELETE" })
          .then(function () {
            savedViews = (savedViews || []).filter(function (v) { return v.id !== view.id; });
            if (activeView && activeView.id === view.id) {
              activeView = null;
              rememberView();
              renderChips();
            }
            if (popover && popover.name === "views") popover.render();
          })
          .catch(function (error) {
            showNotice(c.apiErrorText(error) || t("lt_view_delete_error"), "error");
          });
      });
    }

    function renderViewsMenu() {
      var items;
      if (savedViews === null) {
        items = [h("p", { class: "sb-muted lt-pop-empty", text: t("loading") })];
      } else if (!savedViews.length) {
        items = [h("p", { class: "sb-muted lt-pop-empty", text: t("lt_no_views") })];
      } else {
        items = [
          h(
            "ul",
            { class: "lt-view-list" },
            savedViews.map(function (view) {
              var current = !!activeView && activeView.id === view.id;
              return h(
                "li",
                { class: "lt-view" + (current ? " is-active" : ""), "data-id": view.id },
                h(
                  "button",
                  {
                    type: "button",
                    class: "lt-view-apply",
                    "aria-current": current ? "true" : null,
                    "data-focus-key": "view-" + view.id,
                    onclick: function () {
                      applyView(view);
                      closePopover(true);
                    },
                  },
                  h("span", { class: "lt-view-check" }, current ? icon(ICONS.check) : null),
                  h("span", { class: "lt-view-name", text: view.name })
                ),
                h(
                  "button",
                  {
                    type: "button",
                    class: "sb-icon-btn sb-mini lt-view-delete",
                    "aria-label": t("lt_delete_view", { name: view.name }),
                    title: t("lt_delete"),
                    onclick: function () { deleteView(view); },
                  },
                  icon(ICONS.trash)
                )
              );
            })
          ),
        ];
      }
      var nothing = !filtersActive() && !query.trim();
      var footer;
      if (viewForm.open) {
        var input = h("input", {
          type: "text",
          class: "sb-input lt-view-name-input",
          maxlength: "100",
          placeholder: t("lt_view_name"),
          "aria-label": t("lt_view_name"),
          "data-focus-key": "view-name",
          autofocus: true,
        });
        input.value = viewForm.name;
        input.addEventListener("input", function () { viewForm.name = input.value; });
        input.addEventListener("keydown", function (event) {
          if (event.key === "Escape") {
            event.preventDefault();
            event.stopPropagation();
            viewForm = { open: false, name: "", error: "", busy: false };
            popover.render();
            viewsButton.focus();
          }
        });
        footer = h(
          "form",
          {
            class: "lt-view-form",
            onsubmit: function (event) {
              event.preventDefault();
              var name = input.value.trim();
              if (!name) {
                viewForm.error = t("lt_view_name_needed");
                popover.render();
                return;
              }
              saveView(name);
            },
          },
          h("label", { class: "lt-field-title", text: t("lt_save_view_as") }),
          input,
          viewForm.error ? h("p", { class: "sb-field-error", role: "alert", text: viewForm.error }) : null,
          h(
            "div",
            { class: "lt-pop-actions" },
            h("button", {
              type: "button",
              class: "sb-btn sb-btn-sm",
              text: t("cancel"),
              onclick: function () {
                viewForm = { open: false, name: "", error: "", busy: false };
                popover.render();
              },
            }),
            h("button", { type: "submit", class: "sb-btn sb-btn-sm sb-btn-primary", text: t("lt_save"), disabled: viewForm.busy })
          )
        );
      } else {
        footer = h("button", {
          type: "button",
          class: "sb-btn sb-btn-sm lt-save-view",
          text: t("lt_save_current"),
          title: nothing ? t("lt_save_nothing") : null,
          disabled: nothing,
          "data-focus-key": "save-view",
          onclick: function () {
            viewForm = { open: true, name: query.trim(), error: "", busy: false };
            popover.render();
            var field = popover.element.querySelector(".lt-view-name-input");
            if (field) {
              field.focus();
              field.select();
            }
          },
        });
      }
      return [h("div", { class: "lt-pop-head" }, h("h2", { class: "lt-pop-title", text: t("lt_views") }))].concat(items, [
        h("div", { class: "lt-view-footer" }, footer),
      ]);
    }

    viewsButton.addEventListener("click", function () {
      viewForm = { open: false, name: "", error: "", busy: false };
      if (savedViews === null) loadViews();
      openPopover("views", viewsButton, renderViewsMenu);
    });

    // --- Notices (bulk results, saved views) ---------------------------------------------

    function showNotice(text, kind, detail) {
      clearTimeout(noticeTimer);
      notice.replaceChildren(
        h("span", { class: "lt-notice-text" }, h("span", { text: text }), detail ? h("span", { class: "lt-notice-detail", text: detail }) : null),
        h(
          "button",
          { type: "button", class: "sb-icon-btn sb-mini lt-notice-close", "aria-label": t("lt_dismiss"), title: t("lt_dismiss"), onclick: hideNotice },
          icon(ICONS.close)
        )
      );
      notice.dataset.kind = kind || "info";
      notice.hidden = false;
      if (kind !== "error" && kind !== "partial") noticeTimer = setTimeout(hideNotice, 6000);
    }

    function hideNotice() {
      clearTimeout(noticeTimer);
      notice.hidden = true;
      notice.replaceChildren();
    }

    // --- Bulk selection ------------------------------------------------------------------

    function shownIds() {
      return Array.prototype.map
        .call(c.el.list.children, function (row) { return row.dataset.id; })
        .filter(Boolean);
    }

    function setSelected(id, on) {
      if (on) selected.add(id);
      else selected.delete(id);
      var row = c.state.rows.get(id);
      if (row) paintSelection(row, id);
    }

    function paintSelection(row, id) {
      var on = selected.has(id);
      row.classList.toggle("lt-selected", on);
      var box = row.querySelector(":scope > .lt-check input");
      if (box && box.checked !== on) box.checked = on;
    }

    function clearSelection() {
      if (!selected.size) return;
      var ids = Array.from(selected);
      selected.clear();
      ids.forEach(function (id) {
        var row = c.state.rows.get(id);
        if (row) paintSelection(row, id);
      });
      anchorId = null;
      renderBulk();
    }

    function toggle(id) {
      setSelected(id, !selected.has(id));
      anchorId = id;
      renderBulk();
    }

    function selectRange(fromId, toId, on) {
      var ids = shownIds();
      var a = ids.indexOf(fromId);
      var b = ids.indexOf(toId);
      if (a < 0 || b < 0) return setSelected(toId, on);
      var low = Math.min(a, b);
      var high = Math.max(a, b);
      for (var i = low; i <= high; i++) setSelected(ids[i], on);
    }

    /** Drops from the selection what left the list (filtered out, moved, another tab). */
    function pruneSelection() {
      // While the list reloads its rows are gone for a moment: judge when they are back.
      if (c.state.listLoading) return;
      var changed = false;
      selected.forEach(function (id) {
        if (!c.state.list.has(id)) {
          selected.delete(id);
          changed = true;
        }
      });
      if (changed) renderBulk();
      else updateSelectAll();
    }

    function updateSelectAll() {
      var ids = shownIds();
      var all = ids.length > 0 && ids.every(function (id) { return selected.has(id); });
      selectAll.checked = all;
      selectAll.indeterminate = !all && selected.size > 0;
    }

    function renderBulk() {
      var count = selected.size;
      bulkBar.hidden = count === 0;
      bar.hidden = count > 0;
      c.root.classList.toggle("lt-selecting", count > 0);
      host.classList.toggle("is-selecting", count > 0);
      selectedCount.textContent = t(count === 1 ? "lt_selected_one" : "lt_selected", { count: count });
      updateSelectAll();
      Object.keys(bulkButtons).forEach(function (key) { bulkButtons[key].disabled = busy; });
      if (!count && popover && popover.name.indexOf("bulk-") === 0) closePopover(false);
      if (!count && bulkBar.contains(document.activeElement)) searchInput.focus();
    }

    selectAll.addEventListener("change", function () {
      var ids = shownIds();
      var on = selectAll.checked;
      ids.forEach(function (id) { setSelected(id, on); });
      renderBulk();
    });
    bulkClear.addEventListener("click", function () { clearSelection(); });

    new MutationObserver(function () {
      pruneSelection();
      updateNoMatch();
    }).observe(c.el.list, { childList: true });

    // Another tab of the list: a new selection.
    (c.el.tabs || []).forEach(function (tab) {
      tab.addEventListener("click", function () { clearSelection(); });
    });

    // --- Bulk actions --------------------------------------------------------------------

    function nameOf(id) {
      var conversation = c.state.list.get(id) || c.state.latest.get(id) || search.results.get(id);
      return (conversation && conversation.customer && conversation.customer.name) || id.slice(0, 8);
    }

    function bulk(action, params) {
      var ids = Array.from(selected);
      if (!ids.length || busy) return Promise.resolve();
      busy = true;
      renderBulk();
      closePopover(false);
      showNotice(t("lt_working", { count: ids.length }), "info");
      // The API takes at most BULK_MAX ids at once: larger selections go in turns.
      var batches = [];
      for (var i = 0; i < ids.length; i += BULK_MAX) batches.push(ids.slice(i, i + BULK_MAX));
      var outcome = [];
      var send = function (index) {
        if (index >= batches.length) return Promise.resolve(outcome);
        var body = Object.assign({ ids: batches[index], action: action }, params || {});
        return c.api(API + "conversations/bulk/", { method: "POST", json: body }).then(function (answer) {
          outcome = outcome.concat((answer && answer.results) || []);
          return send(index + 1);
        });
      };
      return send(0)
        .then(function () {
          var done = outcome.filter(function (r) { return r.ok; });
          var failed = outcome.filter(function (r) { return !r.ok; });
          done.forEach(function (r) { setSelected(String(r.id), false); });
          renderBulk();
          reportBulk(done.length, failed);
          refreshConversations(done.map(function (r) { return String(r.id); }));
        })
        .catch(function (error) {
          if (outcome.length) {
            // Some turns went through before one failed: report those, and why the rest did not.
            var doneIds = outcome.filter(function (r) { return r.ok; }).map(function (r) { return String(r.id); });
            doneIds.forEach(function (id) { setSelected(id, false); });
            refreshConversations(doneIds);
          }
          showNotice(
            outcome.length ? t("lt_done_count", { count: outcome.filter(function (r) { return r.ok; }).length }) : t("lt_bulk_failed"),
            "error",
            c.apiErrorText(error) || ""
          );
        })
        .finally(function () {
          busy = false;
          renderBulk();
        });
    }

    function reportBulk(doneCount, failed) {
      if (!failed.length) {
        showNotice(t(doneCount === 1 ? "lt_done_one" : "lt_done_count", { count: doneCount }), "ok");
        return;
      }
      var reasons = failed.slice(0, 3).map(function (r) {
        var message = (r.error && r.error.message) || "";
        return nameOf(String(r.id)) + (message ? ": " + message : "");
      });
      if (failed.length > 3) reasons.push(t("lt_and_more", { count: failed.length - 3 }));
      var head = t(failed.length === 1 ? "lt_partial_one" : "lt_partial", { done: doneCount, failed: failed.length });
      showNotice(head, doneCount ? "partial" : "error", reasons.join("; "));
    }

    /** The rows of changed conversations follow at once (the pushes say the same later). */
    function refreshConversations(ids) {
      if (!ids.length) return;
      if (ids.length > REFRESH_ONE_BY_ONE) {
        c.reloadList();
        return;
      }
      var queue = ids.slice();
      var worker = function () {
        var id = queue.shift();
        if (!id) return Promise.resolve();
        return c
          .api(c.conversationUrl(id))
          .then(function (detail) {
            c.upsertConversation(detail);
            refreshResult(detail);
          })
          .catch(function () { /* gone from sight: the push removes it */ })
          .then(worker);
      };
      for (var i = 0; i < Math.min(4, ids.length); i++) worker();
    }

    bulkButtons.resolve.addEventListener("click", function () { bulk("resolve"); });

    function pickerButton(label, hint, onclick, className) {
      return h(
        "button",
        { type: "button", class: "lt-pick " + (className || ""), onclick: onclick },
        h("span", { class: "lt-pick-label", text: label }),
        hint ? h("span", { class: "lt-pick-hint", text: hint }) : null
      );
    }

    var assignSearch = "";
    function renderAssignPicker() {
      var parts = [h("div", { class: "lt-pop-head" }, h("h2", { class: "lt-pop-title", text: t("lt_assign_title", { count: selected.size }) }))];
      var mine = [
        pickerButton(t("lt_assign_me"), null, function () { bulk("assign", { agent: ME.id }); }, "lt-assign-me"),
        pickerButton(t("lt_unassign"), SEE_ALL ? null : t("lt_unassign_hint"), function () { bulk("assign", { agent: null }); }, "lt-unassign"),
      ];
      if (!SEE_ALL) {
        parts.push(h("div", { class: "lt-pick-list" }, mine));
        parts.push(h("p", { class: "lt-pop-hint", text: t("lt_agent_assign_hint") }));
        return parts;
      }
      var filterInput = h("input", {
        type: "search",
        class: "sb-input lt-assign-search",
        placeholder: t("lt_find_agent"),
        "aria-label": t("lt_find_agent"),
        "data-focus-key": "assign-search",
      });
      filterInput.value = assignSearch;
      var agentList = h("div", { class: "lt-pick-list lt-agent-list" });
      var fill = function () {
        var needle = assignSearch.trim().toLocaleLowerCase();
        var agents = (options.agents || []).filter(function (agent) {
          return String(agent.id) !== String(ME.id) && (!needle || String(agent.name).toLocaleLowerCase().indexOf(needle) >= 0 || String(agent.email || "").toLocaleLowerCase().indexOf(needle) >= 0);
        });
        agentList.replaceChildren.apply(
          agentList,
          agents.length
            ? agents.map(function (agent) {
                var availability = (LABELS.availability && LABELS.availability[agent.availability]) || agent.availability || "";
                var load = agent.capacity ? agent.load + "/" + agent.capacity : String(agent.load || 0);
                return pickerButton(agent.name, availability + " · " + load, function () { bulk("assign", { agent: agent.id }); }, "lt-agent is-" + (agent.availability || "offline"));
              })
            : [h("p", { class: "sb-muted lt-pop-empty", text: options.agents ? t("lt_no_agents") : t("loading") })]
        );
      };
      filterInput.addEventListener("input", function () {
        assignSearch = filterInput.value;
        fill();
      });
      fill();
      var teams = (options.teams || []).map(function (team) {
        return pickerButton(team.name, t("lt_team_members", { online: team.online, members: team.members }), function () { bulk("assign", { team: team.id }); }, "lt-team");
      });
      parts.push(h("div", { class: "lt-pick-list" }, mine));
      parts.push(section(t("lt_agents"), [filterInput, agentList]));
      if (teams.length) parts.push(section(t("lt_to_team"), [h("p", { class: "lt-pop-hint", text: t("lt_to_team_hint") }), h("div", { class: "lt-pick-list" }, teams)]));
      return parts;
    }

    bulkButtons.assign.addEventListener("click", function () {
      loadOptions();
      assignSearch = "";
      openPopover("bulk-assign", bulkButtons.assign, renderAssignPicker);
    });

    var tagDraft = [];
    function renderTagPicker() {
      var input = h("input", {
        type: "text",
        class: "sb-input lt-bulk-tag-input",
        list: "lt-bulk-tag-options",
        placeholder: t("lt_tag_placeholder"),
        "aria-label": t("lt_tags_to_add"),
        "data-focus-key": "bulk-tag",
        maxlength: "50",
        autofocus: true,
      });
      var add = function () {
        var name = input.value.trim();
        if (name && !tagDraft.some(function (v) { return tagKey(v) === tagKey(name); })) tagDraft.push(name);
        input.value = "";
        popover.render();
      };
      input.addEventListener("keydown", function (event) {
        if (event.key === "Enter" && !event.isComposing) {
          event.preventDefault();
          if (input.value.trim()) add();
          else if (tagDraft.length) applyTags();
        }
      });
      input.addEventListener("change", function () {
        if ((options.tags || []).some(function (tag) { return tag.name === input.value; })) add();
      });
      var applyTags = function () {
        var names = tagDraft.slice();
        var typed = input.value.trim();
        if (typed && !names.some(function (v) { return tagKey(v) === tagKey(typed); })) names.push(typed);
        if (!names.length) {
          input.focus();
          return;
        }
        tagDraft = [];
        bulk("tag", { tags: names });
      };
      var datalist = h("datalist", { id: "lt-bulk-tag-options" });
      (options.tags || []).forEach(function (tag) { datalist.appendChild(h("option", { value: tag.name })); });
      return [
        h("div", { class: "lt-pop-head" }, h("h2", { class: "lt-pop-title", text: t("lt_tag_title", { count: selected.size }) })),
        h("div", { class: "lt-tag-row" }, input, h("button", { type: "button", class: "sb-btn sb-btn-sm", text: t("lt_add"), onclick: add })),
        datalist,
        h(
          "div",
          { class: "lt-tag-chips" },
          tagDraft.map(function (name) {
            return chip(name, null, function () {
              tagDraft = tagDraft.filter(function (v) { return v !== name; });
              popover.render();
            }, "lt-chip-tag");
          })
        ),
        h(
          "div",
          { class: "lt-pop-actions" },
          h("button", { type: "button", class: "sb-btn sb-btn-sm sb-btn-primary lt-apply-tags", text: t("lt_add_tags"), onclick: applyTags })
        ),
      ];
    }

    bulkButtons.tag.addEventListener("click", function () {
      loadOptions();
      tagDraft = [];
      openPopover("bulk-tag", bulkButtons.tag, renderTagPicker);
    });

    function renderSnoozePicker() {
      var choices = c.snoozeChoices().map(function (choice) {
        return pickerButton(choice.label, c.fullTime(choice.until.toISOString()), function () {
          bulk("snooze", { snoozed_until: choice.until.toISOString() });
        }, "lt-snooze-" + choice.key);
      });
      var error = h("p", { class: "sb-field-error", role: "alert", hidden: true });
      var input = h("input", {
        type: "datetime-local",
        class: "sb-input lt-snooze-at",
        "aria-label": t("lt_snooze_until"),
        "data-focus-key": "snooze-at",
        min: c.zone.inputValue(new Date()),
      });
      var submit = function (event) {
        event.preventDefault();
        var at = c.zone.inputDate(input.value);
        if (!at || at.getTime() <= Date.now()) {
          error.textContent = t("lt_snooze_future");
          error.hidden = false;
          return;
        }
        bulk("snooze", { snoozed_until: at.toISOString() });
      };
      return [
        h("div", { class: "lt-pop-head" }, h("h2", { class: "lt-pop-title", text: t("lt_snooze_title", { count: selected.size }) })),
        h("div", { class: "lt-pick-list" }, choices),
        h(
          "form",
          { class: "lt-snooze-form", onsubmit: submit },
          h("label", { class: "lt-field-title", text: t("lt_snooze_until") + (TZ ? " (" + TZ + ")" : "") }),
          h("div", { class: "lt-tag-row" }, input, h("button", { type: "submit", class: "sb-btn sb-btn-sm sb-btn-primary", text: t("lt_snooze") })),
          error
        ),
      ];
    }

    bulkButtons.snooze.addEventListener("click", function () {
      openPopover("bulk-snooze", bulkButtons.snooze, renderSnoozePicker);
    });

    // --- What a row shows ----------------------------------------------------------------

    /** The nearest SLA due time of a running clock: {date, key} or null. */
    function nearestDue(conversation) {
      if (conversation.status === "resolved" || conversation.status === "pending") return null;
      var best = null;
      SLA_FIELDS.forEach(function (field) {
        var date = parseDate(conversation[field[0]]);
        if (date && (!best || date < best.date)) best = { date: date, key: field[1] };
      });
      return best;
    }

    function badges(conversation, compact) {
      var items = [];
      var status = conversation.status;
      if (status === "snoozed") {
        var until = parseDate(conversation.snoozed_until);
        items.push(
          h("span", {
            class: "lt-badge lt-status lt-snoozed",
            "data-status": status,
            text: until ? t("lt_snoozed_until", { time: shortMoment(until) }) : (LABELS.status && LABELS.status.snoozed) || status,
            title: until ? c.fullTime(conversation.snoozed_until) : null,
          })
        );
      } else if (status && status !== "open") {
        items.push(h("span", { class: "lt-badge lt-status", "data-status": status, text: (LABELS.status && LABELS.status[status]) || status }));
      }
      var priority = String(conversation.priority);
      if (priority === "2" || priority === "3") {
        items.push(
          h("span", {
            class: "lt-badge lt-priority lt-priority-" + (priority === "3" ? "urgent" : "high"),
            "data-priority": priority,
            text: (LABELS.priority && LABELS.priority[priority]) || priority,
          })
        );
      }
      var due = nearestDue(conversation);
      if (due) {
        var left = due.date.getTime() - Date.now();
        var overdue = left <= 0;
        items.push(
          h("span", {
            class: "lt-badge lt-sla" + (overdue ? " is-overdue" : left <= SOON_MS ? " is-soon" : ""),
            "data-due": due.date.toISOString(),
            text: overdue ? t("lt_overdue", { time: span(left) }) : t("lt_due_in", { time: span(left) }),
            title: t(due.key) + ": " + c.fullTime(due.date.toISOString()),
          })
        );
      }
      var queued = parseDate(conversation.queued_at);
      if (queued && status !== "resolved") {
        items.push(
          h("span", {
            class: "lt-badge lt-waiting",
            text: t("lt_waiting", { time: span(Date.now() - queued.getTime()) }),
            title: t("lt_waiting_since", { time: c.fullTime(conversation.queued_at) }),
          })
        );
      }
      var claimer = conversation.claimed_by;
      var claimedUntil = parseDate(conversation.claimed_until);
      if (claimer && claimedUntil && claimedUntil.getTime() > Date.now()) {
        var mine = claimer.id === ME.id;
        items.push(
          h(
            "span",
            {
              class: "lt-badge lt-claim" + (mine ? " is-mine" : ""),
              title: t("lt_claimed_title", { name: mine ? t("you") : claimer.name, time: shortMoment(claimedUntil) }),
            },
            icon(ICONS.lock),
            h("span", { class: "lt-claim-name", text: mine ? t("you") : claimer.name })
          )
        );
      }
      var tags = (conversation.tags || []).slice();
      if (tags.length) {
        var shown = tags.slice(0, MAX_ROW_TAGS);
        var rest = tags.slice(MAX_ROW_TAGS);
        var tagBox = h("span", { class: "lt-tags" });
        shown.forEach(function (name) {
          var tag = h("span", { class: "lt-tag", text: name, title: name });
          var color = tagColor(name);
          if (color) tag.style.setProperty("--tag-color", color);
          tagBox.appendChild(tag);
        });
        if (rest.length) tagBox.appendChild(h("span", { class: "lt-tag lt-tag-more", text: "+" + rest.length, title: rest.join(", ") }));
        items.push(tagBox);
      }
      return h("span", { class: "lt-badges" + (compact ? " is-compact" : "") }, items);
    }

    /** The row's checkbox and badges line; run again on every render (idempotent). */
    function decorate(row, conversation) {
      if (!row || !conversation) return;
      learnInbox(conversation);
      var name = (conversation.customer && conversation.customer.name) || "";
      var check = row.querySelector(":scope > .lt-check");
      if (!check) {
        var input = h("input", { type: "checkbox", class: "lt-check-input", tabindex: "-1" });
        input.addEventListener("click", function (event) {
          var id = row.dataset.id;
          var on = input.checked;
          if (event.shiftKey && anchorId && anchorId !== id) selectRange(anchorId, id, on);
          else setSelected(id, on);
          anchorId = id;
          renderBulk();
        });
        check = h("label", { class: "lt-check" }, input);
        row.appendChild(check);
      }
      check.firstChild.setAttribute("aria-label", t("lt_select_row", { name: name }));
      paintSelection(row, conversation.id);

      var text = row.querySelector(".conv-text");
      if (!text) return;
      var line = text.querySelector(":scope > .lt-row-line");
      if (!line) {
        line = h("span", { class: "conv-line lt-row-line" });
        text.appendChild(line);
      }
      var fresh = badges(conversation, false);
      line.replaceChildren(fresh);
      line.hidden = !fresh.childNodes.length;
      row.classList.toggle("lt-overdue", !!fresh.querySelector(".lt-sla.is-overdue"));
    }

    function refreshAllRows() {
      c.state.rows.forEach(function (row, id) {
        decorate(row, c.state.list.get(id));
      });
      search.results.forEach(function (conversation) { refreshResult(conversation); });
    }

    c.on("row", decorate);
    setInterval(refreshAllRows, TICK_MS);

    // --- Live pushes for the search results ----------------------------------------------

    c.on("event", function (event) {
      if (!event) return;
      if ((event.type === "conversation.updated" || event.type === "message.created") && event.conversation && typeof event.conversation === "object") {
        learnInbox(event.conversation);
        refreshResult(event.conversation);
      }
    });
    c.on("open", markCurrentResult);
    c.on("close", markCurrentResult);

    // --- "No conversation matches these filters" -----------------------------------------

    function updateNoMatch() {
      var empty = c.el.listEmpty;
      var listEmptyShown = !!empty && !empty.hidden && empty.textContent === t("empty_" + c.state.view);
      var show = !query && filtersActive() && listEmptyShown && c.state.list.size === 0;
      noMatch.hidden = !show;
      c.root.classList.toggle("lt-no-match-shown", show);
    }

    if (c.el.listEmpty) {
      new MutationObserver(updateNoMatch).observe(c.el.listEmpty, {
        attributes: true,
        attributeFilter: ["hidden"],
        childList: true,
        characterData: true,
        subtree: true,
      });
    }

    // --- Keyboard ------------------------------------------------------------------------

    c.shortcuts.push(
      { keys: "/", label: t("lt_key_search") },
      { keys: "J", label: t("lt_key_next") },
      { keys: "K", label: t("lt_key_previous") },
      { keys: "X", label: t("lt_key_select") },
      { keys: "Esc", label: t("lt_key_escape") }
    );

    function rowLink(id) {
      var row = c.state.rows.get(id);
      return row ? row.querySelector(".conv-link") : null;
    }

    /** Opens the next (1) or previous (-1) conversation of the list, or of the results. */
    function step(direction, focusRow) {
      var ids = query ? Array.from(search.results.keys()) : shownIds();
      if (!ids.length) return;
      var current = c.state.cur ? ids.indexOf(c.state.cur.id) : -1;
      var index = current < 0 ? (direction > 0 ? 0 : ids.length - 1) : current + direction;
      if (index < 0 || index >= ids.length) return;
      var id = ids[index];
      c.openConversation(id, { keepFocus: true });
      if (query) {
        markCurrentResult();
        var item = resultsList.querySelector('[data-id="' + CSS.escape(id) + '"]');
        if (item) {
          item.scrollIntoView({ block: "nearest" });
          if (focusRow) item.firstChild.focus();
        }
        return;
      }
      var link = rowLink(id);
      if (link) {
        link.scrollIntoView({ block: "nearest" });
        if (focusRow) link.focus();
      }
    }

    /** `x`: the row that has the focus, else the open conversation. */
    function toggleFocused() {
      var active = document.activeElement;
      var row = active && active.closest ? active.closest(".conv-row") : null;
      var id = row ? row.dataset.id : c.state.cur && c.state.list.has(c.state.cur.id) ? c.state.cur.id : null;
      if (id) toggle(id);
    }

    document.addEventListener("keydown", function (event) {
      if (event.defaultPrevented || event.isComposing || event.ctrlKey || event.metaKey || event.altKey) return;
      if (document.querySelector("dialog[open]")) return;
      var key = event.key;
      if (key === "Escape") {
        if (popover) {
          event.preventDefault();
          closePopover(true);
          return;
        }
        if (c.isEditable(event.target)) return;
        if (query) {
          event.preventDefault();
          clearSearch();
        } else if (selected.size) {
          event.preventDefault();
          clearSelection();
        }
        return;
      }
      if (c.isEditable(event.target)) return;
      var inList = c.el.list.contains(event.target);
      if (key === "/") {
        event.preventDefault();
        closePopover(false);
        searchInput.focus();
        searchInput.select();
      } else if (key === "j" || key === "J" || (inList && key === "ArrowDown")) {
        event.preventDefault();
        step(1, inList);
      } else if (key === "k" || key === "K" || (inList && key === "ArrowUp")) {
        event.preventDefault();
        step(-1, inList);
      } else if (key === "x" || key === "X") {
        event.preventDefault();
        toggleFocused();
      }
    });

    // --- Start: the remembered view before the first list request -------------------------

    (function restore() {
      var stored = c.readStore(STORE_VIEW);
      if (!stored) return;
      try {
        var saved = JSON.parse(stored);
        if (!saved || typeof saved !== "object" || !saved.id) return;
        var record = viewRecord({ id: saved.id, name: String(saved.name || ""), filters: saved.filters || {} });
        activeView = record;
        filters = record.filters;
        query = record.q;
        searchInput.value = query;
        searchClear.hidden = !query;
      } catch (error) {
        /* not ours any more: ignored */
      }
    })();
    renderChips();
    renderBulk();

    c.on("start", function () {
      if (query) runSearch();
      loadViews();
      loadOptions();
    });
  });
})();
