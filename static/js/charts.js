// Render every Plotly figure whose JSON sits in a <script type="application/json"> on the page.
document.querySelectorAll(".plotly-chart[data-figure-id]").forEach((element) => {
  const source = document.getElementById(element.dataset.figureId);
  if (!source || !window.Plotly) return;
  const figure = JSON.parse(source.textContent);
  // No mode bar: it would inject per-chart <style> rules, which the CSP forbids.
  window.Plotly.newPlot(element, figure.data, figure.layout, { displayModeBar: false, responsive: true });
  const template = element.dataset.linkTemplate;
  if (template) {
    // Clicking a version node opens its page: the template ends in /0/ as a placeholder.
    element.on("plotly_click", (event) => {
      const number = event.points[0] && event.points[0].customdata;
      if (number) window.location.href = template.replace(/\/0\/$/, `/${number}/`);
    });
  }
});
