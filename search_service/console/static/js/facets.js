// Facets of a search: counts per filter value, asked for with the request's
// `facets` (only those the API offers, capabilities.js) and read from the
// response's `facets.values` ({"skills": [{"value", "count"}], ...}). Each facet
// shows its TOP values and a "more" button for the rest; a value already applied
// as a filter is shown pressed. Clicking a value toggles it as a filter.

import { clear, el } from "./dom.js";

/** Values shown per facet before "more" is pressed. */
export const TOP = 5;

const TITLES = {
  skills: "Skills",
  languages: "Languages",
  location: "Location",
  availability: "Availability",
  remote: "Remote",
};

const VALUE_LABELS = {
  availability: {
    full_time: "full time",
    part_time: "part time",
    weekends: "weekends",
    evenings: "evenings",
    flexible: "flexible",
  },
  remote: { true: "yes", false: "no" },
};

/** How a facet value reads (`part_time` -> "part time", remote `true` -> "remote"). */
export function valueLabel(field, value) {
  return VALUE_LABELS[field]?.[String(value)] ?? String(value);
}

/** The request `body` asking for `names` (unchanged when the API has no facets). */
export function withFacets(body, names) {
  return names?.length ? { ...body, facets: [...names] } : body;
}

/**
 * Render `response.facets` into `node` (hidden when absent).
 * `onPick(field, value, pressed)`: a value was clicked (`pressed`: it was applied).
 * `isApplied(field, value)`: whether the value is a filter now. `noun`: what is counted.
 */
export function renderFacets(node, response, { onPick, isApplied = () => false, noun = "results" }) {
  clear(node);
  const values = response?.facets?.values;
  const groups = values && typeof values === "object" ? Object.entries(values) : [];
  const shown = groups.filter(([, buckets]) => Array.isArray(buckets) && buckets.length);
  node.hidden = shown.length === 0;
  if (node.hidden) return;
  const headingId = `${node.id}-h`;
  node.append(el("h2", { id: headingId, text: "Refine" }));
  for (const [field, buckets] of shown) {
    const title = TITLES[field] || field;
    const list = el("ul", { id: `${node.id}-${field}`, "aria-label": `${title} facet` });
    buckets.forEach(({ value, count }, i) => {
      const label = valueLabel(field, value);
      const pressed = isApplied(field, String(value));
      const button = el(
        "button",
        {
          type: "button",
          "data-facet": field,
          "data-value": value,
          "aria-pressed": pressed ? "true" : "false",
          title: `${count} ${noun}`,
        },
        `${label} (${count})`,
      );
      button.addEventListener("click", () => onPick(field, String(value), pressed));
      list.append(el("li", { hidden: i >= TOP && !pressed }, button));
    });
    const section = el("section", { class: "facet", "data-facet": field }, el("h3", { text: title }), list);
    const rest = buckets.length - TOP;
    if (rest > 0) {
      const more = el("button", {
        type: "button",
        class: "more",
        "aria-expanded": "false",
        "aria-controls": list.id,
        text: `${rest} more`,
        "aria-label": `${rest} more ${title.toLowerCase()} values`,
      });
      more.addEventListener("click", () => {
        const open = more.getAttribute("aria-expanded") !== "true";
        more.setAttribute("aria-expanded", String(open));
        more.textContent = open ? "Fewer" : `${rest} more`;
        more.setAttribute("aria-label", open ? `Fewer ${title.toLowerCase()} values` : `${rest} more ${title.toLowerCase()} values`);
        [...list.children].forEach((li, i) => {
          if (i >= TOP) li.hidden = !open && li.querySelector("[aria-pressed=true]") === null;
        });
      });
      section.append(more);
    }
    node.append(section);
  }
}
