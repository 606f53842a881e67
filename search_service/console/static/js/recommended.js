// A student's recommended gigs (GET /v1/me/recommended-gigs), each explained.

import { api } from "./api.js";
import { announce, busy, clear } from "./dom.js";
import { gigItem } from "./cards.js";
import { nextPage, pagedPath } from "./paging.js";

/** Wire "Recommended gigs". */
export function initRecommended() {
  const list = document.getElementById("rec-list");
  const more = document.getElementById("rec-more");
  let page = null;

  async function load(first, button) {
    await busy(button, async () => {
      if (first) page = null;
      const response = await api(pagedPath("/v1/me/recommended-gigs?limit=10", page));
      if (first) clear(list);
      const added = response.results.map((hit) => gigItem(hit));
      list.append(...added);
      page = nextPage(response);
      more.hidden = page === null;
      announce(list.children.length ? `${list.children.length} recommended gigs.` : "No recommendations yet: fill in your profile.");
      // The pressed button is disabled while loading: focus the list, or its first new card.
      const heading = document.getElementById("rec-h");
      (first ? heading : added[0]?.querySelector("h3") || heading).focus();
    });
  }

  document.getElementById("rec-load").addEventListener("click", (e) => load(true, e.currentTarget));
  more.addEventListener("click", () => load(false, more));
}
