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
  if (x.matchedSkills?.length) rows.push(["Matched skills", x.matchedSkills.join(", ")]);
  if (x.missingSkills?.length) rows.push(["Missing skills", x.missingSkills.join(", ")]);
  const boosts = boostsText(x.boosts);
  if (boosts) rows.push(["Boosts", boosts]);
  return el(
    "dl",
    { class: "explain", "aria-label": "Why this result" },
    rows.flatMap(([term, value]) => [el("dt", { text: term }), el("dd", { text: value })]),
  );
}

/** The skills as a list; skills in `matched` are marked, `missing` ones dashed. */
export function skillList(skills, matched = [], missing = []) {
  const hit = new Set((matched || []).map((s) => String(s).toLowerCase()));
  const items = (skills || []).map((skill) => {
    const isMatched = hit.has(String(skill).toLowerCase());
    return el(
      "li",
      { class: isMatched ? "matched" : null },
      isMatched ? el("mark", { text: skill }) : skill,
      isMatched ? el("span", { class: "sr-only", text: " (matched)" }) : null,
    );
  });
  for (const skill of missing || []) {
    items.push(el("li", { class: "missing" }, skill, el("span", { class: "sr-only", text: " (missing)" })));
  }
  return el("ul", { class: "skills", "aria-label": "Skills" }, items);
}

/** A headline with the matched query terms highlighted. */
export function headline(text, explanation) {
  const terms = [...(explanation?.matchedTerms || []), ...(explanation?.matchedSkills || [])];
  return el("p", { class: "headline" }, highlight(text, terms));
}
