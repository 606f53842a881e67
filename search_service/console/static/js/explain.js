// One result's explanation: per-retriever ranks and scores, matched terms and
// skills, boosts when the API returns them.

import { el, highlight } from "./dom.js";

function fmt(score) {
  return typeof score === "number" ? score.toFixed(3) : "";
}

function retriever(rank, score) {
  if (rank === null || rank === undefined) return "not in its candidates";
  return `rank ${rank}, score ${fmt(score)}`;
}

/** The boosts of an explanation as text ("recency x1.030, ..."), or "" when none. */
export function boostsText(boosts) {
  if (!boosts) return "";
  if (Array.isArray(boosts)) {
    return boosts
      .map((b) => (typeof b === "object" ? `${b.name ?? b.kind ?? "boost"} x${fmt(b.factor)}` : String(b)))
      .join(", ");
  }
  if (typeof boosts === "object") {
    return Object.entries(boosts)
      .map(([name, factor]) => (typeof factor === "number" ? `${name} x${fmt(factor)}` : `${name}: ${factor}`))
      .join(", ");
  }
  return String(boosts);
}

/** A <dl> explaining one hit (`explanation` as the API returns it). */
export function explanationList(explanation) {
  const x = explanation || {};
  const rows = [
    ["Keyword (BM25)", retriever(x.keywordRank, x.keywordScore)],
    ["Semantic", retriever(x.semanticRank, x.semanticScore)],
  ];
  if (x.matchedTerms?.length) rows.push(["Matched terms", x.matchedTerms.join(", ")]);
  const matched = uniqueSkills(x.matchedSkills);
  const missing = uniqueSkills(x.missingSkills);
  if (matched.length) rows.push(["Matched skills", matched.join(", ")]);
  if (missing.length) rows.push(["Missing skills", missing.join(", ")]);
  const boosts = boostsText(x.boosts);
  if (boosts) rows.push(["Boosts", boosts]);
  return el(
    "dl",
    { class: "explain", "aria-label": "Why this result" },
    rows.flatMap(([term, value]) => [el("dt", { text: term }), el("dd", { text: value })]),
  );
}

function key(skill) {
  return String(skill).trim().toLowerCase();
}

/** `skills` without repeats (compared case-insensitively), in first-seen order. */
export function uniqueSkills(skills) {
  const seen = new Set();
  return (skills || []).filter((s) => {
    const k = key(s);
    if (!k || seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/**
 * The skills as a list, each once. A skill is marked as matched exactly when the
 * explanation's `matched` (its "Matched skills") names it, so the card and the
 * explanation agree; a matched or `missing` skill the list does not hold is added
 * after it (a card shows a profile's first skills only), missing ones dashed.
 */
export function skillList(skills, matched = [], missing = []) {
  const hit = new Set(uniqueSkills(matched).map(key));
  const lacking = new Set(uniqueSkills(missing).map(key));
  const shown = uniqueSkills([...(skills || []), ...uniqueSkills(matched), ...uniqueSkills(missing)]);
  const items = shown.map((skill) => {
    const k = key(skill);
    const isMatched = hit.has(k);
    const isMissing = !isMatched && lacking.has(k);
    const cls = isMatched ? "matched" : isMissing ? "missing" : null;
    return el(
      "li",
      { class: cls },
      isMatched ? el("mark", { text: skill }) : skill,
      isMatched ? el("span", { class: "sr-only", text: " (matched)" }) : null,
      isMissing ? el("span", { class: "sr-only", text: " (missing)" }) : null,
    );
  });
  return el("ul", { class: "skills", "aria-label": "Skills" }, items);
}

/** A headline with the matched query terms highlighted. */
export function headline(text, explanation) {
  const terms = [...(explanation?.matchedTerms || []), ...(explanation?.matchedSkills || [])];
  return el("p", { class: "headline" }, highlight(text, terms));
}
