// The studies list: polls /api/studies and redraws the table, keeping ticked boxes.
"use strict";

(() => {
  const { el, fmt, fmtTime, getJSON, urls, poll } = HP;
  const tbody = document.querySelector("#studies tbody");
  const empty = document.getElementById("no-studies");

  function ticked() {
    return new Set([...tbody.querySelectorAll("input[name=study]:checked")].map((box) => box.value));
  }

  function render(studies) {
    const keep = ticked();
    empty.hidden = studies.length > 0;
    tbody.replaceChildren(...studies.map((s) => el("tr", { dataset: { study: s.name } },
      el("td", {}, el("input", { type: "checkbox", name: "study", value: s.name, checked: keep.has(s.name), "aria-label": "compare" })),
      el("td", {}, el("a", { href: urls.study(s.name), class: "study-link" }, s.name)),
      el("td", {}, fmt(s.dataset)),
      el("td", {}, fmt(s.sampler)),
      el("td", {}, fmt(s.pruner)),
      ...["COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING"].map((state) =>
        el("td", { class: `num state-${state.toLowerCase()}` }, s.counts[state] || 0)),
      el("td", { class: "num" }, fmt(s.best_value)),
      el("td", {}, fmtTime(s.last_activity)),
    )));
  }

  poll(async () => render((await getJSON("/api/studies")).studies));
})();
