// The console's entry point: wires each feature module and shows the sections
// the caller's role may use. Each feature is self-contained; one the API does not
// offer stays hidden.

import { initGigSearch } from "./gigsearch.js";
import { initGigs } from "./gigs.js";
import { initKey } from "./key.js";
import { initProfile } from "./profile.js";
import { initRecommended } from "./recommended.js";
import { initSavedSearches } from "./saved.js";
import { initSearch } from "./search.js";

function showFor(caller) {
  const roles = new Set(caller ? caller.roles : []);
  for (const section of document.querySelectorAll("section[data-roles]")) {
    const wanted = section.dataset.roles.split(" ");
    section.hidden = !wanted.some((r) => roles.has(r));
  }
  const dialog = document.getElementById("profile-dialog");
  if (!caller && dialog.open) dialog.close();
}

const openProfile = initProfile();
const search = initSearch({ onProfile: openProfile });
initGigs({ onProfile: openProfile });
initRecommended();
const gigSearch = initGigSearch();
const saved = initSavedSearches({ search, onProfile: openProfile });
initKey((caller) => {
  showFor(caller);
  gigSearch.refresh(caller);
  saved.refresh(caller);
});
