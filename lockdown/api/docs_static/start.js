// Starts Swagger UI on /openapi.json. A file of its own, not an inline script, so the page keeps
// a Content-Security-Policy that allows scripts from this origin only.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
  });
});
