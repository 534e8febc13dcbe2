// One study: summary, best-so-far charts, learning curves (live for running trials),
// parallel coordinates, parameter importances and the sortable, filterable trials table.
"use strict";

(() => {
  const { el, fmt, fmtSeconds, fmtTime, getJSON, urls, plotText, draw, poll, definition, pollMs, STATES } = HP;
  const name = document.body.dataset.study;
  const PAGE = 200;
  const MAX_CURVES = 20;
  const view = {
    data: null, sortKey: "number", sortDir: 1, limit: PAGE,
    selected: new Set(), userSelected: false, complete: -1, signature: "",
  };

  // ---- summary and progress ----------------------------------------------------------
  function renderSummary(d) {
    const best = d.best
      ? el("a", { href: urls.trial(name, d.best.number), id: "best-link" }, `${fmt(d.best.value)} (trial ${d.best.number})`)
      : "—";
    const pairs = [
      ["dataset", d.dataset], ["sampler", d.sampler], ["pruner", d.pruner],
      ["objective", `${d.metric ?? "value"} (${d.direction})`],
      ["trials", STATES.map((s) => `${d.counts[s]} ${s.toLowerCase()}`).join(", ")],
      ["best", best], ["epochs spent", d.total_epochs], ["wall time", fmtSeconds(d.wall_seconds)],
    ];
    if (d.retrain) {
      const networks = (d.retrain.ensemble ?? 1) > 1 ? ` (ensemble of ${d.retrain.ensemble})` : "";
      pairs.push(["retrained test accuracy", fmt(d.retrain.test_accuracy) + networks]);
    }
    definition(document.getElementById("summary"), pairs);
  }

  function renderProgress(d) {
    const p = d.progress;
    const text = p.number.map((n) => `trial ${n}`);
    for (const [id, x, title] of [["progress-time", "seconds", "wall time (s)"], ["progress-epochs", "epochs", "epochs spent (all trials)"]]) {
      draw(id, [
        { type: "scattergl", mode: "markers", name: "trial value", x: p[x], y: p.value, text, marker: { size: 4, opacity: 0.5 }, hovertemplate: "%{text}: %{y:.4f}<extra></extra>" },
        { type: "scatter", mode: "lines", name: "best so far", x: p[x], y: p.best, line: { shape: "hv", width: 2 }, hovertemplate: "best %{y:.4f}<extra></extra>" },
      ], { xaxis: { title: { text: title } }, yaxis: { title: { text: plotText(d.metric ?? "value") } } });
    }
  }

  // ---- parallel coordinates and importances ------------------------------------------
  function dimension(label, values) {
    if (values.some((v) => typeof v === "string" || typeof v === "boolean")) {
      const levels = [...new Set(values.map(String))].sort();
      return { label: plotText(label), values: values.map((v) => levels.indexOf(String(v))), tickvals: levels.map((_, i) => i), ticktext: levels.map(plotText) };
    }
    const numbers = values.filter((v) => typeof v === "number");
    const min = Math.min(...numbers), max = Math.max(...numbers);
    if (min > 0 && max / min >= 100) { // log-scale searches: spread the decades evenly
      return { label: plotText(`log10 ${label}`), values: values.map((v) => (typeof v === "number" ? Math.log10(v) : null)) };
    }
    return { label: plotText(label), values };
  }

  function renderParcoords(d) {
    const rows = d.trials.filter((t) => t.state === "COMPLETE");
    const node = document.getElementById("parcoords");
    if (rows.length === 0) { node.replaceChildren(el("p", { class: "hint" }, "No complete trials yet.")); return; }
    const names = d.param_names.filter((p) => rows.some((t) => p in t.params));
    const value = rows.map((t) => t.value);
    Plotly.react(node, [{
      type: "parcoords",
      line: { color: value, colorscale: "Viridis", showscale: true },
      dimensions: [...names.map((p) => dimension(p, rows.map((t) => t.params[p] ?? null))), { label: "value", values: value }],
    }], HP.layout({ margin: { l: 60, r: 60, t: 40, b: 20 } }), { displaylogo: false, responsive: true });
  }

  async function renderImportances() {
    const result = await getJSON(`${urls.apiStudy(name)}/importances`);
    const message = document.getElementById("importances-message");
    message.textContent = result.message || "";
    if (!result.importances) { Plotly.purge("importances"); return; }
    const entries = Object.entries(result.importances).reverse();
    draw("importances", [{
      type: "bar", orientation: "h", x: entries.map((e) => e[1]), y: entries.map((e) => plotText(e[0])),
      hovertemplate: "%{y}: %{x:.3f}<extra></extra>",
    }], { margin: { l: 110, r: 15, t: 10, b: 40 }, xaxis: { title: { text: "importance (PED-ANOVA)" } } });
  }

  // ---- learning curves ---------------------------------------------------------------
  const MARKS = {
    best: { symbol: "star", color: "#2a9d8f", label: "best epoch" },
    early_stop: { symbol: "x", color: "#e76f51", label: "early stop" },
    pruned: { symbol: "triangle-down", color: "#d62828", label: "pruned" },
    diverged: { symbol: "x", color: "#6a040f", label: "diverged" },
    schedule_end: { symbol: "square", color: "#7b2cbf", label: "schedule end" },
  };

  const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#d62728"];

  function curveTraces(curves) {
    const traces = [];
    curves.forEach((c, i) => {
      const color = PALETTE[i % PALETTE.length];
      const label = `#${c.number}${c.live ? " (running)" : ""}`;
      const cols = c.columns;
      const group = `t${c.number}`;
      traces.push(
        { x: cols.epoch, y: cols.validation_accuracy, name: `${label} validation`, legendgroup: group, mode: "lines+markers", marker: { size: 4 }, line: { color }, xaxis: "x", yaxis: "y" },
        { x: cols.epoch, y: cols.train_accuracy, name: `${label} train`, legendgroup: group, mode: "lines", line: { dash: "dot", color }, xaxis: "x", yaxis: "y" },
        { x: cols.epoch, y: cols.validation_loss, name: `${label} val loss`, legendgroup: group, mode: "lines", line: { color }, showlegend: false, xaxis: "x2", yaxis: "y2" },
        { x: cols.epoch, y: cols.train_loss, name: `${label} train loss`, legendgroup: group, mode: "lines", line: { dash: "dot", color }, showlegend: false, xaxis: "x2", yaxis: "y2" },
      );
      for (const mark of c.marks) {
        const style = MARKS[mark.kind] || MARKS.best;
        traces.push({
          x: [mark.epoch], y: [mark.value], mode: "markers", name: `${label} ${style.label}`, legendgroup: group,
          showlegend: i === 0, marker: { symbol: style.symbol, size: 13, color: style.color, line: { width: 1 } },
          hovertemplate: `${style.label} at epoch %{x}<extra>${label}</extra>`, xaxis: "x", yaxis: "y",
        });
      }
    });
    return traces;
  }

  async function renderCurves() {
    const numbers = [...view.selected].slice(0, MAX_CURVES);
    const node = document.getElementById("curves");
    if (!numbers.length) { Plotly.purge(node); node.dataset.epochs = "0"; return false; }
    const { curves } = await getJSON(`${urls.apiStudy(name)}/curves?trials=${numbers.join(",")}`);
    draw("curves", curveTraces(curves), {
      grid: { rows: 1, columns: 2, pattern: "independent" },
      xaxis: { title: { text: "epoch" } }, yaxis: { title: { text: "accuracy" } },
      xaxis2: { title: { text: "epoch" } }, yaxis2: { title: { text: "loss" } },
      legend: { orientation: "h", y: -0.3 },
    });
    node.dataset.epochs = String(curves.reduce((sum, c) => sum + c.columns.epoch.length, 0));
    return curves.some((c) => c.live);
  }

  // ---- trials table --------------------------------------------------------------------
  const FIXED = [
    ["number", "#"], ["state", "state"], ["value", "value"], ["epochs", "epochs"],
    ["seconds", "seconds"], ["worker", "worker"], ["stop_reason", "stop"],
  ];

  const cell = (t, key) => (key.startsWith("param:") ? t.params[key.slice(6)] : t[key]);

  function columns(d) {
    return [...FIXED, ...d.param_names.map((p) => [`param:${p}`, p])];
  }

  function matches(t, tokens) {
    return tokens.every((token) => {
      const m = token.match(/^([\w.]+)(>=|<=|=|>|<)(.+)$/);
      if (m) {
        const [, key, op, want] = m;
        const value = key in t ? t[key] : t.params[key];
        if (value === undefined || value === null) return false;
        const a = typeof value === "number" ? value : String(value).toLowerCase();
        const b = typeof value === "number" ? Number(want) : want.toLowerCase();
        return { "=": a === b || String(a) === String(b), ">": a > b, "<": a < b, ">=": a >= b, "<=": a <= b }[op];
      }
      return t._text.includes(token);
    });
  }

  function compare(a, b) {
    if (a === b) return 0;
    if (a === null || a === undefined) return 1;
    if (b === null || b === undefined) return -1;
    return typeof a === "number" && typeof b === "number" ? a - b : String(a).localeCompare(String(b));
  }

  function visibleRows(d) {
    const tokens = document.getElementById("filter").value.toLowerCase().split(/\s+/).filter(Boolean);
    const state = document.getElementById("state-filter").value;
    const rows = d.trials.filter((t) => (!state || t.state === state) && matches(t, tokens));
    const key = view.sortKey, dir = view.sortDir;
    return rows.sort((a, b) => {
      const va = cell(a, key), vb = cell(b, key);
      if (va === null || va === undefined || vb === null || vb === undefined) return compare(va, vb);
      return dir * compare(va, vb);
    });
  }

  function renderHead(d) {
    const head = document.querySelector("#trials thead");
    head.replaceChildren(el("tr", {},
      el("th", { title: "show learning curves" }, "curves"),
      ...columns(d).map(([key, label]) => el("th", {
        class: `sortable${view.sortKey === key ? (view.sortDir > 0 ? " asc" : " desc") : ""}`,
        dataset: { key }, onclick: () => {
          view.sortDir = view.sortKey === key ? -view.sortDir : (key === "value" ? -1 : 1);
          view.sortKey = key;
          renderTable();
        },
      }, label)),
    ));
  }

  function renderTable() {
    const d = view.data;
    renderHead(d);
    const rows = visibleRows(d);
    const shown = rows.slice(0, view.limit);
    const cols = columns(d);
    document.querySelector("#trials tbody").replaceChildren(...shown.map((t) => el("tr", { class: `state-${t.state.toLowerCase()}`, dataset: { number: t.number } },
      el("td", {}, el("input", {
        type: "checkbox", checked: view.selected.has(t.number), "aria-label": `curves of trial ${t.number}`,
        onchange: (event) => {
          if (event.target.checked) view.selected.add(t.number); else view.selected.delete(t.number);
          view.userSelected = true;
          renderCurves().catch((error) => HP.status(error.message, true));
        },
      })),
      ...cols.map(([key]) => {
        const value = cell(t, key);
        if (key === "number") return el("td", { class: "num" }, el("a", { href: urls.trial(name, t.number), class: "trial-link" }, t.number));
        if (key === "seconds") return el("td", { class: "num" }, fmtSeconds(value));
        return el("td", { class: typeof value === "number" ? "num" : "" }, fmt(value));
      }),
    )));
    document.getElementById("trial-count").textContent = `(${rows.length} of ${d.trials.length} shown by the filter)`;
    const more = document.getElementById("trials-more");
    more.hidden = rows.length <= view.limit;
    more.replaceChildren(`showing ${shown.length} of ${rows.length} `,
      el("button", { type: "button", onclick: () => { view.limit += 5 * PAGE; renderTable(); } }, "show more"));
  }

  // ---- refresh loop ----------------------------------------------------------------
  function defaultSelection(d) {
    if (view.userSelected) return;
    view.selected = new Set([...(d.best ? [d.best.number] : []), ...d.running.slice(0, 4)]);
    if (view.selected.size === 0) d.trials.slice(-3).forEach((t) => view.selected.add(t.number));
  }

  async function refresh() {
    const d = await getJSON(urls.apiStudy(name));
    for (const t of d.trials) {
      t._text = [t.number, t.state, t.worker, t.stop_reason, ...Object.entries(t.params).map(([k, v]) => `${k}=${v}`)].join(" ").toLowerCase();
    }
    const signature = JSON.stringify([d.counts, d.n_trials, d.total_epochs]);
    view.data = d;
    if (signature !== view.signature) {
      view.signature = signature;
      renderSummary(d);
      renderProgress(d);
      renderTable();
      defaultSelection(d);
      const complete = d.counts.COMPLETE;
      if (complete !== view.complete) {
        view.complete = complete;
        renderParcoords(d);
        renderImportances().catch((error) => HP.status(error.message, true));
      }
    }
    return d.counts.RUNNING || d.counts.WAITING ? pollMs * 2 : pollMs * 10;
  }

  const stateFilter = document.getElementById("state-filter");
  STATES.forEach((s) => stateFilter.append(el("option", { value: s }, s.toLowerCase())));
  for (const id of ["filter", "state-filter"]) {
    document.getElementById(id).addEventListener("input", () => { view.limit = PAGE; if (view.data) renderTable(); });
  }

  (async () => {
    try {
      await refresh();
      poll(async () => (await renderCurves()) ? pollMs : pollMs * 5);
      setTimeout(() => poll(refresh), pollMs);
    } catch (error) {
      HP.status(error.message, true);
    }
  })();
})();
