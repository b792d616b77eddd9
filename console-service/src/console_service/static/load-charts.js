// Live charts of a load run as in Locust's UI: users, RPS and failures/s on one, p50 and p95 on the other.
// The data comes from the console's series.json (the run's history, relayed from the perf-test API) every 2 s
// until the run ends; each chart's caption says the latest values for those who cannot see it.
document.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("load-charts");
  if (!root || typeof uPlot === "undefined") return;
  const REFRESH_MS = 2000;
  const chart = (id, title, series, axes) => {
    const target = document.getElementById(id);
    const options = {
      title, width: Math.max(target.clientWidth, 320), height: 260,
      series: [{}, ...series], axes: [{}, ...axes], legend: { live: false },
    };
    return new uPlot(options, [[], ...series.map(() => [])], target);
  };
  const throughput = chart("chart-throughput", "Users, requests/s and failures/s", [
    { label: "Users", scale: "users", stroke: "#4a5260", width: 2 },
    { label: "RPS", scale: "rate", stroke: "#116329", width: 2 },
    { label: "Failures/s", scale: "rate", stroke: "#a40e26", width: 2 },
  ], [{ scale: "users", label: "users" }, { scale: "rate", side: 1, label: "per second", grid: { show: false } }]);
  const latency = chart("chart-latency", "Response times (ms)", [
    { label: "p50", stroke: "#0a58ca", width: 2 },
    { label: "p95", stroke: "#7d4e00", width: 2 },
  ], [{ label: "ms" }]);
  // Tests and curious users can read the charts' data here.
  window.loadCharts = [throughput, latency];

  const fixed = (value, digits) => (value == null ? "–" : Number(value).toFixed(digits));
  const caption = (id, text) => { document.querySelector(`#${id} .latest`).textContent = text; };
  const draw = (series) => {
    throughput.setData([series.t, series.users, series.rps, series.failures_per_s]);
    latency.setData([series.t, series.p50_ms, series.p95_ms]);
    const last = series.t.length - 1;
    if (last < 0) return;
    caption("caption-throughput", `Latest: ${series.users[last]} users, ${fixed(series.rps[last], 1)} requests/s, `
      + `${fixed(series.failures_per_s[last], 1)} failures/s.`);
    caption("caption-latency", `Latest: p50 ${fixed(series.p50_ms[last], 0)} ms, p95 ${fixed(series.p95_ms[last], 0)} ms.`);
  };
  const refresh = async () => {
    let active = true;
    try {
      const response = await fetch(root.dataset.series, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const series = await response.json();
        draw(series);
        active = series.active;
      }
    } catch (error) {
      // A lost answer (the network, a restart) is retried at the next tick.
    }
    if (active) setTimeout(refresh, REFRESH_MS);
  };
  // Fit each chart to its column, once the styles have laid the page out and whenever the window changes.
  const fit = () => {
    for (const plot of window.loadCharts) plot.setSize({ width: Math.max(plot.root.parentElement.clientWidth, 320), height: 260 });
  };
  window.addEventListener("load", fit);
  window.addEventListener("resize", fit);
  refresh();
});
