// A candidate's profile as employers see it: GET /v1/profiles/{userId}
// (public and employer-visible sections only; the API decides what is shown).

import { api } from "./api.js";
import { announce, busy, clear, el } from "./dom.js";

const SECTIONS = [
  ["education", "Education", (i) => [i.school, i.degree, i.fieldOfStudy, years(i)]],
  ["workExperience", "Work experience", (i) => [i.title, i.company, years(i), i.description]],
  ["projects", "Projects", (i) => [i.title, i.description, i.url, (i.skills || []).join(", ")]],
  ["languages", "Languages", (i) => [i.name, i.proficiency]],
  ["skills", "Skills", (i) => [i.name, i.level, i.years != null ? `${i.years} years` : null]],
];

function years(item) {
  if (item.startYear == null && item.endYear == null) return null;
  return `${item.startYear ?? "?"}-${item.endYear ?? ""}`;
}

function render(profile) {
  const parts = [
    el("h3", { text: profile.displayName }),
    el("p", { class: "headline", text: profile.headline }),
  ];
  const facts = [
    ["Location", profile.location],
    ["Availability", profile.availability],
  ].filter(([, v]) => v);
  if (facts.length) {
    parts.push(el("dl", { class: "explain" }, facts.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })])));
  }
  if (profile.bio) parts.push(el("p", { text: profile.bio }));
  for (const [field, title, describe] of SECTIONS) {
    const section = profile[field];
    if (!section || !section.items?.length) continue;
    parts.push(
      el("h4", { text: title }),
      el("ul", {}, section.items.map((item) => el("li", { text: describe(item).filter(Boolean).join(" · ") }))),
    );
  }
  return parts;
}

/** Wire the close button; returns `open(userId)`, which loads and shows a profile. */
export function initProfile() {
  const section = document.getElementById("profile-section");
  const target = document.getElementById("profile");
  document.getElementById("profile-close").addEventListener("click", () => {
    section.hidden = true;
    clear(target);
  });
  return async function open(userId, opener) {
    await busy(opener, async () => {
      const profile = await api(`/v1/profiles/${encodeURIComponent(userId)}`);
      target.replaceChildren(...render(profile));
      section.hidden = false;
      section.focus();
      announce(`Showing the profile of ${profile.displayName}.`);
    });
  };
}
