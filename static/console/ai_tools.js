/* Switchboard console: the AI agent's part in a conversation (styles in ai_tools.css).
 * - In the conversation's head: while the AI answers, which AI profile it is and a
 *   one-click "Take over"; once a person handles it, "Hand back to AI" where an AI
 *   profile served it.
 * - AI replies marked as such, with their engine and the sources they used; the AI's
 *   handover note drawn as a summary.
 * - "AI runs": what each turn understood and did, its tool calls and what it cost.
 * - The answer a model is writing, as a faint bubble that grows until the reply is stored.
 * Everything from the API (GET/POST conversations/<id>/ai/...) reaches the page as text.
 * Its words are the console's strings named ai_* (inbox/console_text/ai_tools.py). */
(function () {
  "use strict";
  if (!window.SwitchboardConsole) return;

  window.SwitchboardConsole.extend(function (c) {
    var h = c.h;
    var DRAFT_ID = "ai-draft";
    var RUNS_ID = "ai-runs";
    var BANNER_MS = 6000;

    var states = new Map(); // conversation id -> the answer of GET ai/
    // conversation id -> the handler the conversation had when its state was asked for:
    // a different handler now means the state is old (a takeover, a handover).
    var askedFor = new Map();
    var asking = new Map(); // conversation id -> the request on its way
    var askAgain = new Set(); // conversation ids to ask again once that request is answered
    var busy = false; // a takeover or hand-back on its way

    // --- Small parts ------------------------------------------------------------------

    function t(key, params) {
      return c.t(key.indexOf("ai_") === 0 ? key : "ai_" + key, params);
    }

    /** The label of an API value (outcome_answered, reason_emotion…), else the value. */
    function label(prefix, value) {
      var key = "ai_" + prefix + value;
      var translated = c.t(key);
      return translated === key ? text(value) : translated;
    }

    function text(value) {
      return value === null || value === undefined ? "" : String(value);
    }

    function isObject(value) {
      return value !== null && typeof value === "object" && !Array.isArray(value);
    }

    function listOf(value) {
      return Array.isArray(value) ? value : [];
    }

    function badge() {
      return h("span", { class: "ai-badge", text: t("ai_badge") });
    }

    function current() {
      var cur = c.state.cur;
      return cur && cur.conv ? cur : null;
    }

    function engineName(engine, model) {
      if (engine === "offline") return t("engine_offline");
      if (engine === "model") return text(model) || t("engine_model");
      return "";
    }

    // --- The AI's state of a conversation -----------------------------------------------

    function loadState(id, handler) {
      askedFor.set(id, handler);
      if (asking.has(id)) {
        askAgain.add(id); // the answer on its way may predate what changed
        return asking.get(id);
      }
      var request = c.api(c.conversationUrl(id, "ai/"))
        .then(function (state) {
          states.set(id, state);
        })
        .catch(function () { /* the head shows what the conversation says; a push retries */ })
        .then(function () {
          asking.delete(id);
          if (askAgain.delete(id)) return loadState(id, askedFor.get(id));
          renderHead();
          renderRuns();
        });
      asking.set(id, request);
      return request;
    }

    // --- The conversation's head ------------------------------------------------------
    // Who answers goes beside the assignee ("The AI agent is answering", from console.js),
    // with the run log; the takeover or hand-back button before workflow.js's actions.

    function slot(id, className, before) {
      var element = document.getElementById(id);
      if (element) return element;
      if (!before) return null;
      element = h("span", { id: id, class: className, hidden: true });
      before.parentNode.insertBefore(element, before);
      return element;
    }

    function fill(element, parts) {
      element.replaceChildren.apply(element, parts);
      element.hidden = !parts.length;
    }

    function renderHead() {
      var assignee = document.getElementById("conversation-assignee");
      var meta = slot("ai-meta", "ai-meta", assignee && assignee.nextSibling);
      var actions = slot("ai-head", "ai-head", document.getElementById("conversation-actions"));
      if (!meta || !actions) return;
      var cur = current();
      if (!cur) {
        meta.dataset.drawn = "";
        fill(meta, []);
        fill(actions, []);
        return;
      }
      var conversation = cur.conv;
      if (askedFor.get(cur.id) !== conversation.handler) loadState(cur.id, conversation.handler);
      var state = states.get(cur.id) || null;
      var profile = state ? state.profile : null;
      var hasRuns = !!(state && listOf(state.runs).length);
      // Redrawn only when what it shows changed, so that live updates keep the focus.
      var drawn = JSON.stringify([cur.id, conversation.handler, profile, hasRuns, busy]);
      if (meta.dataset.drawn === drawn) return;
      meta.dataset.drawn = drawn;
      var ai = conversation.handler === "ai";
      var says = profile ? t("answering_as", { name: profile }) : t("answering");
      fill(meta, [
        ai
          ? h("span", { class: "ai-answering", title: says, "aria-label": says }, badge(), profile ? h("span", { text: profile }) : null)
          : null,
        profile || hasRuns
          ? h("button", {
              type: "button",
              class: "sb-link-btn ai-runs-open",
              "data-action": "ai-runs",
              "aria-haspopup": "dialog",
              text: t("runs"),
              title: t("runs_title"),
              onclick: openRuns,
            })
          : null,
      ].filter(Boolean));
      fill(actions, [
        ai
          ? h("button", {
              type: "button",
              class: "sb-btn sb-btn-primary ai-action",
              "data-action": "ai-take-over",
              text: t("take_over"),
              title: t("take_over_hint"),
              disabled: busy,
              onclick: function () { act("ai/takeover/"); },
            })
          : profile
            ? h("button", {
                type: "button",
                class: "sb-btn ai-action",
                "data-action": "ai-hand-back",
                text: t("hand_back"),
                title: t("hand_back_hint"),
                disabled: busy,
                onclick: function () { act("ai/handback/"); },
              })
            : null,
      ].filter(Boolean));
    }

    /** Takes over or hands back, then shows the conversation as it is now. Errors (409:
     * someone else changed it, 403: not the assignee) go to the banner, as workflow.js's. */
    function act(suffix) {
      var cur = current();
      if (!cur || busy) return;
      var id = cur.id;
      busy = true;
      renderHead();
      c.api(c.conversationUrl(id, suffix), { method: "POST" })
        .then(function (state) {
          states.set(id, state);
          askedFor.set(id, state.handler);
          return c.api(c.conversationUrl(id)).then(c.upsertConversation);
        })
        .catch(function (error) {
          c.showBanner(c.apiErrorText(error), "error");
          setTimeout(c.hideBanner, BANNER_MS);
          askedFor.delete(id); // asked again: what is it now?
        })
        .then(function () {
          busy = false;
          renderHead();
        });
    }

    // --- Messages -------------------------------------------------------------------

    function sourcesElement(citations, tools) {
      var items = listOf(citations)
        .filter(isObject)
        .map(function (citation) {
          var headings = listOf(citation.headings).map(text).filter(Boolean);
          return h(
            "li",
            { class: "ai-source" },
            h("span", { class: "ai-source-title", text: text(citation.title) || "—" }),
            headings.length ? h("span", { class: "ai-source-headings", text: headings.join(" › ") }) : null
          );
        });
      var names = listOf(tools).map(text).filter(Boolean);
      if (!items.length && !names.length) return null;
      return h(
        "div",
        { class: "ai-sources" },
        items.length
          ? h("div", null, h("span", { class: "ai-label", text: t("sources") }), h("ol", { class: "ai-source-list" }, items))
          : null,
        names.length
          ? h("div", { class: "ai-tools-used" }, h("span", { class: "ai-label", text: t("tools") }), " ", names.join(", "))
          : null
      );
    }

    /** Whether `m` is the newest message held of the open conversation. */
    function isNewest(m) {
      var cur = c.state.cur;
      if (!cur || typeof m.seq !== "number") return false;
      var newest = true;
      cur.messages.forEach(function (other, seq) { if (seq > m.seq) newest = false; });
      return newest;
    }

    function decorateMessage(li, m) {
      if (!li || !m) return;
      // The reply the draft was, pushed or fetched: the draft has done its job.
      if (m.direction === "out" && !m.private && isNewest(m)) removeDraft();
      if (m.sender_type !== "ai") return;
      var content = isObject(m.content) ? m.content : {};
      var summary = isObject(content.ai_summary) ? content.ai_summary : null;
      var ai = isObject(content.ai) ? content.ai : {};
      var author = li.querySelector(".msg-author");
      var bubble = li.querySelector(".msg-bubble");
      var profile = text(summary ? summary.profile : ai.profile);
      if (author) {
        if (profile) author.textContent = profile;
        var engine = summary ? "" : engineName(ai.engine, ai.model);
        if (engine) author.after(badge(), h("span", { class: "ai-engine", text: engine }));
        else author.after(badge());
      }
      if (summary) {
        li.classList.add("ai-summary");
        if (bubble) bubble.prepend(h("div", { class: "ai-summary-head", text: t("summary") }));
        return;
      }
      var sources = sourcesElement(ai.citations, ai.tools);
      if (sources && bubble) bubble.after(sources);
    }

    // --- The answer being written ------------------------------------------------------

    function removeDraft() {
      var draft = document.getElementById(DRAFT_ID);
      if (draft) draft.remove();
    }

    function showDraft(cur, body) {
      var list = c.el.messages;
      var scroll = c.el.scroll;
      var atBottom = scroll.scrollHeight - scroll.scrollTop - scroll.clientHeight < 80;
      var draft = document.getElementById(DRAFT_ID);
      if (!draft) {
        var state = states.get(cur.id);
        // Hidden from screen readers: they hear the stored reply once, not every delta.
        draft = h(
          "li",
          { id: DRAFT_ID, class: "msg msg-out msg-from-ai ai-draft", "data-sender": DRAFT_ID, "aria-hidden": "true" },
          h(
            "div",
            { class: "msg-meta" },
            h("span", { class: "msg-author", text: (state && state.profile) || c.t("ai_agent") }),
            badge(),
            h("span", { class: "ai-writing", text: t("writing") })
          ),
          h("div", { class: "msg-bubble" }, h("div", { class: "msg-body" }))
        );
      }
      draft.querySelector(".msg-body").textContent = body;
      if (list.lastElementChild !== draft) list.appendChild(draft);
      if (atBottom) scroll.scrollTop = scroll.scrollHeight;
    }

    /** The conversation an event is about: its id, or (message.created) the conversation. */
    function eventConversation(event) {
      return isObject(event.conversation) ? event.conversation.id : event.conversation;
    }

    function onDraft(event) {
      var cur = current();
      if (!cur || eventConversation(event) !== cur.id) return;
      if (event.state === "writing" && event.text) showDraft(cur, String(event.text));
      else removeDraft();
    }

    function onMessageCreated(event) {
      var cur = current();
      var m = event.message;
      if (!cur || eventConversation(event) !== cur.id || !m) return;
      var draft = document.getElementById(DRAFT_ID);
      if (draft) c.el.messages.appendChild(draft); // it stays the newest
      if (m.sender_type === "ai") loadState(cur.id, cur.conv.handler); // a new run
    }

    // --- The run log ----------------------------------------------------------------

    function jsonBlock(title, value) {
      if (value === null || value === undefined || value === "") return null;
      var shown;
      try {
        shown = typeof value === "string" ? value : JSON.stringify(value, null, 2);
      } catch (error) {
        shown = String(value);
      }
      return h("div", { class: "ai-json" }, h("span", { class: "ai-label", text: title }), h("pre", { text: shown }));
    }

    function toolCallsElement(calls) {
      calls = listOf(calls).filter(isObject);
      if (!calls.length) return null;
      return h(
        "div",
        { class: "ai-run-tools" },
        h("span", { class: "ai-label", text: t("tool_calls") }),
        h(
          "ul",
          { class: "ai-tool-list" },
          calls.map(function (call) {
            var facts = [call.ok ? t("tool_ok") : t("tool_failed")];
            if (call.status) facts.push(text(call.status));
            if (typeof call.ms === "number") facts.push(t("milliseconds", { ms: call.ms }));
            return h(
              "li",
              { class: "ai-tool-call" + (call.ok ? "" : " is-failed") },
              h("div", { class: "ai-tool-head" }, h("code", { text: text(call.tool) }), " ", h("span", { text: facts.join(" · ") })),
              call.error ? h("div", { class: "ai-tool-error", text: text(call.error) }) : null,
              jsonBlock(t("arguments"), call.arguments),
              jsonBlock(t("result"), call.result)
            );
          })
        )
      );
    }

    function runElement(run) {
      var facts = [
        [t("intent"), text(run.intent)],
        [t("mood"), typeof run.emotion === "number" ? run.emotion.toFixed(2) : ""],
        [t("language"), text(run.language)],
        [t("tokens"), t("tokens_value", { prompt: run.prompt_tokens || 0, completion: run.completion_tokens || 0 })],
        [t("cost"), text(run.cost)],
        [t("latency"), t("milliseconds", { ms: run.latency_ms || 0 })],
        [t("handover_reason"), run.handoff_reason ? label("reason_", run.handoff_reason) : ""],
        [t("error"), text(run.error)],
      ];
      var list = h("dl", { class: "ai-run-facts" });
      facts.forEach(function (fact) {
        if (!fact[1]) return;
        list.appendChild(h("dt", { text: fact[0] }));
        list.appendChild(h("dd", { text: fact[1] }));
      });
      return h(
        "li",
        { class: "ai-run", "data-outcome": text(run.outcome) },
        h(
          "div",
          { class: "ai-run-head" },
          h("strong", { class: "ai-run-outcome", text: label("outcome_", run.outcome) }),
          h("span", { class: "ai-engine", text: engineName(run.engine, run.model) }),
          c.timeElement(run.created_at, "ai-run-time", c.fullTime(run.created_at))
        ),
        list,
        sourcesElement(run.citations, null),
        toolCallsElement(run.tool_calls)
      );
    }

    function renderRuns() {
      var dialog = document.getElementById(RUNS_ID);
      if (!dialog) return;
      var body = dialog.querySelector(".ai-runs-body");
      var state = states.get(dialog.dataset.conversation);
      if (!state) return; // still loading (or failed: "Loading…" stays until a retry)
      var runs = listOf(state.runs).filter(isObject);
      body.replaceChildren(
        runs.length
          ? h("ol", { class: "ai-run-list" }, runs.map(runElement))
          : h("p", { class: "sb-muted", text: t("runs_none") })
      );
    }

    function closeRuns() {
      var dialog = document.getElementById(RUNS_ID);
      if (!dialog) return;
      if (dialog.open) dialog.close();
      dialog.remove();
      var opener = document.querySelector("#ai-meta [data-action='ai-runs']");
      if (opener) opener.focus();
    }

    function openRuns() {
      var cur = current();
      if (!cur) return;
      closeRuns();
      var close = h("button", { type: "button", class: "sb-btn", text: t("close"), onclick: closeRuns });
      var dialog = h(
        "dialog",
        { id: RUNS_ID, class: "sb-dialog ai-runs-dialog", "aria-labelledby": "ai-runs-title", "data-conversation": cur.id },
        h("h2", { id: "ai-runs-title", text: t("runs_title") }),
        h("div", { class: "ai-runs-body" }, h("p", { class: "sb-muted", text: c.t("loading") })),
        h("div", { class: "sb-dialog-actions" }, close)
      );
      dialog.addEventListener("cancel", function (event) {
        event.preventDefault();
        closeRuns();
      });
      c.root.appendChild(dialog);
      if (typeof dialog.showModal === "function") dialog.showModal();
      else dialog.setAttribute("open", "");
      close.focus();
      renderRuns(); // what is held now, then the latest
      loadState(cur.id, cur.conv.handler);
    }

    // --- Wiring ---------------------------------------------------------------------

    c.on("header", renderHead);
    c.on("open", function () {
      removeDraft();
      closeRuns();
      renderHead();
    });
    c.on("close", function () {
      removeDraft();
      closeRuns();
      renderHead();
    });
    c.on("message", decorateMessage);
    c.on("event", function (event) {
      var cur = current();
      if (event.type === "ai.draft") onDraft(event);
      else if (event.type === "message.created") onMessageCreated(event);
      else if (event.type === "ready" && cur) loadState(cur.id, cur.conv.handler); // missed pushes
      else if (event.type === "conversation.updated" && cur && cur.conv.handler !== "ai") removeDraft();
    });
  });
})();
