// A gig owner's view: my gigs (GET /v1/me/gigs), a gig's ranked candidates
// (GET /v1/gigs/{id}/candidates) and the shortlist/reject decision on each
// (PUT /v1/gigs/{id}/decisions/{userId}).

import { api } from "./api.js";
import { announce, busy, clear, el } from "./dom.js";
import { candidateItem } from "./cards.js";
import { nextPage, pagedPath } from "./paging.js";

function $(id) {
  return document.getElementById(id);
}

function decisionText(hit) {
  const parts = [hit.decision ? `Decision: ${hit.decision}` : "No decision yet"];
  if (hit.applied) parts.push("applied");
  return parts.join(" · ");
}

function decisionControls(gigId, hit) {
  const status = el("p", { class: `decision ${hit.decision || ""}`, text: decisionText(hit) });
  const buttons = ["shortlisted", "rejected"].map((decision) => {
    const label = decision === "shortlisted" ? "Shortlist" : "Reject";
    const button = el("button", {
      type: "button",
      class: "secondary",
      "aria-label": `${label} ${hit.name}`,
      text: label,
    });
    button.addEventListener("click", () =>
      busy(button, async () => {
        const path = `/v1/gigs/${gigId}/decisions/${hit.userId}`;
        const view = await api(path, { method: "PUT", body: { decision } });
        hit.decision = view.decision;
        status.className = `decision ${view.decision}`;
        status.textContent = decisionText(hit);
        announce(`${hit.name}: ${view.decision}.`);
      }),
    );
    return button;
  });
  return [status, ...buttons];
}

/** Wire "My gigs" and the candidates list. */
export function initGigs({ onProfile }) {
  const list = $("gigs-list");
  const section = $("candidates");
  const candidates = $("candidates-list");
  const more = $("candidates-more");
  let current = null;
  let page = null;

  async function loadCandidates(gig, first, button) {
    await busy(button, async () => {
      if (first) {
        current = gig;
        page = null;
      }
      const base = `/v1/gigs/${current.id}/candidates?limit=10`;
      const response = await api(pagedPath(base, page));
      if (first) clear(candidates);
      $("candidates-h").textContent = `Candidates for ${current.title}`;
      const added = response.results.map((hit) =>
        candidateItem(hit, { onProfile, actions: decisionControls(current.id, hit) }),
      );
      candidates.append(...added);
      page = nextPage(response);
      more.hidden = page === null;
      section.hidden = false;
      announce(`${candidates.children.length} candidates for ${current.title}.`);
      // The pressed button is disabled while loading: focus the list, or its first new card.
      (first ? $("candidates-h") : added[0]?.querySelector("h3") || $("candidates-h")).focus();
    });
  }

  $("gigs-load").addEventListener("click", (event) =>
    busy(event.currentTarget, async () => {
      const response = await api("/v1/me/gigs?limit=100");
      clear(list);
      for (const gig of response.results) {
        const button = el("button", { type: "button", text: `Candidates for ${gig.title}` });
        button.addEventListener("click", () => loadCandidates(gig, true, button));
        list.append(
          el("li", { "data-gig-id": gig.id },
            el("h3", { text: gig.title }),
            el("p", { text: [gig.status, gig.location, gig.searchable ? "searchable" : "not indexed yet"].filter(Boolean).join(" · ") }),
            button,
          ),
        );
      }
      announce(response.total ? `${response.total} gigs.` : "You have no gigs yet.");
    }),
  );
  more.addEventListener("click", () => loadCandidates(current, false, more));
}
