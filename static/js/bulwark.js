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

// Formsets: "Add" clones the empty row from its <template>, numbering it and the TOTAL_FORMS count.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-formset-add]");
  if (!button) return;
  const fieldset = button.closest("[data-formset]");
  const prefix = fieldset.dataset.formset;
  const total = fieldset.querySelector(`input[name="${prefix}-TOTAL_FORMS"]`);
  const template = fieldset.querySelector("template[data-formset-template]");
  const index = Number(total.value);
  const row = template.content.cloneNode(true);
  row.querySelectorAll("[name], [id], label[for]").forEach((element) => {
    for (const attribute of ["name", "id", "for"]) {
      const value = element.getAttribute(attribute);
      if (value) element.setAttribute(attribute, value.replace("__prefix__", String(index)));
    }
  });
  fieldset.querySelector("[data-formset-rows]").appendChild(row);
  total.value = String(index + 1);
  fieldset.querySelector(`[name="${prefix}-${index}-description"]`)?.focus();
});
