// The API reference inside the app's own page (no inline script: the CSP forbids it).
(() => {
  const element = document.getElementById("swagger-ui");
  if (!element || !window.SwaggerUIBundle) return;
  const token = document.querySelector("input[name=csrfmiddlewaretoken]");
  window.SwaggerUIBundle({
    url: element.dataset.schemaUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: false,
    // "Try it out" runs in the signed-in session: writes need the CSRF token.
    requestInterceptor: (request) => {
      if (token) request.headers["X-CSRFToken"] = token.value;
      return request;
    },
  });
})();
