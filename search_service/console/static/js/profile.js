// A candidate's profile as employers see it, in a dialog: GET /v1/profiles/{userId}
// (public and employer-visible sections only; the API decides what is shown).

import { api } from "./api.js";
import { announce, busy, clear, el } from "./dom.js";
import { valueLabel } from "./facets.js";

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
    ["Availability", profile.availability ? valueLabel("availability", profile.availability) : null],
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

/**
 * Wire the profile dialog; returns `open(userId, opener)`, which loads a profile
 * and shows it in a modal <dialog> beside the list. Focus goes to the dialog's
 * heading; Escape or "Close profile" closes it, and focus returns to `opener`
 * (the card's "View profile" button).
 */
export function initProfile() {
  const dialog = document.getElementById("profile-dialog");
  const heading = document.getElementById("profile-h");
  const target = document.getElementById("profile");
  let opener = null;
  let loading = false;
  document.getElementById("profile-close").addEventListener("click", () => dialog.close());
  // Escape fires "cancel" and then "close"; both ways out end here.
  dialog.addEventListener("close", () => {
    clear(target);
    if (opener?.isConnected) opener.focus();
    opener = null;
  });
  return async function open(userId, button) {
    if (loading) return;
    loading = true;
    // The opener is not disabled while loading: it keeps keyboard focus.
    await busy(null, async () => {
      try {
        const profile = await api(`/v1/profiles/${encodeURIComponent(userId)}`);
        target.replaceChildren(...render(profile));
        opener = button ?? null;
        if (!dialog.open) dialog.showModal();
        heading.focus();
        announce(`Showing the profile of ${profile.displayName}.`);
      } finally {
        loading = false;
      }
    });
  };
}
