/* Switchboard console: the composer's tools (styles in composer_tools.css).
 * - Reply / Note (Alt+N in the composer): a note goes to notes/ and is never delivered,
 *   so the channel's rules do not hold it back. The mode is kept per conversation.
 * - @mentions in notes: agents and teams, inserted as the tokens the server parses
 *   (inbox/services/notes.py MENTION_PATTERN) and shown as chips in rendered notes.
 * - Quoting a message (compose.replyTo), with a bar above the composer.
 * - Canned replies by typing "/", filled in by the server for the open conversation,
 *   and saving the composer's text as a personal canned reply.
 * Same rules as console.js: names, bodies and canned texts reach the page as text only. */
(function () {
  "use strict";
  if (!window.SwitchboardConsole) return;

  window.SwitchboardConsole.extend(function (c) {
    var el = c.el;
    var composer = el.composer;
    var form = el.form;
    var tools = document.getElementById("composer-tools");
    if (!composer || !form || !tools) return;
    var t = c.t;
    var h = c.h;
    var API = (c.config.urls && c.config.urls.api) || "/api/v1/";

    // The server's MENTION_PATTERN: a name without "]" or a line break, up to 150 characters.
    var MENTION = /@\[([^\]\n]{1,150})\]\((user|team):(\d{1,12})\)/g;
    var MENTION_NAME_MAX = 150;
    // "@" at the start or after a space or bracket, then what is typed of a name (no "@").
    var MENTION_TRIGGER = /(^|[\s(（「"'“‘])@((?:[^@\[\]\s][^@\[\]\n]{0,39})?)$/u;
    // "/" at the start or after a space, then a shortcut (slugs) or words of a title.
    var CANNED_TRIGGER = /(^|\s)\/([^\s/]{0,50})$/u;
    var CANNED_DEBOUNCE_MS = 150;
    var PEOPLE_MAX_AGE_MS = 60 * 1000;
    var MENTION_MAX = 8;
    var SAVED_NOTICE_MS = 5000;

    var modes = new Map(); // conversation id -> true while left in Note mode
    var note = false;

    // --- Elements --------------------------------------------------------------------

    var replyButton = h("button", {
      type: "button",
      class: "sb-ct-mode",
      "data-mode": "reply",
      title: t("ct_mode_reply_title"),
      text: t("ct_mode_reply"),
      onclick: function () { setMode(false, true); composer.focus(); },
    });
    var noteButton = h("button", {
      type: "button",
      class: "sb-ct-mode",
      "data-mode": "note",
      title: t("ct_mode_note_title"),
      text: t("ct_mode_note"),
      onclick: function () { setMode(true, true); composer.focus(); },
    });
    var noteHint = h("span", { class: "sb-ct-note-hint", text: t("ct_note_on"), hidden: true });
    var saveOpen = h("button", {
      type: "button",
      class: "sb-link-btn sb-ct-save-open",
      "aria-expanded": "false",
      text: t("ct_save_open"),
      onclick: function () { if (saveForm.hidden) openSave(); else closeSave(true); },
    });
    var savedNotice = h("span", { class: "sb-ct-saved", role: "status", "aria-live": "polite" });
    var bar = h(
      "div",
      { class: "sb-ct-bar" },
      h("div", { class: "sb-ct-modes", role: "group", "aria-label": t("ct_send_as") }, replyButton, noteButton),
      noteHint,
      h("span", { class: "sb-ct-spacer" }),
      savedNotice,
      saveOpen
    );

    var quoteText = h("span", { class: "sb-ct-quote-text" });
    var quoteBar = h(
      "div",
      { class: "sb-ct-quote", hidden: true },
      h("span", { class: "sb-ct-quote-icon", "aria-hidden": "true", text: "↩" }),
      quoteText,
      h("button", {
        type: "button",
        class: "sb-icon-btn sb-ct-quote-cancel",
        "aria-label": t("ct_quote_cancel"),
        title: t("ct_quote_cancel"),
        text: "✕",
        onclick: function () { clearQuote(); composer.focus(); },
      })
    );

    var saveShortcut = h("input", {
      type: "text",
      class: "sb-ct-save-shortcut",
      maxlength: "50",
      autocomplete: "off",
      spellcheck: "false",
      "aria-label": t("ct_save_shortcut"),
      placeholder: t("ct_save_shortcut"),
    });
    var saveTitle = h("input", {
      type: "text",
      class: "sb-ct-save-name",
      maxlength: "100",
      autocomplete: "off",
      "aria-label": t("ct_save_name"),
      placeholder: t("ct_save_name"),
    });
    var saveButton = h("button", { type: "button", class: "sb-btn sb-btn-sm sb-btn-primary", text: t("ct_save"), onclick: save });
    var saveError = h("p", { class: "sb-ct-error", role: "alert", hidden: true });
    var saveForm = h(
      "div",
      { class: "sb-ct-save", role: "group", "aria-label": t("ct_save_title"), hidden: true },
      h("span", { class: "sb-ct-save-slash", "aria-hidden": "true", text: "/" }),
      saveShortcut,
      saveTitle,
      saveButton,
      h("button", { type: "button", class: "sb-btn sb-btn-sm", text: t("ct_cancel"), onclick: function () { closeSave(true); } }),
      saveError
    );

    var LIST_ID = "sb-ct-suggest";
    var listTitle = h("div", { class: "sb-ct-popup-title", id: LIST_ID + "-title" });
    var list = h("ul", { class: "sb-ct-list", id: LIST_ID, role: "listbox", "aria-labelledby": LIST_ID + "-title" });
    var listStatus = h("div", { class: "sb-ct-popup-status", role: "status", "aria-live": "polite" });
    var popup = h("div", { class: "sb-ct-popup", hidden: true }, listTitle, list, listStatus);
    // Clicks in the list keep the caret in the composer.
    popup.addEventListener("mousedown", function (event) {
      if (!event.target.closest("button")) event.preventDefault();
    });

    tools.replaceChildren(bar, quoteBar, saveForm, popup);

    c.shortcuts.push(
      { keys: "Alt+N", label: t("ct_shortcut_toggle") },
      { keys: "@", label: t("ct_shortcut_mention") },
      { keys: "/", label: t("ct_shortcut_canned") },
      { keys: "Esc", label: t("ct_shortcut_cancel_quote") }
    );

    // --- Reply / Note ------------------------------------------------------------------
    //
    // The console sets the composer's state from the channel's rules (a closed window
    // disables it). A note is never delivered, so in Note mode that state is lifted, and
    // put back as the console last set it when the agent returns to Reply. The console
    // writes the placeholder, the disabled states and "is-blocked" together, so a
    // placeholder write means every value now in the page is the console's.

    var consoleState = readConsoleState();
    var observer = window.MutationObserver
      ? new MutationObserver(function (records) {
          if (consoleWrote(records) && note) applyMode();
        })
      : null;

    /** Takes in what the console wrote since we last looked; true if it wrote anything. */
    function consoleWrote(records) {
      if (!records.length) return false;
      var all = !note || records.some(function (record) {
        return record.target === composer && record.attributeName === "placeholder";
      });
      if (all) consoleState = readConsoleState();
      return all;
    }
    if (observer) {
      observer.observe(composer, { attributes: true, attributeFilter: ["disabled", "placeholder"] });
      observer.observe(form, { attributes: true, attributeFilter: ["class"] });
      if (el.send) observer.observe(el.send, { attributes: true, attributeFilter: ["disabled"] });
      if (el.attach) observer.observe(el.attach, { attributes: true, attributeFilter: ["disabled"] });
    }

    function readConsoleState() {
      return {
        disabled: composer.disabled,
        placeholder: composer.placeholder,
        send: el.send ? el.send.disabled : false,
        attach: el.attach ? el.attach.disabled : false,
        blocked: form.classList.contains("is-blocked"),
      };
    }

    function applyMode() {
      var s = consoleState;
      composer.disabled = note ? false : s.disabled;
      composer.placeholder = note ? t("ct_note_placeholder") : s.placeholder;
      if (el.send) el.send.disabled = note ? false : s.send;
      // Files go to the customer, never into a note.
      var attachOff = note || s.attach;
      if (el.attach) el.attach.disabled = attachOff;
      if (el.attachLabel) el.attachLabel.classList.toggle("is-disabled", attachOff);
      form.classList.toggle("is-blocked", note ? false : s.blocked);
      form.classList.toggle("sb-ct-note", note);
      replyButton.setAttribute("aria-pressed", note ? "false" : "true");
      noteButton.setAttribute("aria-pressed", note ? "true" : "false");
      noteHint.hidden = !note;
      if (observer) observer.takeRecords(); // our own changes are not the console's
    }

    function setMode(value, remember) {
      // What the console wrote just now (opening a conversation), read under the old mode.
      if (observer) consoleWrote(observer.takeRecords());
      note = !!value;
      c.compose.note = note;
      var cur = c.state.cur;
      if (remember && cur) {
        if (note) modes.set(cur.id, true);
        else modes.delete(cur.id);
      }
      applyMode();
      if (note && el.composerError && el.composerError.dataset.kind !== "too_long") c.hideComposerError();
      // On the agent's switch only: a conversation that opens does not pop a list up.
      if (remember) detect();
      c.autosize();
    }

    function isToggleKey(event) {
      if (!event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return false;
      // The physical key too: on a Mac, Option+N is a dead key with no "n" in event.key.
      return event.code === "KeyN" || String(event.key).toLowerCase() === "n";
    }

    // A pasted image would go to the customer: not while writing a note.
    form.addEventListener(
      "paste",
      function (event) {
        if (!note || event.target !== composer) return;
        var data = event.clipboardData;
        var hasFile = !!(data && data.files && data.files.length);
        if (!hasFile && data && data.items) {
          hasFile = Array.prototype.some.call(data.items, function (item) { return item.kind === "file"; });
        }
        if (!hasFile) return;
        event.preventDefault();
        event.stopPropagation();
        c.showComposerError(t("ct_note_no_files"));
      },
      true
    );

    // --- Quoting a message -------------------------------------------------------------

    function authorOf(li, m) {
      var author = li.querySelector(".msg-author");
      if (author && author.textContent) return author.textContent;
      if (m.direction === "in") return c.customerName();
      return (m.author && m.author.name) || "";
    }

    function previewOf(m) {
      if (m.body) return c.excerpt(plainText(m.body), 90);
      if (m.attachments && m.attachments.length) return "📎 " + (m.attachments[0].name || t("ct_quote_attachment"));
      return "";
    }

    function setQuote(m, li) {
      c.compose.replyTo = m.seq;
      quoteText.replaceChildren(
        h("span", { class: "sb-ct-quote-who", text: t("ct_replying_to", { name: authorOf(li, m) }) }),
        " ",
        h("span", { class: "sb-ct-quote-excerpt", text: previewOf(m) })
      );
      quoteBar.hidden = false;
      quoteBar.classList.toggle("is-note", !!m.private);
      composer.focus();
    }

    function clearQuote() {
      c.compose.replyTo = null;
      hideQuote();
    }

    function hideQuote() {
      quoteBar.hidden = true;
      quoteText.replaceChildren();
    }

    function quoteButton(li, m) {
      var label = t("ct_quote_label", { name: authorOf(li, m) });
      return h(
        "button",
        {
          type: "button",
          class: "sb-ct-quote-btn",
          "aria-label": label,
          title: label,
          onclick: function (event) {
            event.stopPropagation();
            var cur = c.state.cur;
            var latest = (cur && cur.messages.get(m.seq)) || m;
            setQuote(latest, li);
          },
        },
        h("span", { "aria-hidden": "true", text: "↩" }),
        h("span", { class: "sb-ct-quote-btn-text", text: t("ct_quote") })
      );
    }

    // --- Mentions shown in notes --------------------------------------------------------

    var myTeams = new Set();

    function mentionChip(name, kind, id) {
      var mine = kind === "user" ? id === c.me.id : myTeams.has(id);
      var title =
        kind === "team"
          ? t("ct_mention_team", { name: name })
          : mine
            ? t("ct_mention_you")
            : t("ct_mention_user", { name: name });
      return h("span", {
        class: "sb-mention" + (kind === "team" ? " is-team" : "") + (mine ? " is-me" : ""),
        "data-kind": kind,
        "data-id": String(id),
        title: title,
        text: "@" + name,
      });
    }

    /** A note's text as people read it: "@Name" for each token. */
    function plainText(text) {
      return String(text).replace(MENTION, function (token, name) { return "@" + name; });
    }

    /** The same in an element's text nodes (quotes of notes, previews in the list). */
    function plainMentions(root) {
      var walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
      while (walker.nextNode()) {
        var node = walker.currentNode;
        if (node.nodeValue.indexOf("@[") >= 0) node.nodeValue = plainText(node.nodeValue);
      }
    }

    /** Rewrites the tokens in a note's text nodes as chips; text only, so running it twice
     * changes nothing. */
    function renderMentions(li) {
      var body = li.querySelector(".msg-body");
      if (!body) return;
      var walker = document.createTreeWalker(body, NodeFilter.SHOW_TEXT);
      var nodes = [];
      while (walker.nextNode()) nodes.push(walker.currentNode);
      nodes.forEach(function (node) {
        var text = node.nodeValue;
        if (text.indexOf("@[") < 0) return;
        MENTION.lastIndex = 0;
        var parts = document.createDocumentFragment();
        var index = 0;
        var match;
        while ((match = MENTION.exec(text))) {
          if (match.index > index) parts.appendChild(document.createTextNode(text.slice(index, match.index)));
          parts.appendChild(mentionChip(match[1], match[2], parseInt(match[3], 10)));
          index = match.index + match[0].length;
        }
        if (!index) return;
        if (index < text.length) parts.appendChild(document.createTextNode(text.slice(index)));
        node.parentNode.replaceChild(parts, node);
      });
    }

    c.on("message", function (li, m) {
      if (!li || !m) return;
      if (m.private) renderMentions(li);
      li.querySelectorAll(".msg-reply-to").forEach(plainMentions);
      if (typeof m.seq !== "number" || li.classList.contains("msg-pending")) return;
      if (li.querySelector(".sb-ct-quote-btn")) return;
      li.classList.add("sb-ct-quotable");
      li.appendChild(quoteButton(li, m));
    });

    c.on("row", function (li) {
      if (li) plainMentions(li);
    });

    // --- The suggestion list (mentions and canned replies) -----------------------------

    // {kind: "mention" | "canned", start, end, query, items, active, state, error, token}
    var suggest = null;
    // The trigger the agent closed with Escape: not reopened until another one is typed.
    var dismissed = null;
    var replacing = false;

    function detect() {
      if (replacing) return;
      if (composer.disabled || !c.state.cur || composer.selectionStart !== composer.selectionEnd) {
        closeSuggest();
        return;
      }
      var caret = composer.selectionStart;
      var before = composer.value.slice(0, caret);
      var found = null;
      var match = note ? MENTION_TRIGGER.exec(before) : null;
      if (match) {
        found = { kind: "mention", start: match.index + match[1].length, query: match[2] };
      } else if ((match = CANNED_TRIGGER.exec(before))) {
        found = { kind: "canned", start: match.index + match[1].length, query: match[2] };
      }
      if (!found) {
        dismissed = null;
        closeSuggest();
        return;
      }
      found.end = caret;
      if (dismissed && dismissed.kind === found.kind && dismissed.start === found.start) return;
      dismissed = null;
      if (suggest && suggest.kind === found.kind && suggest.start === found.start) {
        suggest.end = caret;
        if (suggest.query === found.query) return;
        suggest.query = found.query;
        refresh();
        return;
      }
      openSuggest(found);
    }

    function openSuggest(found) {
      closeSuggest();
      suggest = {
        kind: found.kind,
        start: found.start,
        end: found.end,
        query: found.query,
        items: [],
        active: -1,
        state: "loading",
        error: null,
        token: 0,
        timer: null,
      };
      listTitle.textContent = found.kind === "mention" ? t("ct_mentions") : t("ct_canned");
      popup.hidden = false;
      popup.dataset.kind = found.kind;
      composer.setAttribute("aria-controls", LIST_ID);
      composer.setAttribute("aria-autocomplete", "list");
      refresh();
    }

    function closeSuggest() {
      if (!suggest) return;
      clearTimeout(suggest.timer);
      suggest.token++;
      suggest = null;
      popup.hidden = true;
      list.replaceChildren();
      listStatus.replaceChildren();
      composer.removeAttribute("aria-activedescendant");
      composer.removeAttribute("aria-controls");
      composer.removeAttribute("aria-autocomplete");
    }

    function dismiss() {
      if (!suggest) return;
      dismissed = { kind: suggest.kind, start: suggest.start };
      closeSuggest();
    }

    function refresh() {
      if (!suggest) return;
      if (suggest.kind === "mention") refreshMentions();
      else refreshCanned();
    }

    function setItems(items) {
      var s = suggest;
      var previous = s.active >= 0 ? s.items[s.active] : null;
      s.items = items;
      s.active = items.length ? 0 : -1;
      if (previous) {
        items.forEach(function (item, index) {
          if (item.key === previous.key) s.active = index;
        });
      }
    }

    function renderList() {
      var s = suggest;
      if (!s) return;
      list.replaceChildren.apply(
        list,
        s.items.map(function (item, index) {
          var option = h(
            "li",
            {
              id: LIST_ID + "-" + index,
              role: "option",
              class: "sb-ct-option" + (index === s.active ? " is-active" : ""),
              "aria-selected": index === s.active ? "true" : "false",
              onclick: function () { pick(index); },
              onmousemove: function () { if (suggest && suggest.active !== index) setActive(index, false); },
            },
            item.render()
          );
          return option;
        })
      );
      list.hidden = !s.items.length;
      renderStatus();
      updateActive(true);
    }

    function renderStatus() {
      var s = suggest;
      if (!s) return;
      var parts = [];
      listStatus.classList.remove("is-error");
      if (s.state === "error") {
        listStatus.classList.add("is-error");
        parts.push(
          s.error,
          " ",
          h("button", {
            type: "button",
            class: "sb-link-btn",
            text: t("ct_retry"),
            onclick: function () {
              if (!suggest) return;
              if (suggest.retry) suggest.retry();
              else refresh();
              composer.focus();
            },
          })
        );
      } else if (s.state === "busy") {
        parts.push(s.busy);
      } else if (s.state === "loading" && !s.items.length) {
        parts.push(t("ct_loading"));
      } else if (!s.items.length) {
        parts.push(s.empty || "");
      } else {
        parts.push(h("span", { class: "visually-hidden", text: t("ct_suggestions", { count: s.items.length }) }));
      }
      listStatus.replaceChildren.apply(listStatus, parts.filter(function (part) { return part !== null && part !== undefined; }));
      listStatus.classList.toggle("is-quiet", s.state !== "error" && s.state !== "busy" && !!s.items.length);
    }

    function setActive(index, scroll) {
      if (!suggest || !suggest.items.length) return;
      suggest.active = (index + suggest.items.length) % suggest.items.length;
      Array.prototype.forEach.call(list.children, function (option, i) {
        var on = i === suggest.active;
        option.classList.toggle("is-active", on);
        option.setAttribute("aria-selected", on ? "true" : "false");
      });
      updateActive(scroll);
    }

    function updateActive(scroll) {
      var s = suggest;
      var option = s && s.active >= 0 ? list.children[s.active] : null;
      if (option) {
        composer.setAttribute("aria-activedescendant", option.id);
        if (scroll) option.scrollIntoView({ block: "nearest" });
      } else {
        composer.removeAttribute("aria-activedescendant");
      }
    }

    function pick(index) {
      var s = suggest;
      if (!s || s.state === "busy" || !s.items[index]) return;
      s.items[index].pick(s);
    }

    /** Replaces composer text with `text` (through the editor, so Undo takes it back). */
    function replaceRange(start, end, text) {
      replacing = true;
      try {
        composer.focus();
        composer.setSelectionRange(start, end);
        var done = false;
        try {
          done = document.execCommand("insertText", false, text);
        } catch (error) {
          done = false;
        }
        if (!done) {
          composer.setRangeText(text, start, end, "end");
          composer.dispatchEvent(new Event("input", { bubbles: true }));
        }
      } finally {
        replacing = false;
      }
      c.autosize();
    }

    // Mentions.

    var people = { agents: null, teams: null, at: 0, loading: null, error: null };

    function loadPeople(force) {
      if (people.loading) return people.loading;
      if (!force && people.agents && Date.now() - people.at < PEOPLE_MAX_AGE_MS) return Promise.resolve();
      people.loading = c
        .staffLists(force)
        .then(function (lists) { return [lists.agents, lists.teams]; })
        .then(
          function (answers) {
            people.agents = Array.isArray(answers[0]) ? answers[0] : [];
            people.teams = Array.isArray(answers[1]) ? answers[1] : [];
            people.at = Date.now();
            people.error = null;
            myTeams = new Set();
            people.agents.forEach(function (agent) {
              if (agent.id === c.me.id) (agent.teams || []).forEach(function (id) { myTeams.add(id); });
            });
          },
          function (error) {
            people.error = error;
          }
        )
        .then(function () {
          people.loading = null;
        });
      return people.loading;
    }

    function fold(text) {
      return String(text || "").normalize("NFKC").toLocaleLowerCase();
    }

    /** How well a name answers what is typed: 0 starts with it, 1 a word does, 2 holds it
     * (CJK names have no spaces between words), -1 not at all. */
    function score(query, name, email) {
      if (!query) return 0;
      var folded = fold(name);
      if (folded.indexOf(query) === 0) return 0;
      var words = folded.split(/[\s._\-·・]+/);
      for (var i = 0; i < words.length; i++) if (words[i].indexOf(query) === 0) return 1;
      if (folded.indexOf(query) > 0) return 2;
      if (email && fold(email).indexOf(query) === 0) return 3;
      return -1;
    }

    function mentionName(name, fallback) {
      var clean = String(name || "").replace(/[\]\r\n]+/g, " ").replace(/\s+/g, " ").trim();
      clean = Array.from(clean).slice(0, MENTION_NAME_MAX).join("").trim();
      return clean || fallback;
    }

    function mentionItem(kind, entry, rank) {
      var name = String(entry.name || "");
      var detail =
        kind === "team"
          ? entry.members === 1
            ? t("ct_team_one_member")
            : t("ct_team_members", { count: entry.members || 0 })
          : (c.config.labels.availability && c.config.labels.availability[entry.availability]) || "";
      return {
        key: kind + ":" + entry.id,
        rank: rank,
        name: name,
        render: function () {
          return [
            kind === "team"
              ? h("span", { class: "sb-ct-team-icon", "aria-hidden": "true", text: "#" })
              : c.avatar(name, entry.id, "sb-ct-avatar"),
            h("span", { class: "sb-ct-option-main", text: name }),
            h(
              "span",
              { class: "sb-ct-option-meta" + (kind === "user" ? " is-" + String(entry.availability || "") : "") },
              detail
            ),
          ];
        },
        pick: function (s) {
          var token = "@[" + mentionName(name, kind + " " + entry.id) + "](" + kind + ":" + entry.id + ")";
          var next = composer.value.charAt(s.end);
          var start = s.start;
          var end = s.end;
          closeSuggest();
          replaceRange(start, end, token + (next && /\s/.test(next) ? "" : " "));
          if (next && /\s/.test(next)) composer.setSelectionRange(start + token.length + 1, start + token.length + 1);
        },
      };
    }

    function refreshMentions() {
      var s = suggest;
      var ready = !!people.agents;
      if (ready) showMentions();
      if (!ready || Date.now() - people.at >= PEOPLE_MAX_AGE_MS) {
        if (!ready) {
          s.state = "loading";
          renderList();
        }
        loadPeople().then(function () {
          if (suggest !== s) return;
          if (people.error && !people.agents) {
            s.state = "error";
            s.error = c.apiErrorText(people.error) || t("ct_people_error");
            s.retry = function () {
              s.state = "loading";
              renderList();
              loadPeople(true).then(function () { if (suggest === s) refreshMentions(); });
            };
            renderList();
            return;
          }
          showMentions();
        });
      }
    }

    function showMentions() {
      var s = suggest;
      var query = fold(s.query).trim();
      var items = [];
      (people.agents || []).forEach(function (agent) {
        if (agent.id === c.me.id) return; // the author is never notified of their own note
        var rank = score(query, agent.name, agent.email);
        if (rank >= 0) items.push(mentionItem("user", agent, rank));
      });
      (people.teams || []).forEach(function (team) {
        var rank = score(query, team.name, null);
        if (rank >= 0) items.push(mentionItem("team", team, rank + 0.5));
      });
      items.sort(function (a, b) { return a.rank - b.rank || a.name.localeCompare(b.name); });
      // Words typed after a full name are the note going on, not a search.
      if (!items.length && /\s/.test(s.query)) {
        closeSuggest();
        return;
      }
      s.state = "ready";
      s.error = null;
      s.empty = t("ct_no_people", { query: s.query });
      setItems(items.slice(0, MENTION_MAX));
      renderList();
    }

    // Canned replies.

    function cannedItem(entry) {
      return {
        key: "canned:" + entry.id,
        render: function () {
          return [
            h(
              "span",
              { class: "sb-ct-option-head" },
              h("span", { class: "sb-ct-shortcut", text: "/" + entry.shortcut }),
              entry.title ? h("span", { class: "sb-ct-option-main", text: entry.title }) : null,
              h("span", {
                class: "sb-ct-badge " + (entry.shared ? "is-shared" : "is-personal"),
                text: entry.shared ? t("ct_shared") : t("ct_personal"),
              })
            ),
            h("span", { class: "sb-ct-preview", text: c.excerpt(entry.body, 120) }),
          ];
        },
        pick: function (s) { insertCanned(entry, s); },
      };
    }

    function refreshCanned() {
      var s = suggest;
      clearTimeout(s.timer);
      var token = ++s.token;
      if (s.state !== "busy") s.state = "loading";
      list.setAttribute("aria-busy", "true");
      renderStatus();
      s.timer = setTimeout(function () {
        c.api(API + "canned-replies/?q=" + encodeURIComponent(s.query)).then(
          function (answer) {
            if (suggest !== s || s.token !== token) return; // an answer to an older query
            list.removeAttribute("aria-busy");
            s.state = "ready";
            s.error = null;
            s.empty = s.query ? t("ct_no_canned", { query: s.query }) : t("ct_no_canned_yet");
            setItems((Array.isArray(answer) ? answer : []).map(cannedItem));
            renderList();
          },
          function (error) {
            if (suggest !== s || s.token !== token) return;
            list.removeAttribute("aria-busy");
            s.state = "error";
            s.error = c.apiErrorText(error) || t("ct_canned_error");
            s.retry = null;
            renderList();
          }
        );
      }, s.items.length || s.query ? CANNED_DEBOUNCE_MS : 0);
    }

    function insertCanned(entry, s) {
      var cur = c.state.cur;
      if (!cur) return;
      var token = ++s.token;
      clearTimeout(s.timer);
      s.state = "busy";
      s.busy = t("ct_canned_inserting", { shortcut: entry.shortcut });
      renderStatus();
      var typed = "/" + s.query;
      c.api(API + "canned-replies/" + encodeURIComponent(entry.id) + "/render/?conversation=" + encodeURIComponent(cur.id)).then(
        function (answer) {
          if (suggest !== s || s.token !== token || c.state.cur !== cur) return;
          var text = answer && typeof answer.text === "string" ? answer.text : "";
          var start = s.start;
          var end = composer.value.slice(start, start + typed.length) === typed ? start + typed.length : s.end;
          closeSuggest();
          replaceRange(start, end, text);
        },
        function (error) {
          if (suggest !== s || s.token !== token) return;
          s.state = "error";
          s.error = [t("ct_canned_render_error", { shortcut: entry.shortcut }), c.apiErrorText(error)].filter(Boolean).join(" ");
          s.retry = function () { insertCanned(entry, s); };
          renderList();
        }
      );
    }

    // --- Keys -------------------------------------------------------------------------
    //
    // In the capture phase on the form, so that this runs before the console's own
    // listener on the textarea: a key the list takes is defaultPrevented, which the
    // console reads as "not a send".

    form.addEventListener(
      "keydown",
      function (event) {
        if (event.target !== composer) return;
        if (event.isComposing || event.keyCode === 229) return; // an input method's key
        if (isToggleKey(event)) {
          event.preventDefault();
          setMode(!note, true);
          return;
        }
        if (suggest) {
          var key = event.key;
          if (key === "ArrowDown" || key === "ArrowUp") {
            if (event.altKey || event.ctrlKey || event.metaKey) return;
            event.preventDefault();
            setActive(suggest.active + (key === "ArrowDown" ? 1 : -1), true);
          } else if (key === "Enter" && !event.shiftKey) {
            event.preventDefault();
            if (suggest.active >= 0 && suggest.state !== "error") pick(suggest.active);
            else if (suggest.state !== "busy") dismiss();
          } else if (key === "Tab" && !event.shiftKey && suggest.active >= 0 && suggest.state !== "error") {
            event.preventDefault();
            pick(suggest.active);
          } else if (key === "Escape") {
            event.preventDefault();
            event.stopPropagation();
            dismiss();
          }
          return;
        }
        if (event.key === "Escape" && c.compose.replyTo !== null && c.compose.replyTo !== undefined) {
          event.preventDefault();
          event.stopPropagation();
          clearQuote();
        }
      },
      true
    );

    composer.addEventListener("input", function () {
      // The quote went with a send made elsewhere (a template, a retry).
      if (!quoteBar.hidden && (c.compose.replyTo === null || c.compose.replyTo === undefined)) hideQuote();
      detect();
    });
    composer.addEventListener("click", detect);
    composer.addEventListener("keyup", function (event) {
      if (/^(Arrow(Left|Right)|Home|End|PageUp|PageDown)$/.test(event.key)) detect();
      else if (!suggest && /^Arrow(Up|Down)$/.test(event.key)) detect();
    });
    composer.addEventListener("blur", function () {
      setTimeout(function () {
        var active = document.activeElement;
        if (active !== composer && !popup.contains(active)) closeSuggest();
      }, 150);
    });

    // --- Save as canned reply ----------------------------------------------------------

    var savedTimer = null;

    function openSave() {
      saveError.hidden = true;
      if (!composer.value.trim()) {
        showSaveError(t("ct_save_empty"));
        saveForm.hidden = false;
        saveOpen.setAttribute("aria-expanded", "true");
        composer.focus();
        return;
      }
      saveForm.hidden = false;
      saveOpen.setAttribute("aria-expanded", "true");
      saveShortcut.focus();
    }

    function closeSave(focus) {
      saveForm.hidden = true;
      saveError.hidden = true;
      saveOpen.setAttribute("aria-expanded", "false");
      saveButton.disabled = false;
      if (focus) composer.focus();
    }

    function showSaveError(text) {
      saveError.textContent = text;
      saveError.hidden = false;
    }

    function save() {
      var body = composer.value;
      var shortcut = saveShortcut.value.trim().replace(/^\/+/, "");
      if (!body.trim()) {
        showSaveError(t("ct_save_empty"));
        return;
      }
      if (!shortcut) {
        showSaveError(t("ct_save_no_shortcut"));
        saveShortcut.focus();
        return;
      }
      saveError.hidden = true;
      saveButton.disabled = true;
      saveButton.textContent = t("ct_saving");
      c.api(API + "canned-replies/", {
        method: "POST",
        json: { shortcut: shortcut, title: saveTitle.value.trim(), body: body },
      }).then(
        function (canned) {
          saveButton.textContent = t("ct_save");
          saveShortcut.value = "";
          saveTitle.value = "";
          closeSave(true);
          savedNotice.textContent = t("ct_saved", { shortcut: (canned && canned.shortcut) || shortcut });
          clearTimeout(savedTimer);
          savedTimer = setTimeout(function () { savedNotice.textContent = ""; }, SAVED_NOTICE_MS);
        },
        function (error) {
          saveButton.disabled = false;
          saveButton.textContent = t("ct_save");
          showSaveError(c.apiErrorText(error) || t("ct_save_failed"));
        }
      );
    }

    [saveShortcut, saveTitle].forEach(function (input) {
      // Enter here would submit the composer's form, which sends the reply.
      input.addEventListener("keydown", function (event) {
        if (event.key === "Enter" && !event.isComposing) {
          event.preventDefault();
          save();
        } else if (event.key === "Escape") {
          event.preventDefault();
          event.stopPropagation();
          closeSave(true);
        }
      });
    });

    // --- Hooks ------------------------------------------------------------------------

    c.on("open", function (cur) {
      closeSuggest();
      dismissed = null;
      clearQuote();
      closeSave(false);
      setMode(!!modes.get(cur.id), false);
    });

    c.on("close", function () {
      closeSuggest();
      clearQuote();
      closeSave(false);
    });

    c.on("sent", function () {
      closeSuggest();
      dismissed = null;
      hideQuote();
    });

    applyMode();
  });
})();
