// Render every Plotly figure whose JSON sits in a <script type="application/json"> on the page.
(() => {
  const charts = [...document.querySelectorAll(".plotly-chart[data-figure-id]")];
  if (!charts.length || !window.Plotly) return;

  const draw = (element) => {
    const source = document.getElementById(element.dataset.figureId);
    if (!source) return;
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
  };

  // One chart per task, those on screen first. A full report holds about 40 charts: drawing them all in one
  // task blocked the page for over a second (bench/README.md); this way no block is longer than one chart.
  const onScreen = (element) => {
    const box = element.getBoundingClientRect();
    return box.bottom > 0 && box.top < window.innerHeight;
  };
  const queue = [...charts.filter(onScreen), ...charts.filter((element) => !onScreen(element))];
  const next = () => {
    const element = queue.shift();
    if (!element) return;
    draw(element);
    setTimeout(next, 0);
  };
  next();
})();
