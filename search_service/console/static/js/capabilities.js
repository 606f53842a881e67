// What this service's API offers, read once from its OpenAPI schema
// (/openapi.json, public), so a feature the API does not have stays hidden and
// no request carries a field the API would refuse (unknown fields are a 422).

let loaded = null;

function schemaOf(doc, name) {
  return doc?.components?.schemas?.[name] ?? {};
}

/**
 * Resolves to `{facets: string[], cursor: boolean, savedSearches: boolean}`:
 * the facet names employer search can count (empty: no facets), whether
 * POST /v1/search pages by cursor, whether /v1/saved-searches exists.
 * A schema that cannot be read means none of them.
 */
export function capabilities() {
  loaded ??= fetch("/openapi.json", { credentials: "omit" })
    .then((r) => (r.ok ? r.json() : null))
    .catch(() => null)
    .then((doc) => {
      const request = schemaOf(doc, "SearchRequest").properties ?? {};
      const facetItems = request.facets?.items ?? {};
      const ref = facetItems.$ref ? facetItems.$ref.split("/").pop() : null;
      const facets = (ref ? schemaOf(doc, ref).enum : facetItems.enum) ?? [];
      return {
        facets: request.facets ? facets : [],
        cursor: Boolean(request.cursor),
        savedSearches: Boolean(doc?.paths?.["/v1/saved-searches"]),
      };
    });
  return loaded;
}
