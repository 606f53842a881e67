// The API key form: paste a key (kept in sessionStorage), find out who it acts
// as (GET /v1/users/me), forget it.

import { api, forgetKey, getKey, setKey } from "./api.js";
import { announce, showError } from "./dom.js";

/**
 * Wire the key form. `onCaller(caller)` receives the CallerView of a key that
 * works, or null once the key is forgotten or refused.
 */
export function initKey(onCaller) {
  const input = document.getElementById("api-key");
  const who = document.getElementById("who");

  async function identify() {
    if (!getKey()) {
      who.textContent = "No key: paste an API key to start.";
      onCaller(null);
      return;
    }
    try {
      const caller = await api("/v1/users/me");
      const name = caller.name ? `${caller.name}, ` : "";
      who.textContent = `Signed in as ${name}${caller.roles.join(", ")}.`;
      announce("Key accepted.");
      onCaller(caller);
    } catch (err) {
      who.textContent = "The key was not accepted.";
      showError(err);
      onCaller(null);
    }
  }

  document.getElementById("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = input.value.trim();
    input.value = "";
    if (!key) return;
    setKey(key);
    identify();
  });
  document.getElementById("key-forget").addEventListener("click", () => {
    forgetKey();
    input.value = "";
    identify();
    announce("Key forgotten.");
  });
  identify();
}
