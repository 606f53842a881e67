// Result cards: one candidate (employer search, a gig's candidates) or one gig
// (gig search, recommendations), each with a heading and its explanation. The
// heading takes focus (tabindex -1) when "More" adds the card to a list.

import { el, highlight } from "./dom.js";
import { explanationList, headline, skillList } from "./explain.js";
import { valueLabel } from "./facets.js";

/**
 * A <li> for a candidate hit (SearchHit or CandidateHit). `actions` are extra
 * nodes for the action row; `onProfile(userId, button)` opens the profile.
 * `explain: false` leaves out the score and the explanation (an alert's hit has
 * none); `facts` are nodes shown under the heading.
 */
export function candidateItem(hit, { onProfile, actions = [], explain = true, facts = [] } = {}) {
  const x = hit.explanation || {};
  const view = el("button", { type: "button", class: "secondary", text: `View profile of ${hit.name}` });
  view.addEventListener("click", () => onProfile?.(hit.userId, view));
  return el(
    "li",
    { "data-user-id": hit.userId },
    el("article", {},
      el("h3", { text: hit.name, tabindex: "-1" }),
      facts,
      headline(hit.headline, x),
      // Marked are the explanation's matched skills, and only those (explain.js).
      skillList(hit.topSkills, x.matchedSkills, x.missingSkills),
      explain ? el("p", { class: "score", text: `Score ${Number(hit.score).toFixed(4)}` }) : null,
      explain ? explanationList(x) : null,
      el("div", { class: "actions" }, view, actions),
    ),
  );
}

function pay(p) {
  if (!p) return null;
  const amount = (p.amountMinor / 100).toFixed(2);
  return `${amount} ${p.currency}${p.unit === "hour" ? " per hour" : " fixed"}`;
}

/** A <li> for a gig hit (GigHit), with its explanation. */
export function gigItem(hit) {
  const x = hit.explanation || {};
  const facts = [
    hit.company,
    hit.remote ? "remote" : hit.location,
    hit.availability ? valueLabel("availability", hit.availability) : null,
    pay(hit.pay),
    hit.deadline ? `apply by ${new Date(hit.deadline).toISOString().slice(0, 10)}` : null,
  ].filter(Boolean);
  return el(
    "li",
    { "data-gig-id": hit.gigId },
    el("article", {},
      el("h3", { tabindex: "-1" }, highlight(hit.title, [...(x.matchedTerms || []), ...(x.matchedSkills || [])])),
      el("p", { text: facts.join(" · ") }),
      skillList(hit.requiredSkills, x.matchedSkills, x.missingSkills),
      el("p", { class: "score", text: `Score ${Number(hit.score).toFixed(4)}` }),
      explanationList(x),
    ),
  );
}
