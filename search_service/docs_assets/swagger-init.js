// Starts Swagger UI on #swagger-ui with the OpenAPI document named by this tag's
// data-openapi-url. A file of this origin, not an inline script: the page's
// Content-Security-Policy runs same-origin script files only (search_service/docs_ui.py).
// The options are FastAPI's defaults (fastapi.openapi.docs), without the online
// validator, which would send the document's URL to another origin.
"use strict";
(() => {
  const openapiUrl = document.currentScript.dataset.openapiUrl;
  window.ui = SwaggerUIBundle({
    url: openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  });
})();
