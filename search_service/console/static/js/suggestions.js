// The zero-result suggestion of a search: when a search finds nothing, the
// response may name the one filter whose removal gives the most results
// (`suggestion: {"drop": "skills", "value": "cobol", "results": 7}`).

import { clear, el } from "./dom.js";

/**
 * Render `response.suggestion` into `node` (hidden when there is none); `noun` is
 * what was searched ("candidates", "gigs"); `onDrop(s)` on a click.
 */
export function renderSuggestion(node, response, noun, onDrop) {
  clear(node);
  const s = response?.suggestion;
  node.hidden = !(s && typeof s.drop === "string");
  if (node.hidden) return;
  const button = el("button", {
    type: "button",
    text: `Drop the ${s.drop} filter "${s.value}" (${s.results} results)`,
  });
  button.addEventListener("click", () => onDrop(s));
  node.append(el("p", { text: `No ${noun} match these filters.` }), button);
}
