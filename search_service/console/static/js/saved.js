// Saved searches and their alerts (/v1/saved-searches), shown only when the API
// offers them (capabilities.js): save the current search under a name; list
// saved searches with their unseen alert counts; run one again in the search
// form; delete one; read a search's alerts (unseen first, as the API orders
// them, 20 a page), open an alerted candidate's profile, and mark alerts seen,
// one at a time or all those shown.

import { api } from "./api.js";
import { capabilities } from "./capabilities.js";
import { announce, busy, clear, el } from "./dom.js";
import { candidateItem } from "./cards.js";
import { nextPage, pagedPath } from "./paging.js";
import { fillForm } from "./search.js";

const ALERTS_PER_PAGE = 20;

function $(id) {
  return document.getElementById(id);
}

function when(ms) {
  return ms ? new Date(ms).toISOString().replace("T", " ").slice(0, 16) + " UTC" : "";
}

function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

function alertState(alert) {
  const state = alert.seenAt ? `Seen ${when(alert.seenAt)}` : "New";
  return `${state} · alerted ${when(alert.alertedAt)} · rank ${alert.rank} in that run`;
}

/**
 * Wire the saved-search form and list. `search` is the search form
 * (`current()`: the body to save; `run()`: search with the form); `onProfile`
 * opens a candidate. Returns `{refresh(caller)}`.
 */
export function initSavedSearches({ search, onProfile }) {
  const section = $("saved-section");
  const list = $("saved-list");
  const alerts = $("alerts");
  const alertsList = $("alerts-list");
  const heading = $("alerts-h");
  const summary = $("alerts-summary");
  const markAll = $("alerts-seen");
  const more = $("alerts-more");
  let open = null; // the saved search whose alerts are shown
  let page = null; // the next page of its alerts
  let shown = []; // [{alert, item}] of the alerts shown, in order

  function unseenShown() {
    return shown.filter(({ alert }) => !alert.seenAt);
  }

  function summarise() {
    const unseen = unseenShown().length;
    summary.textContent = shown.length
      ? `${plural(shown.length, "alert", "alerts")} shown, ${unseen} new.`
      : "No alerts yet. Candidates who first match this search on a later run appear here.";
    markAll.hidden = unseen === 0;
    markAll.textContent = `Mark ${plural(unseen, "new alert", "new alerts")} seen`;
  }

  function showSeen(entry, seenAt) {
    entry.alert.seenAt = seenAt;
    entry.item.classList.remove("unseen");
    entry.item.querySelector(".alert-state").textContent = alertState(entry.alert);
    entry.item.querySelector(".alert-seen")?.remove();
  }

  async function markSeen(entries, button) {
    await busy(button, async () => {
      const ids = entries.map(({ alert }) => alert.id);
      const result = await api(`/v1/saved-searches/${open.id}/alerts/seen`, {
        method: "POST",
        body: { alertIds: ids },
      });
      await refreshList();
      if (page !== null) {
        // Seen alerts now sort after unseen ones: offsets of the pages not read yet
        // moved, so read again from the first page.
        await loadAlerts(open, true, null);
      } else {
        const now = Date.now();
        for (const entry of entries) showSeen(entry, now);
        summarise();
        // The button pressed is gone or hidden: keep keyboard focus in the alerts.
        const next = unseenShown()[0]?.item.querySelector(".alert-seen");
        (next || heading).focus();
      }
      announce(`${plural(result.marked, "alert", "alerts")} marked seen.`);
    });
  }

  function alertItem(alert) {
    const name = alert.candidate.name;
    const seen = el("button", {
      type: "button",
      class: "secondary alert-seen",
      "aria-label": `Mark the alert for ${name} seen`,
      text: "Mark seen",
    });
    const item = candidateItem(alert.candidate, {
      onProfile,
      explain: false,
      facts: el("p", { class: "alert-state", text: alertState(alert) }),
      actions: alert.seenAt ? [] : [seen],
    });
    item.dataset.alertId = alert.id;
    item.classList.toggle("unseen", !alert.seenAt);
    const entry = { alert, item };
    seen.addEventListener("click", () => markSeen([entry], seen));
    return entry;
  }

  async function loadAlerts(saved, first, button) {
    await busy(button, async () => {
      if (first) {
        open = saved;
        page = null;
      }
      const path = pagedPath(`/v1/saved-searches/${open.id}/alerts?limit=${ALERTS_PER_PAGE}`, page);
      const response = await api(path);
      if (first) {
        clear(alertsList);
        shown = [];
      }
      for (const alert of response.results) {
        const entry = alertItem(alert);
        shown.push(entry);
        alertsList.append(entry.item);
      }
      page = nextPage(response);
      more.hidden = page === null;
      heading.textContent = `Alerts of ${open.name}`;
      alerts.hidden = false;
      summarise();
      if (first) heading.focus();
      announce(summary.textContent);
    });
  }

  async function remove(saved, button) {
    if (!window.confirm(`Delete the saved search "${saved.name}" and its alerts?`)) return;
    await busy(button, async () => {
      await api(`/v1/saved-searches/${saved.id}`, { method: "DELETE" });
      if (open?.id === saved.id) {
        alerts.hidden = true;
        clear(alertsList);
        open = null;
      }
      await refreshList();
      $("save-name").focus();
      announce(`Deleted "${saved.name}".`);
    });
  }

  async function refreshList() {
    const data = await api("/v1/saved-searches");
    clear(list);
    for (const saved of data.results) {
      const read = el("button", { type: "button", class: "secondary", text: `Alerts of ${saved.name}` });
      read.addEventListener("click", () => loadAlerts(saved, true, read));
      const again = el("button", {
        type: "button",
        class: "secondary",
        "aria-label": `Search again: ${saved.name}`,
        text: "Search again",
      });
      again.addEventListener("click", () => {
        fillForm(saved.search);
        search.run();
      });
      const drop = el("button", {
        type: "button",
        class: "secondary",
        "aria-label": `Delete ${saved.name}`,
        text: "Delete",
      });
      drop.addEventListener("click", () => remove(saved, drop));
      const unseen = el("span", {
        class: saved.unseenAlerts ? "unseen-count unseen" : "unseen-count",
        text: plural(saved.unseenAlerts, "unseen alert", "unseen alerts"),
      });
      const facts = [
        saved.search?.query ? `"${saved.search.query}"` : "filters only",
        unseen,
        saved.lastRunAt ? `last run ${when(saved.lastRunAt)}` : "not run yet",
      ];
      list.append(
        el("li", { "data-saved-id": saved.id },
          el("h3", { text: saved.name }),
          el("p", {}, facts.flatMap((f, i) => (i ? [" · ", f] : [f]))),
          el("div", { class: "actions" }, read, again, drop),
        ),
      );
    }
  }

  $("save-form").addEventListener("submit", (event) => {
    event.preventDefault();
    busy($("save-submit"), async () => {
      const body = { ...search.current() };
      delete body.cursor;
      delete body.offset;
      delete body.facets; // a saved search watches results; it counts no facets
      const name = $("save-name").value.trim();
      const saved = await api("/v1/saved-searches", { method: "POST", body: { name, search: body } });
      $("save-name").value = "";
      await refreshList();
      announce(`Saved "${saved.name}".`);
    });
  });
  markAll.addEventListener("click", () => markSeen(unseenShown(), markAll));
  more.addEventListener("click", () => loadAlerts(open, false, more));

  return {
    async refresh(caller) {
      const roles = new Set(caller ? caller.roles : []);
      // A saved search belongs to a user: a key made without one may not save (403).
      const owner = Boolean(caller?.userId) && (roles.has("employer") || roles.has("admin"));
      const enabled = owner && (await capabilities()).savedSearches;
      section.hidden = !enabled;
      if (!enabled) return;
      await busy(null, refreshList);
    },
  };
}
