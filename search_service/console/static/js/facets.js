// Facets of employer search: counts per filter value, asked for with the
// request's `facets` (only when the API offers them, capabilities.js) and read
// from the response's `facets.values` ({"skills": [{"value", "count"}], ...}).
// Clicking a value adds it as a filter.

import { clear, el } from "./dom.js";

const TITLES = { skills: "Skills", languages: "Languages", location: "Location", availability: "Availability" };

/** The request `body` asking for `names` (unchanged when the API has no facets). */
export function withFacets(body, names) {
  return names?.length ? { ...body, facets: [...names] } : body;
}

/** Render `response.facets` into `node` (hidden when absent); `onPick(field, value)` on a click. */
export function renderFacets(node, response, onPick) {
  clear(node);
  const values = response?.facets?.values;
  const groups = values && typeof values === "object" ? Object.entries(values) : [];
  const shown = groups.filter(([, buckets]) => Array.isArray(buckets) && buckets.length);
  node.hidden = shown.length === 0;
  if (node.hidden) return;
  for (const [field, buckets] of shown) {
    const title = TITLES[field] || field;
    const list = el("ul", { "aria-label": `${title} facet` });
    for (const { value, count } of buckets) {
      const button = el("button", {
        type: "button",
        "data-facet": field,
        "data-value": value,
        "aria-label": `Filter by ${title.toLowerCase()}: ${value} (${count} candidates)`,
      }, `${value} (${count})`);
      button.addEventListener("click", () => onPick(field, String(value)));
      list.append(el("li", {}, button));
    }
    node.append(el("section", { class: "facet" }, el("h3", { text: title }), list));
  }
}
