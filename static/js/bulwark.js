// Page behaviour without inline scripts (the CSP forbids them).
document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy-target]");
  if (!button) return;
  const input = document.getElementById(button.dataset.copyTarget);
  if (input && navigator.clipboard) {
    navigator.clipboard.writeText(input.value).then(() => {
      button.innerHTML = '<i class="bi bi-check2"></i> Copied';
    });
  }
});

// htmx requests carry the CSRF token of the page (the cookie is HttpOnly, so read it from a form).
document.body.addEventListener("htmx:configRequest", (event) => {
  const tokenInput = document.querySelector("input[name=csrfmiddlewaretoken]");
  if (tokenInput) event.detail.headers["X-CSRFToken"] = tokenInput.value;
});
