// Employer search (POST /v1/search): the candidate search panel (panel.js) with
// the profile filters. Facets and the zero-result suggestion render from the
// response when the API returns them.

import { capabilities } from "./capabilities.js";
import { candidateItem } from "./cards.js";
import { searchPanel } from "./panel.js";

/** The filters of employer search, in the order of the form and the chips. */
export const CANDIDATE_FIELDS = [
  { name: "skills", id: "f-skills", kind: "list", label: "Skills" },
  { name: "languages", id: "f-languages", kind: "list", label: "Languages" },
  { name: "location", id: "f-location", kind: "text", label: "Location" },
  { name: "availability", id: "f-availability", kind: "select", label: "Availability" },
];

let panel = null;

/** Put `request` (a search body, e.g. a saved search's) back into the form. */
export function fillForm(request) {
  panel.fill(request);
}

/**
 * Wire the candidate search; `onProfile(userId, button)` opens a profile.
 * Returns `{run, current}`: search with the form from page one; the request last
 * sent (or the form's).
 */
export function initSearch({ onProfile }) {
  panel = searchPanel({
    path: "/v1/search",
    ids: {
      form: "search-form",
      q: "q",
      mode: "mode",
      submit: "search-submit",
      clear: "filters-clear",
      heading: "results-h",
      summary: "search-summary",
      chips: "chips",
      error: "search-error",
      suggestion: "suggestion",
      results: "results",
      more: "more",
      facets: "facets",
    },
    fields: CANDIDATE_FIELDS,
    card: (hit) => candidateItem(hit, { onProfile }),
    noun: ["candidate", "candidates"],
    facetNames: async () => (await capabilities()).facets,
  });
  return { run: panel.run, current: panel.current };
}
