// Student gig search (POST /v1/gigs/search): the gig search panel (panel.js)
// with the gig filters (skills, location, remote, availability, pay, deadline),
// shown when the API offers it (capabilities.js).

import { capabilities } from "./capabilities.js";
import { gigItem } from "./cards.js";
import { searchPanel } from "./panel.js";

/** The filters of gig search (`GigSearchFilters`), in the order of the form and the chips. */
export const GIG_FIELDS = [
  { name: "skills", id: "g-skills", kind: "list", label: "Skills" },
  { name: "location", id: "g-location", kind: "text", label: "Location" },
  { name: "remote", id: "g-remote", kind: "bool", label: "Remote" },
  { name: "availability", id: "g-availability", kind: "select", label: "Availability" },
  { name: "payMin", id: "g-pay-min", kind: "money", label: "Pay at least" },
  { name: "payMax", id: "g-pay-max", kind: "money", label: "Pay at most" },
  { name: "currency", id: "g-currency", kind: "currency", label: "Currency" },
  { name: "payUnit", id: "g-pay-unit", kind: "select", label: "Paid" },
  { name: "deadlineAfter", id: "g-deadline-after", kind: "dateFrom", label: "Apply by, from" },
  { name: "deadlineBefore", id: "g-deadline-before", kind: "dateUntil", label: "Apply by, until" },
];

/** Wire the gig search. Returns `{refresh(caller)}`: show it to students when the API has it. */
export function initGigSearch() {
  searchPanel({
    path: "/v1/gigs/search",
    ids: {
      form: "gig-search-form",
      q: "gq",
      mode: "g-mode",
      submit: "gig-search-submit",
      clear: "g-filters-clear",
      heading: "gig-results-h",
      summary: "gig-summary",
      chips: "gig-chips",
      error: "gig-error",
      suggestion: "gig-suggestion",
      results: "gig-results",
      more: "gig-more",
      facets: "gig-facets",
    },
    fields: GIG_FIELDS,
    card: (hit) => gigItem(hit),
    noun: ["gig", "gigs"],
    facetNames: async () => (await capabilities()).gigFacets,
  });
  const section = document.getElementById("gig-search-section");
  return {
    async refresh(caller) {
      const roles = new Set(caller ? caller.roles : []);
      section.hidden = !(roles.has("student") && (await capabilities()).gigSearch);
    },
  };
}
