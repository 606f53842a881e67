// Employer search: the form, the ranked list with explanations, and "More
// results". Facets and the zero-result suggestion render from the response when
// the API returns them (facets.js, suggestions.js).

import { api } from "./api.js";
import { announce, busy, clear, splitList } from "./dom.js";
import { candidateItem } from "./cards.js";
import { capabilities } from "./capabilities.js";
import { renderFacets, withFacets } from "./facets.js";
import { nextPage, pagedBody } from "./paging.js";
import { renderSuggestion } from "./suggestions.js";

const LIST_FILTERS = { skills: "f-skills", languages: "f-languages" };
const ONE_FILTERS = { location: "f-location", availability: "f-availability" };

function $(id) {
  return document.getElementById(id);
}

/** The request the form describes (POST /v1/search body, first page). */
export function formRequest() {
  const filters = {};
  for (const [name, id] of Object.entries(LIST_FILTERS)) {
    const values = splitList($(id).value);
    if (values.length) filters[name] = values;
  }
  for (const [name, id] of Object.entries(ONE_FILTERS)) {
    const value = $(id).value.trim();
    if (value) filters[name] = value;
  }
  return { query: $("q").value.trim(), mode: $("mode").value, filters, limit: 10 };
}

/** Put `request` (a search body, e.g. a saved search's) back into the form. */
export function fillForm(request) {
  $("q").value = request.query || "";
  $("mode").value = request.mode || "hybrid";
  const filters = request.filters || {};
  for (const [name, id] of Object.entries(LIST_FILTERS)) $(id).value = (filters[name] || []).join(", ");
  for (const [name, id] of Object.entries(ONE_FILTERS)) $(id).value = filters[name] || "";
}

/** Add a filter value (a facet click): list filters gain it, single ones take it. */
export function addFilter(field, value) {
  if (LIST_FILTERS[field]) {
    const input = $(LIST_FILTERS[field]);
    const values = splitList(input.value);
    if (!values.some((v) => v.toLowerCase() === value.toLowerCase())) values.push(value);
    input.value = values.join(", ");
  } else if (ONE_FILTERS[field]) {
    $(ONE_FILTERS[field]).value = value;
  }
}

/** Remove a filter value (a zero-result suggestion): from a list filter, or the whole single one. */
export function removeFilter(field, value) {
  if (LIST_FILTERS[field]) {
    const input = $(LIST_FILTERS[field]);
    const wanted = String(value).toLowerCase();
    input.value = splitList(input.value).filter((v) => v.toLowerCase() !== wanted).join(", ");
  } else if (ONE_FILTERS[field]) {
    $(ONE_FILTERS[field]).value = "";
  }
}

/** Wire the search form; returns `{run}` (run the form's search from page one). */
export function initSearch({ onProfile }) {
  const results = $("results");
  const more = $("more");
  const summary = $("search-summary");
  let request = null;
  let page = null;
  let shown = 0;

  async function load(first) {
    const button = first ? $("search-submit") : more;
    await busy(button, async () => {
      if (first) {
        request = withFacets(formRequest(), (await capabilities()).facets);
        page = null;
      }
      announce(first ? "Searching..." : "Loading more results...");
      const response = await api("/v1/search", { method: "POST", body: pagedBody(request, page) });
      if (first) {
        clear(results);
        shown = 0;
      }
      for (const hit of response.results) results.append(candidateItem(hit, { onProfile }));
      shown += response.results.length;
      page = nextPage(response);
      more.hidden = page === null;
      if (first) {
        renderFacets($("facets"), response, (field, value) => {
          addFilter(field, value);
          load(true);
        });
        renderSuggestion($("suggestion"), response, (s) => {
          removeFilter(s.drop, s.value);
          load(true);
        });
      }
      const took = typeof response.tookMs === "number" ? ` in ${response.tookMs.toFixed(0)} ms` : "";
      summary.textContent = shown ? `${shown} candidates shown${took}.` : `No candidates found${took}.`;
      announce(summary.textContent);
    });
  }

  $("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    load(true);
  });
  more.addEventListener("click", () => load(false));
  $("filters-clear").addEventListener("click", () => {
    for (const id of [...Object.values(LIST_FILTERS), ...Object.values(ONE_FILTERS)]) $(id).value = "";
  });
  return { run: () => load(true), current: () => request ?? formRequest() };
}
