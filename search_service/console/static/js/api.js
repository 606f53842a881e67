// Calls to the /v1 API with the key from sessionStorage, and its one error shape.
//
// The key lives in sessionStorage only (this tab, until it is closed or
// forgotten), never in persistent storage or a cookie.

const KEY_NAME = "gigsy.apiKey";

/** The API key of this tab, or "" when none is set. */
export function getKey() {
  return sessionStorage.getItem(KEY_NAME) || "";
}

/** Keep `key` for this tab. */
export function setKey(key) {
  sessionStorage.setItem(KEY_NAME, key);
}

/** Drop the key. */
export function forgetKey() {
  sessionStorage.removeItem(KEY_NAME);
}

/** An error answer of the API: `{"error": code, "detail": message}` and its status. */
export class ApiError extends Error {
  constructor(status, code, detail, retryAfter) {
    super(detail || code || `HTTP ${status}`);
    this.status = status;
    this.code = code || "";
    this.detail = detail || "";
    this.retryAfter = retryAfter;
  }

  /** A sentence a person can act on. */
  readable() {
    const hints = {
      401: "The API key was refused (unknown, revoked, or its user is gone).",
      403: "This key may not do that.",
      404: "Not found.",
      409: "Conflict: reload and try again.",
      422: "The request was not valid.",
      429: "Too many requests.",
      503: "The search engine or database is unavailable; try again shortly.",
    };
    const parts = [hints[this.status] || `The API answered ${this.status}.`];
    if (this.detail) parts.push(this.detail);
    if (this.retryAfter) parts.push(`Retry after ${this.retryAfter} s.`);
    return `${parts.join(" ")} (${this.code || "error"})`;
  }
}

/**
 * Call the API: `method` on `path` with an optional JSON `body`.
 * Resolves to the parsed JSON (null for 204); rejects with ApiError on a non-2xx
 * answer, or with a TypeError when the network fails.
 */
export async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  const key = getKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit",
    cache: "no-store",
  });
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const code = data && typeof data.error === "string" ? data.error : "";
    const detail = data && typeof data.detail === "string" ? data.detail : response.statusText;
    throw new ApiError(response.status, code, detail, response.headers.get("Retry-After"));
  }
  return data;
}
