/* Switchboard console: working a conversation (see workflow.css).
 *
 * - The agent's availability (online, busy, offline) and their notifications (mentions,
 *   assignments, transfers, SLA breaches), in the list's header.
 * - The open conversation's actions in its header: resolve or reopen, snooze, pending,
 *   priority, assign, transfer with a note, claim (and a supervisor breaking a claim),
 *   tags and merging into another conversation of the same customer.
 * - Who holds the conversation (a claim), above the composer.
 * - The "?" overview of every keyboard shortcut the console's tools offer.
 * Everything goes through the REST API and is kept live by the console's socket pushes.
 */
(function () {
  "use strict";
  if (!window.SwitchboardConsole) return;

  window.SwitchboardConsole.extend(function (c) {
    var t = c.t;
    var h = c.h;
    var API = c.config.urls.api; // "/api/v1/"
    var SEE_ALL = c.me.role === "supervisor" || c.me.role === "admin";
    var PRIORITIES = c.config.labels.priority || {};
    var AVAILABILITY = c.config.labels.availability || {};
    var NOTIFICATION_PAGE = 30;

    var notifications = { items: [], unread: 0, loaded: false, open: false };
    var claimTimer = null;

    // --- Small parts ------------------------------------------------------------------

    function dialogOpen() {
      return !!document.querySelector("dialog[open]");
    }

    function errorLine() {
      return h("p", { class: "wf-error", role: "alert", hidden: true });
    }

    function showError(line, error) {
      line.textContent = c.apiErrorText(error);
      line.hidden = false;
    }

    function itemsOf(answer) {
      return Array.isArray(answer) ? answer : (answer && answer.results) || [];
    }

    /** A modal dialog: `build(close)` returns its body; resolves when it closes. */
    function modal(title, build, className) {
      var dialog = h("dialog", { class: "sb-dialog wf-dialog " + (className || ""), "aria-label": title });
      var close = function () {
        if (dialog.open) dialog.close();
        dialog.remove();
      };
      dialog.appendChild(h("h2", { text: title }));
      dialog.appendChild(build(close));
      dialog.addEventListener("cancel", function (event) {
        event.preventDefault();
        close();
      });
      c.root.appendChild(dialog);
      if (typeof dialog.showModal === "function") dialog.showModal();
      else dialog.setAttribute("open", "");
      var first = dialog.querySelector("[autofocus], input, select, textarea, button:not(.wf-close)");
      if (first) first.focus();
      return dialog;
    }

    function cancelButton(close) {
      return h("button", { type: "button", class: "sb-btn", text: t("cancel"), onclick: close });
    }

    /** A small menu under `anchor`; closes on a choice, Escape or a click elsewhere. */
    function menu(anchor, entries) {
      closeMenus();
      var list = h("div", { class: "wf-menu", role: "menu" });
      var items = [];
      entries.forEach(function (entry) {
        if (!entry) return;
        if (entry.heading) {
          list.appendChild(h("div", { class: "wf-menu-heading", text: entry.heading }));
          return;
        }
        var item = h("button", {
          type: "button",
          role: "menuitem",
          class: "wf-menu-item" + (entry.current ? " is-current" : "") + (entry.danger ? " is-danger" : ""),
          text: entry.label,
          "aria-checked": entry.current ? "true" : null,
          onclick: function () {
            closeMenus();
            anchor.focus();
            entry.run();
          },
        });
        items.push(item);
        list.appendChild(item);
      });
      list.addEventListener("keydown", function (event) {
        var index = items.indexOf(document.activeElement);
        if (event.key === "ArrowDown" || event.key === "ArrowUp") {
          event.preventDefault();
          var step = event.key === "ArrowDown" ? 1 : -1;
          items[(index + step + items.length) % items.length].focus();
        } else if (event.key === "Escape") {
          event.preventDefault();
          event.stopPropagation();
          closeMenus();
          anchor.focus();
        }
      });
      anchor.setAttribute("aria-expanded", "true");
      anchor.parentNode.appendChild(list);
      list.dataset.anchor = "1";
      if (items.length) items[0].focus();
      setTimeout(function () {
        document.addEventListener("click", closeOnOutside, true);
      });
      return list;
    }

    function closeMenus() {
      document.querySelectorAll(".wf-menu").forEach(function (node) {
        var anchor = node.parentNode && node.parentNode.querySelector("[aria-expanded='true']");
        if (anchor) anchor.setAttribute("aria-expanded", "false");
        node.remove();
      });
      document.removeEventListener("click", closeOnOutside, true);
    }

    function closeOnOutside(event) {
      if (!event.target.closest || !event.target.closest(".wf-menu")) closeMenus();
    }

    // --- Availability ---------------------------------------------------------------

    var availability = { value: null, button: null };

    function renderAvailability() {
      var slot = document.getElementById("agent-tools");
      if (!slot) return;
      if (!availability.button) {
        availability.button = h("button", {
          type: "button",
          class: "wf-availability",
          "aria-haspopup": "menu",
          "aria-expanded": "false",
          onclick: function () { availabilityMenu(); },
        });
        slot.appendChild(h("span", { class: "wf-anchor" }, availability.button));
      }
      var value = availability.value;
      availability.button.hidden = !value;
      availability.button.dataset.availability = value || "";
      var label = AVAILABILITY[value] || value || "";
      availability.button.replaceChildren(
        h("span", { class: "wf-dot", "aria-hidden": "true" }),
        h("span", { class: "wf-availability-label", text: label })
      );
      availability.button.title = t("wf_availability_title", { state: label });
      availability.button.setAttribute("aria-label", t("wf_availability_title", { state: label }));
    }

    function availabilityMenu() {
      menu(
        availability.button,
        Object.keys(AVAILABILITY).map(function (value) {
          return {
            label: AVAILABILITY[value],
            current: value === availability.value,
            run: function () { setAvailability(value); },
          };
        })
      );
    }

    function loadAvailability() {
      c.api(API + "me/availability/")
        .then(function (answer) {
          availability.value = answer.availability;
          renderAvailability();
        })
        .catch(function () {
          availability.value = null; // not an agent (no profile): nothing to switch
          renderAvailability();
        });
    }

    function setAvailability(value) {
      var before = availability.value;
      availability.value = value;
      renderAvailability();
      c.api(API + "me/availability/", { method: "POST", json: { availability: value } })
        .then(function (answer) {
          availability.value = answer.availability;
          renderAvailability();
        })
        .catch(function (error) {
          availability.value = before;
          renderAvailability();
          c.showBanner(c.apiErrorText(error), "error");
          setTimeout(c.hideBanner, 5000);
        });
    }

    // --- Notifications --------------------------------------------------------------

    var bell = null;

    function renderBell() {
      var slot = document.getElementById("agent-tools");
      if (!slot) return;
      if (!bell) {
        bell = h("button", {
          type: "button",
          class: "sb-icon-btn wf-bell",
          id: "notifications-toggle",
          "aria-haspopup": "dialog",
          "aria-expanded": "false",
          onclick: toggleNotifications,
        });
        bell.appendChild(bellIcon());
        bell.appendChild(h("span", { class: "wf-count", hidden: true }));
        slot.appendChild(h("span", { class: "wf-anchor" }, bell));
      }
      var count = bell.querySelector(".wf-count");
      count.textContent = notifications.unread > 99 ? "99+" : String(notifications.unread);
      count.hidden = notifications.unread === 0;
      var label = notifications.unread ? t("wf_notifications_unread", { count: notifications.unread }) : t("wf_notifications");
      bell.setAttribute("aria-label", label);
      bell.title = label;
    }

    /** An inbox tray (the desktop-notification switch beside it has the bell). */
    function bellIcon() {
      var svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
      svg.setAttribute("viewBox", "0 0 24 24");
      svg.setAttribute("aria-hidden", "true");
      var path = document.createElementNS("http://www.w3.org/2000/svg", "path");
      path.setAttribute("d", "M19 3H5a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h14a2 2 0 0 0 2-2V5a2 2 0 0 0-2-2Zm0 12h-4a3 3 0 0 1-6 0H5V5h14Z");
      svg.appendChild(path);
      return svg;
    }

    function loadNotifications() {
      return c.api(API + "notifications/?page_size=" + NOTIFICATION_PAGE)
        .then(function (page) {
          notifications.items = itemsOf(page);
          notifications.loaded = true;
          return c.api(API + "notifications/?unread=1&page_size=100");
        })
        .then(function (page) {
          notifications.unread = itemsOf(page).length;
          renderBell();
          if (notifications.open) renderNotificationPanel();
        })
        .catch(function () { /* the bell stays as it was; the next push or open retries */ });
    }

    function toggleNotifications() {
      var panel = document.getElementById("notifications-panel");
      if (panel) {
        closeNotifications();
        return;
      }
      notifications.open = true;
      bell.setAttribute("aria-expanded", "true");
      panel = h("div", {
        class: "wf-notifications",
        id: "notifications-panel",
        role: "dialog",
        "aria-label": t("wf_notifications"),
      });
      panel.addEventListener("keydown", function (event) {
        if (event.key === "Escape") {
          event.stopPropagation();
          closeNotifications();
          bell.focus();
        }
      });
      bell.parentNode.appendChild(panel);
      renderNotificationPanel();
      loadNotifications();
      setTimeout(function () {
        document.addEventListener("click", closeNotificationsOutside, true);
      });
    }

    function closeNotificationsOutside(event) {
      if (event.target.closest && (event.target.closest("#notifications-panel") || event.target.closest(".wf-bell"))) return;
      closeNotifications();
    }

    function closeNotifications() {
      notifications.open = false;
      var panel = document.getElementById("notifications-panel");
      if (panel) panel.remove();
      if (bell) bell.setAttribute("aria-expanded", "false");
      document.removeEventListener("click", closeNotificationsOutside, true);
    }

    function renderNotificationPanel() {
      var panel = document.getElementById("notifications-panel");
      if (!panel) return;
      var head = h(
        "div",
        { class: "wf-notifications-head" },
        h("strong", { text: t("wf_notifications") }),
        h("button", {
          type: "button",
          class: "sb-link-btn",
          text: t("wf_mark_all_read"),
          disabled: notifications.unread === 0,
          onclick: function () { markRead(null); },
        })
      );
      var list = h("ul", { class: "wf-notification-list" });
      notifications.items.forEach(function (item) {
        list.appendChild(
          h(
            "li",
            { class: "wf-notification" + (item.read_at ? "" : " is-unread") },
            h(
              "button",
              {
                type: "button",
                class: "wf-notification-open",
                onclick: function () { openNotification(item); },
              },
              h("span", { class: "wf-notification-text", text: item.text }),
              c.timeElement(item.created_at, "wf-notification-time")
            )
          )
        );
      });
      var empty = notifications.loaded && !notifications.items.length
        ? h("p", { class: "sb-muted wf-pad", text: t("wf_no_notifications") })
        : !notifications.loaded
          ? h("p", { class: "sb-muted wf-pad", text: t("loading") })
          : null;
      panel.replaceChildren(head, list, empty || "");
      var first = panel.querySelector("button:not([disabled])");
      if (first && panel.contains(document.activeElement) === false) first.focus();
    }

    function openNotification(item) {
      if (!item.read_at) markRead([item.id]);
      closeNotifications();
      if (item.conversation) c.openConversation(item.conversation);
    }

    function markRead(ids) {
      var now = new Date().toISOString();
      notifications.items.forEach(function (item) {
        if (!ids || ids.indexOf(item.id) >= 0) item.read_at = item.read_at || now;
      });
      notifications.unread = ids ? Math.max(0, notifications.unread - ids.length) : 0;
      renderBell();
      renderNotificationPanel();
      c.api(API + "notifications/read/", { method: "POST", json: ids ? { ids: ids } : {} })
        .catch(loadNotifications);
    }

    function onNotification(item) {
      notifications.items = [item].concat(
        notifications.items.filter(function (other) { return other.id !== item.id; })
      ).slice(0, NOTIFICATION_PAGE);
      if (!item.read_at) notifications.unread += 1;
      renderBell();
      renderNotificationPanel();
      // Said once, politely, to screen readers and in the banner for a few seconds.
      c.showBanner(item.text, "info");
      setTimeout(c.hideBanner, 5000);
    }

    // --- The open conversation's actions --------------------------------------------

    var bar = null;

    function conv() {
      return c.state.cur && c.state.cur.conv;
    }

    function claimActive(conversation) {
      if (!conversation || !conversation.claimed_by || !conversation.claimed_until) return false;
      var until = c.parseDate(conversation.claimed_until);
      return !!until && until.getTime() > Date.now();
    }

    function actionButton(text, onclick, attrs) {
      return h("button", Object.assign({ type: "button", class: "sb-btn wf-action", text: text, onclick: onclick }, attrs || {}));
    }

    function renderActions() {
      var slot = document.getElementById("conversation-actions");
      var conversation = conv();
      if (!slot) return;
      if (!conversation) {
        slot.replaceChildren();
        slot.dataset.drawn = "";
        renderClaimBar();
        return;
      }
      var resolved = conversation.status === "resolved";
      // Redrawn only when what it shows changed: a live update (a read receipt, a new
      // message) must not close a menu the agent has open.
      var drawn = JSON.stringify([conversation.id, resolved, conversation.priority, conversation.tags || []]);
      if (slot.dataset.drawn === drawn && slot.firstChild) {
        renderClaimBar();
        return;
      }
      slot.dataset.drawn = drawn;
      var main = resolved
        ? actionButton(t("wf_reopen"), function () { setStatus("open"); }, { "data-action": "reopen", title: t("wf_reopen") + " (E)" })
        : actionButton(t("wf_resolve"), function () { setStatus("resolved"); }, { "data-action": "resolve", class: "sb-btn sb-btn-primary wf-action", title: t("wf_resolve") + " (E)" });
      var snooze = actionButton(t("wf_snooze"), function () { snoozeMenu(snooze); }, {
        "data-action": "snooze",
        "aria-haspopup": "menu",
        "aria-expanded": "false",
        title: t("wf_snooze") + " (S)",
      });
      var more = actionButton("⋯", function () { moreMenu(more); }, {
        "data-action": "more",
        class: "sb-btn wf-action wf-more",
        "aria-haspopup": "menu",
        "aria-expanded": "false",
        "aria-label": t("wf_more_actions"),
        title: t("wf_more_actions"),
      });
      var priority = h("span", {
        class: "wf-priority",
        "data-priority": String(conversation.priority),
        text: PRIORITIES[String(conversation.priority)] || "",
        hidden: !(conversation.priority >= 2),
      });
      slot.replaceChildren(
        priority,
        tagsElement(conversation),
        h("span", { class: "wf-anchor" }, main),
        h("span", { class: "wf-anchor" }, snooze),
        h("span", { class: "wf-anchor" }, more)
      );
      renderClaimBar();
    }

    function tagsElement(conversation) {
      var tags = Array.isArray(conversation.tags) ? conversation.tags : [];
      var box = h("span", { class: "wf-tags" });
      tags.forEach(function (name) { box.appendChild(h("span", { class: "wf-tag", text: name })); });
      box.hidden = !tags.length;
      return box;
    }

    function snoozeMenu(anchor) {
      menu(
        anchor,
        c.snoozeChoices()
          .map(function (choice) {
            return {
              label: choice.label + " · " + c.fullTime(choice.until.toISOString()),
              run: function () { setStatus("snoozed", choice.until); },
            };
          })
          .concat([{ label: t("wf_snooze_custom"), run: snoozeDialog }])
      );
    }

    function snoozeDialog() {
      modal(t("wf_snooze_until"), function (close) {
        var input = h("input", {
          type: "datetime-local",
          id: "wf-snooze-at",
          required: true,
          min: c.zone.inputValue(new Date()),
          value: c.zone.inputValue(new Date(Date.now() + 24 * 3600 * 1000)),
        });
        var problem = errorLine();
        return h(
          "form",
          {
            class: "wf-form",
            onsubmit: function (event) {
              event.preventDefault();
              var when = c.zone.inputDate(input.value);
              if (!when || when.getTime() <= Date.now()) {
                problem.textContent = t("wf_snooze_future");
                problem.hidden = false;
                return;
              }
              setStatus("snoozed", when, problem).then(function (ok) { if (ok) close(); });
            },
          },
          h("label", { for: "wf-snooze-at", text: t("wf_snooze_until") + (c.zone.name ? " (" + c.zone.name + ")" : "") }),
          input,
          problem,
          h("div", { class: "sb-dialog-actions" }, cancelButton(close), h("button", { type: "submit", class: "sb-btn sb-btn-primary", text: t("wf_snooze") }))
        );
      });
    }

    function moreMenu(anchor) {
      var conversation = conv();
      if (!conversation) return;
      var claimed = claimActive(conversation);
      var mine = claimed && conversation.claimed_by.id === c.me.id;
      var entries = [
        { label: t("wf_assign") + " (A)", run: assignDialog },
        { label: t("wf_transfer") + " (T)", run: transferDialog },
        conversation.assignee && conversation.assignee.id === c.me.id
          ? null
          : { label: t("wf_assign_me"), run: assignToMe },
        conversation.status !== "pending" && conversation.status !== "resolved"
          ? { label: t("wf_mark_pending"), run: function () { setStatus("pending"); } }
          : null,
        conversation.status === "snoozed" ? { label: t("wf_unsnooze"), run: function () { setStatus("open"); } } : null,
        mine
          ? { label: t("wf_release"), run: release }
          : claimed
            ? SEE_ALL
              ? { label: t("wf_break_claim"), danger: true, run: breakClaim }
              : null
            : { label: t("wf_claim") + " (C)", run: claim },
        { label: t("wf_tags") + " (G)", run: tagsDialog },
        { label: t("wf_merge"), run: mergeDialog },
        { heading: t("wf_priority") },
      ];
      Object.keys(PRIORITIES)
        .sort()
        .reverse()
        .forEach(function (value) {
          entries.push({
            label: PRIORITIES[value],
            current: String(conversation.priority) === value,
            run: function () { setPriority(Number(value)); },
          });
        });
      menu(anchor, entries);
    }

    // --- Requests -------------------------------------------------------------------

    /** POSTs to the open conversation; applies the conversation it answers with. Resolves
     * true when it worked; an error goes to `problem` or the banner. */
    function act(suffix, json, problem, method) {
      var cur = c.state.cur;
      if (!cur) return Promise.resolve(false);
      return c.api(c.conversationUrl(cur.id, suffix), { method: method || "POST", json: json })
        .then(function (answer) {
          if (answer && answer.id) c.upsertConversation(answer);
          return true;
        })
        .catch(function (error) {
          if (problem) {
            showError(problem, error);
          } else {
            c.showBanner(c.apiErrorText(error), "error");
            setTimeout(c.hideBanner, 6000);
          }
          return false;
        });
    }

    function setStatus(status, until, problem) {
      var json = { status: status };
      if (until) json.snoozed_until = until.toISOString();
      return act("status/", json, problem);
    }

    function setPriority(priority) {
      return act("priority/", { priority: priority });
    }

    function claim() {
      return act("claim/", {});
    }

    function release() {
      return act("claim/", undefined, null, "DELETE");
    }

    function breakClaim() {
      var conversation = conv();
      c.confirmDialog({
        title: t("wf_break_claim"),
        body: t("wf_break_claim_body", { name: conversation && conversation.claimed_by ? conversation.claimed_by.name : "" }),
        confirm: t("wf_break_claim"),
        danger: true,
      }).then(function (yes) {
        if (yes) act("claim/break/", {});
      });
    }

    function assignToMe() {
      return act("assign/", { agent: c.me.id });
    }

    // --- Assign and transfer ----------------------------------------------------------

    function availabilityDot(value) {
      return h("span", { class: "wf-dot", "data-availability": value || "offline", title: AVAILABILITY[value] || "" });
    }

    /** A filterable radio list of agents and teams; `onPick` gets {agent} or {team}. */
    function picker(options) {
      var filter = h("input", {
        type: "search",
        class: "wf-filter",
        placeholder: t("wf_filter_people"),
        "aria-label": t("wf_filter_people"),
        autofocus: true,
      });
      var list = h("div", { class: "wf-choices", role: "radiogroup", "aria-label": options.label });
      var problem = errorLine();
      var chosen = null;
      var entries = [];
      var draw = function () {
        var q = filter.value.trim().toLowerCase();
        list.replaceChildren();
        entries
          .filter(function (entry) { return !q || entry.search.indexOf(q) >= 0; })
          .forEach(function (entry) {
            var id = "wf-choice-" + entry.key;
            var radio = h("input", {
              type: "radio",
              name: "wf-choice",
              id: id,
              value: entry.key,
              checked: chosen && chosen.key === entry.key,
              onchange: function () { chosen = entry; },
            });
            list.appendChild(h("label", { class: "wf-choice", for: id }, radio, entry.render()));
          });
        if (!list.childNodes.length) list.appendChild(h("p", { class: "sb-muted", text: t("wf_nobody_found") }));
      };
      filter.addEventListener("input", draw);
      list.appendChild(h("p", { class: "sb-muted", text: t("loading") }));
      c.staffLists()
        .then(function (lists) {
          (options.teams ? lists.teams : []).forEach(function (team) {
            entries.push({
              key: "team-" + team.id,
              value: { team: team.id },
              search: String(team.name).toLowerCase(),
              render: function () {
                return h(
                  "span",
                  { class: "wf-choice-text" },
                  h("span", { class: "wf-choice-name", text: t("wf_team_label", { name: team.name }) }),
                  h("span", { class: "wf-choice-meta", text: t("wf_team_online", { online: team.online, members: team.members }) })
                );
              },
            });
          });
          (options.agents ? lists.agents : []).forEach(function (agent) {
            if (options.skipMe && agent.id === c.me.id) return;
            entries.push({
              key: "agent-" + agent.id,
              value: { agent: agent.id },
              search: (String(agent.name) + " " + String(agent.email || "")).toLowerCase(),
              render: function () {
                return h(
                  "span",
                  { class: "wf-choice-text" },
                  h("span", { class: "wf-choice-name" }, availabilityDot(agent.availability), agent.id === c.me.id ? t("wf_me", { name: agent.name }) : agent.name),
                  h("span", { class: "wf-choice-meta", text: t("wf_load", { load: agent.load, capacity: agent.capacity }) })
                );
              },
            });
          });
          draw();
        })
        .catch(function (error) { showError(problem, error); });
      return {
        element: h("div", { class: "wf-picker" }, filter, list, problem),
        chosen: function () { return chosen; },
        problem: problem,
      };
    }

    function assignDialog() {
      if (!conv()) return;
      modal(t("wf_assign"), function (close) {
        var pick = picker({ label: t("wf_assign"), agents: true, teams: true });
        var unassign = conv() && conv().assignee
          ? h("button", {
              type: "button",
              class: "sb-btn",
              text: t("wf_unassign"),
              onclick: function () {
                act("assign/", { agent: null }, pick.problem).then(function (ok) { if (ok) close(); });
              },
            })
          : null;
        return h(
          "form",
          {
            class: "wf-form",
            onsubmit: function (event) {
              event.preventDefault();
              var chosen = pick.chosen();
              if (!chosen) {
                pick.problem.textContent = t("wf_choose_someone");
                pick.problem.hidden = false;
                return;
              }
              act("assign/", chosen.value, pick.problem).then(function (ok) { if (ok) close(); });
            },
          },
          pick.element,
          h("div", { class: "sb-dialog-actions" }, unassign, cancelButton(close), h("button", { type: "submit", class: "sb-btn sb-btn-primary", text: t("wf_assign") }))
        );
      });
    }

    function transferDialog() {
      if (!conv()) return;
      modal(t("wf_transfer"), function (close) {
        var pick = picker({ label: t("wf_transfer"), agents: true, teams: true, skipMe: true });
        var note = h("textarea", {
          id: "wf-transfer-note",
          rows: 3,
          maxlength: 1000,
          placeholder: t("wf_transfer_note_hint"),
        });
        return h(
          "form",
          {
            class: "wf-form",
            onsubmit: function (event) {
              event.preventDefault();
              var chosen = pick.chosen();
              if (!chosen) {
                pick.problem.textContent = t("wf_choose_someone");
                pick.problem.hidden = false;
                return;
              }
              var json = Object.assign({ note: note.value }, chosen.value);
              act("transfer/", json, pick.problem).then(function (ok) { if (ok) close(); });
            },
          },
          pick.element,
          h("label", { for: "wf-transfer-note", text: t("wf_transfer_note") }),
          note,
          h("div", { class: "sb-dialog-actions" }, cancelButton(close), h("button", { type: "submit", class: "sb-btn sb-btn-primary", text: t("wf_transfer") }))
        );
      });
    }

    // --- Tags and merge -------------------------------------------------------------

    function tagsDialog() {
      var conversation = conv();
      if (!conversation) return;
      var chosen = (conversation.tags || []).slice();
      modal(t("wf_tags"), function (close) {
        var problem = errorLine();
        var chips = h("div", { class: "wf-tag-editor" });
        var input = h("input", {
          type: "text",
          id: "wf-tag-input",
          list: "wf-tag-suggestions",
          maxlength: 50,
          placeholder: t("wf_tag_add"),
          autofocus: true,
        });
        var suggestions = h("datalist", { id: "wf-tag-suggestions" });
        c.api(API + "tags/?page_size=200")
          .then(function (answer) {
            itemsOf(answer).forEach(function (tag) { suggestions.appendChild(h("option", { value: tag.name })); });
          })
          .catch(function () { /* suggestions only */ });
        var draw = function () {
          chips.replaceChildren();
          chosen.forEach(function (name) {
            chips.appendChild(
              h(
                "span",
                { class: "wf-tag" },
                name,
                h("button", {
                  type: "button",
                  class: "wf-tag-remove",
                  "aria-label": t("wf_tag_remove", { name: name }),
                  text: "×",
                  onclick: function () {
                    chosen = chosen.filter(function (other) { return other !== name; });
                    draw();
                  },
                })
              )
            );
          });
        };
        var add = function () {
          var name = input.value.trim();
          if (!name) return false;
          var known = chosen.some(function (other) { return other.toLowerCase() === name.toLowerCase(); });
          if (!known) chosen.push(name);
          input.value = "";
          draw();
          return true;
        };
        input.addEventListener("keydown", function (event) {
          if ((event.key === "Enter" || event.key === ",") && input.value.trim()) {
            event.preventDefault();
            add();
          }
        });
        draw();
        return h(
          "form",
          {
            class: "wf-form",
            onsubmit: function (event) {
              event.preventDefault();
              add();
              act("tags/", { tags: chosen }, problem, "PUT").then(function (ok) { if (ok) close(); });
            },
          },
          chips,
          h("label", { for: "wf-tag-input", class: "visually-hidden", text: t("wf_tag_add") }),
          input,
          suggestions,
          problem,
          h("div", { class: "sb-dialog-actions" }, cancelButton(close), h("button", { type: "submit", class: "sb-btn sb-btn-primary", text: t("wf_save") }))
        );
      });
    }

    function mergeDialog() {
      var conversation = conv();
      if (!conversation || !conversation.customer) return;
      modal(t("wf_merge"), function (close) {
        var problem = errorLine();
        var list = h("div", { class: "wf-choices", role: "radiogroup", "aria-label": t("wf_merge_into") });
        var chosen = null;
        list.appendChild(h("p", { class: "sb-muted", text: t("loading") }));
        c.api(API + "customers/" + encodeURIComponent(conversation.customer.id) + "/conversations/?page_size=50")
          .then(function (answer) {
            var others = itemsOf(answer).filter(function (other) { return other.id !== conversation.id; });
            list.replaceChildren();
            if (!others.length) list.appendChild(h("p", { class: "sb-muted", text: t("wf_merge_none") }));
            others.forEach(function (other) {
              var id = "wf-merge-" + other.id;
              var when = other.last_message_at || other.created_at;
              list.appendChild(
                h(
                  "label",
                  { class: "wf-choice", for: id },
                  h("input", { type: "radio", name: "wf-merge", id: id, value: other.id, onchange: function () { chosen = other.id; } }),
                  h(
                    "span",
                    { class: "wf-choice-text" },
                    h("span", { class: "wf-choice-name", text: (typeof other.inbox === "string" ? other.inbox : (other.inbox && other.inbox.name) || "") + " · " + (c.config.labels.status[other.status] || other.status || "") }),
                    h("span", { class: "wf-choice-meta", text: (other.last_message_preview || "") + (when ? " · " + c.fullTime(when) : "") })
                  )
                )
              );
            });
          })
          .catch(function (error) {
            list.replaceChildren();
            showError(problem, error);
          });
        return h(
          "form",
          {
            class: "wf-form",
            onsubmit: function (event) {
              event.preventDefault();
              if (!chosen) {
                problem.textContent = t("wf_merge_choose");
                problem.hidden = false;
                return;
              }
              var into = chosen;
              act("merge/", { into: into }, problem).then(function (ok) {
                if (!ok) return;
                close();
                c.openConversation(into);
              });
            },
          },
          h("p", { text: t("wf_merge_explain") }),
          list,
          problem,
          h("div", { class: "sb-dialog-actions" }, cancelButton(close), h("button", { type: "submit", class: "sb-btn sb-btn-primary", text: t("wf_merge") }))
        );
      });
    }

    // --- Claim: who may reply now ---------------------------------------------------

    function renderClaimBar() {
      clearTimeout(claimTimer);
      var existing = document.getElementById("claim-bar");
      var conversation = conv();
      if (!conversation || !claimActive(conversation)) {
        if (existing) existing.remove();
        c.el.form.classList.remove("wf-claimed-away");
        return;
      }
      var mine = conversation.claimed_by.id === c.me.id;
      var until = c.fullTime(conversation.claimed_until);
      var bar = existing || h("div", { id: "claim-bar", class: "wf-claim-bar", role: "status" });
      bar.dataset.mine = mine ? "1" : "0";
      bar.replaceChildren(
        h("span", {
          class: "wf-claim-text",
          text: mine ? t("wf_claimed_by_you", { time: until }) : t("wf_claimed_by", { name: conversation.claimed_by.name, time: until }),
        }),
        mine
          ? h("button", { type: "button", class: "sb-link-btn", text: t("wf_release"), onclick: release })
          : SEE_ALL
            ? h("button", { type: "button", class: "sb-link-btn", text: t("wf_break_claim"), onclick: breakClaim })
            : null
      );
      if (!existing) c.el.form.parentNode.insertBefore(bar, c.el.form);
      c.el.form.classList.toggle("wf-claimed-away", !mine);
      // Redraw when the claim runs out, so the composer frees itself.
      var left = c.parseDate(conversation.claimed_until).getTime() - Date.now();
      claimTimer = setTimeout(renderClaimBar, Math.min(Math.max(left + 500, 1000), 60 * 60 * 1000));
    }

    // --- Keyboard shortcuts ---------------------------------------------------------

    var KEYS = {
      e: function () {
        var conversation = conv();
        if (conversation) setStatus(conversation.status === "resolved" ? "open" : "resolved");
      },
      s: function () {
        var button = document.querySelector("#conversation-actions [data-action='snooze']");
        if (button) snoozeMenu(button);
      },
      a: assignDialog,
      t: transferDialog,
      c: function () {
        var conversation = conv();
        if (conversation && !claimActive(conversation)) claim();
      },
      g: tagsDialog,
      r: function () { c.el.composer.focus(); },
      "?": shortcutsDialog,
    };

    c.shortcuts.push(
      { keys: "E", label: t("wf_key_resolve") },
      { keys: "S", label: t("wf_snooze") },
      { keys: "A", label: t("wf_assign") },
      { keys: "T", label: t("wf_transfer") },
      { keys: "C", label: t("wf_claim") },
      { keys: "G", label: t("wf_tags") },
      { keys: "R", label: t("wf_key_reply") },
      { keys: "?", label: t("wf_key_help") }
    );

    function shortcutsDialog() {
      modal(t("wf_shortcuts"), function (close) {
        var table = h("dl", { class: "wf-shortcuts" });
        c.shortcuts.forEach(function (entry) {
          table.appendChild(h("dt", null, h("kbd", { text: entry.keys })));
          table.appendChild(h("dd", { text: entry.label }));
        });
        return h("div", null, table, h("div", { class: "sb-dialog-actions" }, h("button", { type: "button", class: "sb-btn", text: t("wf_close"), onclick: close })));
      });
    }

    document.addEventListener("keydown", function (event) {
      if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
      if (c.isEditable(event.target) || dialogOpen() || document.querySelector(".wf-menu")) return;
      var run = KEYS[event.key] || KEYS[event.key.toLowerCase()];
      if (!run) return;
      if (event.key !== "?" && !conv()) return;
      event.preventDefault();
      run();
    });

    // --- Wiring ---------------------------------------------------------------------

    c.on("header", renderActions);
    c.on("open", renderActions);
    c.on("close", function () {
      closeMenus();
      var slot = document.getElementById("conversation-actions");
      if (slot) {
        slot.replaceChildren();
        slot.dataset.drawn = "";
      }
      renderClaimBar();
    });
    c.on("event", function (event) {
      if (event.type === "notification" && event.notification) onNotification(event.notification);
      if (event.type === "ready") loadNotifications();
    });
    c.on("start", function () {
      renderAvailability();
      renderBell();
      loadAvailability();
    });
  });
})();
