// Starts Swagger UI on /docs. A file of ours rather than an inline script: the Content-Security-
// Policy allows scripts from this site only ('self'), with no 'unsafe-inline'.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-spec-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "BaseLayout",
    // Swagger UI would otherwise send the document to validator.swagger.io for a badge.
    validatorUrl: null,
  });
})();
