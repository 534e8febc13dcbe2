// Compare: several studies' best-so-far on one chart, and a table of their totals.
"use strict";

(() => {
  const { el, fmt, fmtSeconds, getJSON, urls, plotText, draw, poll } = HP;
  const chosen = new URLSearchParams(location.search).getAll("study");
  const choices = document.getElementById("choices");

  async function renderChoices() {
    const { studies } = await getJSON("/api/studies");
    choices.replaceChildren(...studies.map((s) => el("label", { class: "choice" },
      el("input", { type: "checkbox", name: "study", value: s.name, checked: chosen.includes(s.name) }),
      ` ${s.name} `, el("small", {}, `(${fmt(s.sampler)}, ${s.n_trials} trials)`))));
  }

  function traces(studies, x) {
    return studies.map((s) => ({
      type: "scatter", mode: "lines", line: { shape: "hv" },
      name: plotText(`${s.name} (${s.sampler ?? "?"})`),
      x: s.progress[x], y: s.progress.best,
      text: s.progress.number.map((n) => `trial ${n}`),
      hovertemplate: "%{text}<br>best %{y:.4f}<extra>%{fullData.name}</extra>",
    }));
  }

  function render(studies, missing) {
    const note = document.getElementById("compare-missing");
    note.hidden = !missing.length;
    note.textContent = missing.length ? `not in this storage (left out): ${missing.join(", ")}` : "";
    if (!studies.length) {
      for (const id of ["compare-time", "compare-epochs"]) {
        Plotly.purge(id);
        document.getElementById(id).replaceChildren(el("p", { class: "empty chart-empty" }, "None of the chosen studies is in this storage."));
      }
    }
    draw("compare-time", traces(studies, "seconds"), { xaxis: { title: { text: "wall time (s)" } }, yaxis: { title: { text: "best value" } } });
    draw("compare-epochs", traces(studies, "epochs"), { xaxis: { title: { text: "epochs spent (all trials)" } }, yaxis: { title: { text: "best value" } } });
    document.querySelector("#compare-table tbody").replaceChildren(...studies.map((s) => el("tr", {},
      el("td", {}, el("a", { href: urls.study(s.name) }, s.name)),
      el("td", {}, fmt(s.sampler)), el("td", {}, fmt(s.pruner)),
      el("td", { class: "num" }, `${fmt(s.best_value)} ${s.direction === "minimize" ? "↓" : "↑"}`),
      el("td", { class: "num" }, s.best_number === null ? "—" : el("a", { href: urls.trial(s.name, s.best_number) }, `#${s.best_number}`)),
      el("td", { class: "num" }, s.n_trials),
      el("td", { class: "num" }, s.counts.COMPLETE), el("td", { class: "num" }, s.counts.PRUNED),
      el("td", { class: "num" }, s.total_epochs),
      el("td", { class: "num" }, fmtSeconds(s.wall_seconds)),
    )));
  }

  renderChoices().catch((error) => HP.status(error.message, true));
  if (!chosen.length) {
    for (const id of ["compare-time", "compare-epochs"]) {
      document.getElementById(id).replaceChildren(el("p", { class: "empty chart-empty" }, "Tick two or more studies above and press Compare."));
    }
  }
  if (chosen.length) {
    const query = chosen.map((name) => `study=${encodeURIComponent(name)}`).join("&");
    poll(async () => {
      const { studies, missing } = await getJSON(`/api/compare?${query}`);
      render(studies, missing || []);
      return studies.some((s) => s.counts.RUNNING || s.counts.WAITING) ? HP.pollMs : HP.pollMs * 10;
    });
  }
})();
