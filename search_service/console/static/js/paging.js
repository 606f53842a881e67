// Paging through a ranked list. The cursor (`cursor` in, `nextCursor` out) when
// the API offers one; otherwise the offset (`offset` in, `nextOffset` out).
// Either way the page only keeps the token of the next page.

/** The next page's token from a list response, or null on the last page. */
export function nextPage(response) {
  if (response && typeof response.nextCursor === "string" && response.nextCursor) {
    return { cursor: response.nextCursor };
  }
  if (response && Number.isInteger(response.nextOffset)) return { offset: response.nextOffset };
  return null;
}

/** A POST body for the page `page` (null: the first page). */
export function pagedBody(body, page) {
  const out = { ...body };
  delete out.cursor;
  delete out.offset;
  return page ? { ...out, ...page } : out;
}

/** `path` with the query parameters of `page` added (null: the first page). */
export function pagedPath(path, page) {
  if (!page) return path;
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(page)) url.searchParams.set(name, String(value));
  return url.pathname + url.search;
}
