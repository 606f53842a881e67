// Building the page from data. Everything from the API goes in through
// textContent (never innerHTML), so markup in a headline shows as text.

/**
 * Create `tag` with attributes `attrs` (strings; `class` and `hidden` included)
 * and children (nodes, or strings inserted as text; null/undefined skipped).
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (name === "text") node.textContent = String(value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Remove every child of `node`. */
export function clear(node) {
  node.replaceChildren();
}

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * `text` as nodes, with words that start with one of `terms` (case-insensitive,
 * so a BM25 stem such as "develop" marks "developer") wrapped in <mark>.
 */
export function highlight(text, terms) {
  const source = String(text ?? "");
  const words = (terms || []).map((t) => String(t).trim()).filter((t) => t.length > 1);
  if (!words.length) return [document.createTextNode(source)];
  const pattern = new RegExp(`\\b(?:${words.map(escapeRegExp).join("|")})\\w*`, "giu");
  const out = [];
  let last = 0;
  for (const match of source.matchAll(pattern)) {
    if (match.index > last) out.push(document.createTextNode(source.slice(last, match.index)));
    out.push(el("mark", { text: match[0] }));
    last = match.index + match[0].length;
  }
  if (last < source.length) out.push(document.createTextNode(source.slice(last)));
  return out;
}

const statusNode = () => document.getElementById("status");
const errorNode = () => document.getElementById("error");

/** Say `message` in the polite live region (and clear any error shown). */
export function announce(message) {
  statusNode().textContent = message;
  const error = errorNode();
  error.hidden = true;
  error.textContent = "";
}

/** A sentence for an error: an ApiError, a network failure (TypeError), or any Error. */
export function errorText(err) {
  if (typeof err?.readable === "function") return err.readable();
  if (err instanceof TypeError) return `The service could not be reached (${err.message}).`;
  return String(err?.message || err);
}

/** Show an error in the page's alert region (once: the status line is cleared). */
export function showError(err) {
  const error = errorNode();
  error.textContent = errorText(err);
  error.hidden = false;
  statusNode().textContent = "";
}

/**
 * Run `work` (async) with `button` disabled; errors are shown, not thrown.
 * `onError(err)` replaces the page-wide alert (a panel that shows its own error).
 */
export async function busy(button, work, { onError = showError } = {}) {
  if (button) button.disabled = true;
  try {
    return await work();
  } catch (err) {
    onError(err);
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

/** A comma-separated field as a list of trimmed, non-empty values. */
export function splitList(value) {
  return String(value || "")
    .split(",")
    .map((v) => v.trim())
    .filter(Boolean);
}
