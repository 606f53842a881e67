// What this service's API offers, read once from its OpenAPI schema
// (/openapi.json, public), so a feature the API does not have stays hidden and
// no request carries a field the API would refuse (unknown fields are a 422).

let loaded = null;

function schemaOf(doc, name) {
  return doc?.components?.schemas?.[name] ?? {};
}

function facetEnum(doc, requestSchema) {
  const request = schemaOf(doc, requestSchema).properties ?? {};
  if (!request.facets) return [];
  const items = request.facets.items ?? {};
  const ref = items.$ref ? items.$ref.split("/").pop() : null;
  return (ref ? schemaOf(doc, ref).enum : items.enum) ?? [];
}

/**
 * Resolves to `{facets, cursor, savedSearches, gigSearch, gigFacets}`: the facet
 * names employer search can count (empty: no facets), whether POST /v1/search
 * pages by cursor, whether /v1/saved-searches exists, whether POST
 * /v1/gigs/search exists and the facet names it can count.
 * A schema that cannot be read means none of them.
 */
export function capabilities() {
  loaded ??= fetch("/openapi.json", { credentials: "omit" })
    .then((r) => (r.ok ? r.json() : null))
    .catch(() => null)
    .then((doc) => {
      const request = schemaOf(doc, "SearchRequest").properties ?? {};
      return {
        facets: facetEnum(doc, "SearchRequest"),
        cursor: Boolean(request.cursor),
        savedSearches: Boolean(doc?.paths?.["/v1/saved-searches"]),
        gigSearch: Boolean(doc?.paths?.["/v1/gigs/search"]?.post),
        gigFacets: facetEnum(doc, "GigSearchRequest"),
      };
    });
  return loaded;
}
