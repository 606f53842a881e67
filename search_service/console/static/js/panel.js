// A search panel: a form (query, mode, filters) and what it finds, results first:
// the total, the applied filters as removable chips, the ranked cards, "More",
// and the facets beside them. An error replaces the results with one message.
// Keyboard focus moves to the results heading after a search (and after a facet
// or a chip changed it), to the first new card after "More".
//
// Employer search (search.js) and student gig search (gigsearch.js) are two
// configurations of it: their endpoint, filter fields, card and facet names.

import { api } from "./api.js";
import { announce, busy, clear, el, errorText, splitList } from "./dom.js";
import { renderFacets, valueLabel, withFacets } from "./facets.js";
import { nextPage, pagedBody } from "./paging.js";
import { renderSuggestion } from "./suggestions.js";

const DAY_MS = 24 * 60 * 60 * 1000;

function $(id) {
  return document.getElementById(id);
}

function plural(n, [one, many]) {
  return n === 1 ? one : many;
}

/**
 * Filter field kinds: how an input becomes a request value and back.
 * list: comma-separated strings; text: a string; select: an option's value;
 * bool: "true"/"false" -> boolean; money: major units -> minor units (x100);
 * currency: three letters, upper-cased; dateFrom / dateUntil: a day (UTC) -> epoch
 * ms of its first / last millisecond.
 */
const KINDS = {
  list: {
    read: (v) => splitList(v),
    write: (v) => (v || []).join(", "),
    chips: (v) => v,
  },
  text: { read: (v) => v.trim() || undefined, write: (v) => v ?? "", chips: (v) => [v] },
  select: { read: (v) => v || undefined, write: (v) => v ?? "", chips: (v) => [v] },
  bool: {
    read: (v) => (v === "" ? undefined : v === "true"),
    write: (v) => (v === undefined || v === null ? "" : String(v)),
    chips: (v) => [String(v)],
  },
  money: {
    read: (v) => (v.trim() === "" || !Number.isFinite(Number(v)) ? undefined : Math.round(Number(v) * 100)),
    write: (v) => (v === undefined || v === null ? "" : (v / 100).toFixed(2)),
    chips: (v) => [(v / 100).toFixed(2)],
  },
  currency: { read: (v) => v.trim().toUpperCase() || undefined, write: (v) => v ?? "", chips: (v) => [v] },
  dateFrom: {
    read: (v) => (v ? Date.parse(`${v}T00:00:00Z`) : undefined),
    write: (v) => (v ? new Date(v).toISOString().slice(0, 10) : ""),
    chips: (v) => [new Date(v).toISOString().slice(0, 10)],
  },
  dateUntil: {
    read: (v) => (v ? Date.parse(`${v}T00:00:00Z`) + DAY_MS - 1 : undefined),
    write: (v) => (v ? new Date(v).toISOString().slice(0, 10) : ""),
    chips: (v) => [new Date(v).toISOString().slice(0, 10)],
  },
};

/**
 * The total line: exact when every result is shown or when the facet counts cover
 * every match (a filter-only browse); "at least" when they cover the retrievers'
 * candidates (a text query: deeper pages may find more); without facet counts,
 * only what is shown and whether there is more.
 */
export function totalText(shown, hasNext, facets, noun) {
  const name = (n) => plural(n, noun);
  if (!shown) return `No ${noun[1]} found`;
  if (!hasNext) return `${shown} ${name(shown)}, all shown`;
  const counted = facets && Number.isInteger(facets.counted) ? facets.counted : null;
  if (counted !== null && counted > shown) {
    const bound = facets.basis === "all_matches" ? "" : "at least ";
    return `${shown} of ${bound}${counted} ${name(counted)} shown`;
  }
  return `${shown} ${name(shown)} shown, more available`;
}

/**
 * Wire one search panel.
 *
 * `config`: `{path, ids, fields, card, noun, facetNames}`: the POST endpoint; the
 * element ids (`form, q, mode, submit, clear, heading, summary, chips, error,
 * suggestion, results, more, facets`); the filter fields `[{name, id, kind, label}]`;
 * `card(hit)` -> <li>; `noun` `[one, many]`; `facetNames()` -> the facets to ask for.
 * Returns `{run(), current(), fill(request)}`: search with the form from page one, the
 * request last sent (or the form's), put a request back into the form.
 */
export function searchPanel(config) {
  const { ids, fields, noun } = config;
  const results = $(ids.results);
  const more = $(ids.more);
  const summary = $(ids.summary);
  const heading = $(ids.heading);
  const errorBox = $(ids.error);
  const chips = $(ids.chips);
  const byName = Object.fromEntries(fields.map((f) => [f.name, f]));
  let request = null;
  let page = null;
  let shown = 0;
  let facets = null;
  let took = "";

  function formRequest() {
    const filters = {};
    for (const f of fields) {
      const value = KINDS[f.kind].read($(f.id).value);
      if (value !== undefined && !(Array.isArray(value) && !value.length)) filters[f.name] = value;
    }
    return { query: $(ids.q).value.trim(), mode: $(ids.mode).value, filters, limit: 10 };
  }

  function fill(req) {
    $(ids.q).value = req.query || "";
    $(ids.mode).value = req.mode || "hybrid";
    const filters = req.filters || {};
    for (const f of fields) $(f.id).value = KINDS[f.kind].write(filters[f.name]);
  }

  function same(a, b) {
    return String(a).trim().toLowerCase() === String(b).trim().toLowerCase();
  }

  function isApplied(name, value) {
    const f = byName[name];
    if (!f) return false;
    const input = $(f.id);
    if (f.kind === "list") return splitList(input.value).some((v) => same(v, value));
    return input.value !== "" && same(input.value, value);
  }

  /** Add (`on`) or remove a filter value: list fields gain or lose it, others take it or clear. */
  function setFilter(name, value, on) {
    const f = byName[name];
    if (!f) return;
    const input = $(f.id);
    if (f.kind === "list") {
      const values = splitList(input.value).filter((v) => !same(v, value));
      if (on) values.push(value);
      input.value = values.join(", ");
    } else {
      input.value = on ? value : "";
    }
  }

  function renderChips() {
    clear(chips);
    const filters = request?.filters || {};
    for (const f of fields) {
      if (filters[f.name] === undefined) continue;
      for (const shownValue of KINDS[f.kind].chips(filters[f.name])) {
        const text = `${f.label}: ${valueLabel(f.name, shownValue)}`;
        const button = el(
          "button",
          { type: "button", "aria-label": `Remove filter ${text}`, "data-filter": f.name },
          text,
          el("span", { "aria-hidden": "true", text: " ✕" }),
        );
        // A list loses this value; other kinds are cleared.
        const raw = f.kind === "list" ? shownValue : null;
        button.addEventListener("click", () => {
          if (raw === null) $(f.id).value = "";
          else setFilter(f.name, raw, false);
          load(true, null);
        });
        chips.append(el("li", {}, button));
      }
    }
    chips.hidden = chips.children.length === 0;
  }

  function showSummary() {
    summary.textContent = `${totalText(shown, page !== null, facets, noun)}${took}.`;
  }

  function fail(err) {
    // One message, in place of the results: nothing of the previous search stays.
    clear(results);
    shown = 0;
    page = null;
    more.hidden = true;
    summary.textContent = "";
    $(ids.facets).hidden = true;
    $(ids.suggestion).hidden = true;
    errorBox.textContent = errorText(err);
    errorBox.hidden = false;
    announce("");
    heading.focus();
  }

  async function load(first, button) {
    await busy(
      button,
      async () => {
        if (first) {
          request = withFacets(formRequest(), await config.facetNames());
          page = null;
        }
        announce(first ? `Searching ${noun[1]}...` : `Loading more ${noun[1]}...`);
        const response = await api(config.path, { method: "POST", body: pagedBody(request, page) });
        errorBox.hidden = true;
        errorBox.textContent = "";
        if (first) {
          clear(results);
          shown = 0;
          facets = response.facets ?? null;
        }
        const added = response.results.map((hit) => config.card(hit));
        results.append(...added);
        shown += added.length;
        page = nextPage(response);
        more.hidden = page === null;
        took = typeof response.tookMs === "number" ? ` in ${response.tookMs.toFixed(0)} ms` : "";
        if (first) {
          renderChips();
          renderFacets($(ids.facets), response, {
            noun: noun[1],
            isApplied,
            onPick: (field, value, pressed) => {
              setFilter(field, value, !pressed);
              load(true, null);
            },
          });
          renderSuggestion($(ids.suggestion), response, noun[1], (s) => {
            setFilter(s.drop, String(s.value), false);
            load(true, null);
          });
        }
        showSummary();
        announce(summary.textContent);
        // Focus: the heading of a new list; the first card "More" added.
        const target = first ? heading : added[0]?.querySelector("h3") || heading;
        target.focus();
      },
      { onError: fail },
    );
  }

  $(ids.form).addEventListener("submit", (event) => {
    event.preventDefault();
    load(true, $(ids.submit));
  });
  more.addEventListener("click", () => load(false, more));
  $(ids.clear).addEventListener("click", () => {
    for (const f of fields) $(f.id).value = "";
  });
  return {
    run: () => load(true, $(ids.submit)),
    current: () => request ?? formRequest(),
    fill,
  };
}
