// Saved searches and their alerts (/v1/saved-searches), shown only when the API
// offers them (capabilities.js): save the current search under a name, list
// saved searches with their unseen alert counts, read a search's alerts (unseen
// first, as the API orders them) and mark them seen.

import { api } from "./api.js";
import { capabilities } from "./capabilities.js";
import { announce, busy, clear, el } from "./dom.js";
import { candidateItem } from "./cards.js";

function $(id) {
  return document.getElementById(id);
}

function when(ms) {
  return ms ? new Date(ms).toISOString().replace("T", " ").slice(0, 16) + " UTC" : "";
}

/**
 * Wire the saved-search form and list. `search.current()` is the search body to
 * save; `onProfile` opens a candidate. Returns `{refresh(caller)}`.
 */
export function initSavedSearches({ search, onProfile }) {
  const section = $("saved-section");
  const list = $("saved-list");
  const alerts = $("alerts");
  const alertsList = $("alerts-list");

  async function showAlerts(saved, button) {
    await busy(button, async () => {
      const page = await api(`/v1/saved-searches/${saved.id}/alerts?limit=50`);
      clear(alertsList);
      $("alerts-h").textContent = `Alerts of ${saved.name}`;
      for (const alert of page.results) {
        const item = candidateItem(alert.candidate, { onProfile });
        const state = alert.seenAt ? `seen ${when(alert.seenAt)}` : "new";
        item.classList.toggle("unseen", !alert.seenAt);
        item.querySelector("h3").append(` (${state}, alerted ${when(alert.alertedAt)})`);
        alertsList.append(item);
      }
      const unseen = page.results.filter((a) => !a.seenAt).map((a) => a.id);
      const mark = el("button", { type: "button", id: "alerts-seen", text: "Mark all seen" });
      mark.hidden = unseen.length === 0;
      mark.addEventListener("click", () =>
        busy(mark, async () => {
          const result = await api(`/v1/saved-searches/${saved.id}/alerts/seen`, {
            method: "POST",
            body: { alertIds: unseen },
          });
          announce(`${result.marked} alerts marked seen.`);
          await refreshList();
          await showAlerts(saved, null);
        }),
      );
      document.getElementById("alerts-seen")?.remove();
      alertsList.after(mark);
      alerts.hidden = false;
      announce(page.results.length ? `${page.results.length} alerts, ${unseen.length} unseen.` : "No alerts yet.");
    });
  }

  async function refreshList() {
    const data = await api("/v1/saved-searches");
    clear(list);
    for (const saved of data.results) {
      const open = el("button", { type: "button", class: "secondary", text: `Alerts of ${saved.name}` });
      open.addEventListener("click", () => showAlerts(saved, open));
      const facts = [
        saved.search?.query ? `"${saved.search.query}"` : "filters only",
        `${saved.unseenAlerts} unseen alerts`,
        saved.lastRunAt ? `last run ${when(saved.lastRunAt)}` : "not run yet",
      ];
      list.append(
        el("li", { "data-saved-id": saved.id },
          el("h3", { text: saved.name }),
          el("p", { text: facts.join(" · ") }),
          open,
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

  return {
    async refresh(caller) {
      const roles = new Set(caller ? caller.roles : []);
      const enabled = (roles.has("employer") || roles.has("admin")) && (await capabilities()).savedSearches;
      section.hidden = !enabled;
      if (!enabled) return;
      await busy(null, refreshList);
    },
  };
}
