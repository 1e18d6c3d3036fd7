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

// Progress bars carry their value in data-progress; widths are set here because the CSP forbids inline styles.
function paintProgress(root) {
  root.querySelectorAll("[data-progress]").forEach((bar) => {
    bar.style.width = `${Math.max(2, Number(bar.dataset.progress) || 0)}%`;
  });
}
paintProgress(document);
document.body.addEventListener("htmx:afterSettle", () => paintProgress(document));
