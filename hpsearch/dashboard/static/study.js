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
    rows: [], parcoordsKey: "", parcoordsDraws: 0,
  };

  // ---- summary, spec, budget and workers ---------------------------------------------
  const multi = (d) => (d.directions || []).length > 1;
  const objectiveLabel = (d, i) => `objective ${i + 1}${i === 0 && d.metric ? ` (${d.metric})` : ""}`;

  function objective(d) {
    const metric = d.metric ?? "value";
    if (multi(d)) {
      return `${d.directions.length} objectives: ${d.directions.map((dir, i) => `${objectiveLabel(d, i)} ${dir}`).join(", ")}; the best-so-far charts and the colours follow objective 1`;
    }
    return `${metric} (${d.direction})`;
  }

  function renderSummary(d) {
    const best = d.best
      ? el("a", { href: urls.trial(name, d.best.number), id: "best-link" }, `${fmt(d.best.value)} (trial ${d.best.number})`)
      : (d.pareto ? el("span", { id: "pareto-count" }, `${d.pareto.length} trials on the Pareto front (see below)`) : "—");
    const pairs = [];
    if (d.description) pairs.push(["description", d.description]);
    pairs.push(
      ["dataset", d.dataset], ["sampler", d.sampler], ["pruner", d.pruner],
      ["objective", objective(d)],
      ["trials", STATES.map((s) => `${d.counts[s]} ${s.toLowerCase()}`).join(", ")],
      ["best", best], ["epochs spent", d.total_epochs], ["wall time", fmtSeconds(d.wall_seconds)],
    );
    if (d.retrain) {
      const networks = (d.retrain.ensemble ?? 1) > 1 ? ` (ensemble of ${d.retrain.ensemble})` : "";
      const trials = d.retrain.trials ?? [];
      const links = trials.flatMap((n, i) => [i ? ", " : "", el("a", { href: urls.trial(name, n) }, String(n))]);
      const from = trials.length ? [` from trial${trials.length > 1 ? "s" : ""} `, ...links] : [];
      pairs.push(["retrained test accuracy", el("span", {}, fmt(d.retrain.test_accuracy) + networks, ...from)]);
    }
    definition(document.getElementById("summary"), pairs);
    renderBudget(d);
    renderWorkers(d);
  }

  function renderBudget(d) {
    const b = d.budget || {};
    const node = document.getElementById("budget");
    const parts = [];
    if (b.n_trials) {
      const done = Math.min(b.done, b.n_trials);
      parts.push(el("progress", { id: "budget-bar", max: b.n_trials, value: done }),
        el("span", { id: "budget-trials" }, ` ${b.done} of ${b.n_trials} trials done (${Math.round((100 * done) / b.n_trials)}%)`));
    } else {
      parts.push(el("span", { id: "budget-trials" }, `${b.done} trials done (no n_trials budget)`));
    }
    if (b.timeout) parts.push(el("span", { id: "budget-time" }, ` · time left ${fmtSeconds(b.time_left_seconds)} of ${fmtSeconds(b.timeout)}`));
    node.replaceChildren(...parts);
  }

  function renderWorkers(d) {
    const node = document.getElementById("workers");
    if (!d.workers.length) { node.replaceChildren(el("p", { class: "empty" }, "No active workers (no trial is running).")); return; }
    node.replaceChildren(el("table", { class: "data", id: "workers-table" },
      el("thead", {}, el("tr", {}, el("th", {}, "worker"), el("th", {}, "running trials"), el("th", {}, "running for"))),
      el("tbody", {}, ...d.workers.map((w) => el("tr", {},
        el("td", {}, w.worker),
        el("td", {}, ...w.trials.map((n, i) => [i ? ", " : "", el("a", { href: urls.trial(name, n) }, `#${n}`)])),
        el("td", { class: "num" }, fmtSeconds(w.running_seconds)))))));
  }

  function describe(spec) {
    if (!spec || typeof spec !== "object") return "—";
    if (spec.type === "categorical" || Array.isArray(spec.choices)) return `one of ${(spec.choices || []).map((c) => fmt(c)).join(", ")}`;
    const scale = spec.log ? "log scale" : "linear";
    const step = spec.step && spec.type === "int" && spec.step !== 1 ? `, step ${spec.step}` : (spec.step && spec.type === "float" ? `, step ${spec.step}` : "");
    return `${fmt(spec.low)} to ${fmt(spec.high)} (${scale}${step})`;
  }

  function renderSpace(d) {
    const space = (d.spec && d.spec.space) || d.distributions || {};
    const body = document.querySelector("#space tbody");
    const names = Object.keys(space).sort();
    document.getElementById("space-empty").hidden = names.length > 0;
    body.replaceChildren(...names.map((p) => el("tr", { dataset: { param: p } },
      el("th", { scope: "row" }, p), el("td", {}, (space[p] && space[p].type) || "categorical"), el("td", {}, describe(space[p])))));
  }

  function emptyChart(id, message) {
    const node = document.getElementById(id);
    Plotly.purge(node);
    node.replaceChildren(el("p", { class: "empty chart-empty" }, message));
  }

  function renderProgress(d) {
    const p = d.progress;
    const text = p.number.map((n) => `trial ${n}`);
    for (const [id, x, title] of [["progress-time", "seconds", "wall time (s)"], ["progress-epochs", "epochs", "epochs spent (all trials)"]]) {
      if (!p.number.length) { emptyChart(id, "No complete trials yet."); continue; }
      const node = document.getElementById(id);
      node.querySelector(".chart-empty")?.remove();
      draw(id, [
        { type: "scattergl", mode: "markers", name: "trial value", x: p[x], y: p.value, text, marker: { size: 4, opacity: 0.5 }, hovertemplate: "%{text}: %{y:.4f}<extra></extra>" },
        { type: "scatter", mode: "lines", name: "best so far", x: p[x], y: p.best, line: { shape: "hv", width: 2 }, hovertemplate: "best %{y:.4f}<extra></extra>" },
      ], { xaxis: { title: { text: title } }, yaxis: { title: { text: plotText(multi(d) ? objectiveLabel(d, 0) : (d.metric ?? "value")) } } });
    }
  }

  // ---- Pareto front: objectives 1 and 2 of the complete trials, the front highlighted ----
  function renderPareto(d) {
    const section = document.getElementById("pareto-section");
    section.hidden = !multi(d);
    if (!multi(d)) return;
    const front = new Set(d.pareto || []);
    const done = view.rows.filter((t) => t.state === "COMPLETE" && t.values && t.values[0] !== null && t.values[1] !== null);
    if (!done.length) { emptyChart("pareto", "No complete trials yet."); return; }
    document.getElementById("pareto").querySelector(".chart-empty")?.remove();
    const others = done.filter((t) => !front.has(t.number));
    const best = done.filter((t) => front.has(t.number)).sort((a, b) => a.values[0] - b.values[0]);
    const trace = (rows, extra) => ({
      x: rows.map((t) => t.values[0]), y: rows.map((t) => t.values[1]),
      text: rows.map((t) => `trial ${t.number}`), customdata: rows.map((t) => t.number),
      hovertemplate: "%{text}: %{x:.4g}, %{y:.4g}<extra></extra>", ...extra,
    });
    draw("pareto", [
      trace(others, { type: "scattergl", mode: "markers", name: "dominated", marker: { size: 4, color: "#adb5bd", opacity: 0.6 } }),
      // With two objectives the front's staircase bounds what it dominates (its corners
      // on the dominated side); with more, its projection is no staircase: points only.
      trace(best, {
        type: "scatter", mode: d.directions.length === 2 ? "lines+markers" : "markers", name: "Pareto front",
        line: { shape: d.directions[0] === "maximize" ? "vh" : "hv", width: 1 }, marker: { size: 8, color: "#d62828" },
      }),
    ], {
      xaxis: { title: { text: plotText(`${objectiveLabel(d, 0)} (${d.directions[0]})`) } },
      yaxis: { title: { text: plotText(`${objectiveLabel(d, 1)} (${d.directions[1]})`) } },
    });
    const node = document.getElementById("pareto");
    node.dataset.front = best.map((t) => t.number).join(",");
    node.dataset.dominated = String(others.length);
    if (!node.dataset.linked) {
      node.dataset.linked = "1";
      node.on("plotly_click", (event) => {
        const number = event.points?.[0]?.customdata;
        if (Number.isInteger(number)) window.location.href = urls.trial(name, number);
      });
    }
  }

  // ---- timeline: start-to-end bars by worker, coloured by state --------------------------
  const STATE_COLORS = { COMPLETE: "#2a9d8f", PRUNED: "#e9c46a", FAIL: "#d62828", RUNNING: "#457b9d", WAITING: "#adb5bd" };
  const MAX_TIMELINE = 2000;

  function renderTimeline(d) {
    const started = view.rows.filter((t) => t.start !== null);
    const note = document.getElementById("timeline-note");
    if (!started.length) { emptyChart("timeline", "No trial has started yet."); note.textContent = ""; return; }
    const shown = started.length > MAX_TIMELINE ? started.slice().sort((a, b) => a.start - b.start).slice(-MAX_TIMELINE) : started;
    note.textContent = shown.length < started.length ? `the latest ${shown.length.toLocaleString()} of ${started.length.toLocaleString()} started trials` : "";
    const origin = Date.parse(d.origin), now = Date.parse(d.now);
    const traces = STATES.filter((s) => s !== "WAITING").map((state) => {
      const rows = shown.filter((t) => t.state === state);
      return {
        type: "bar", orientation: "h", name: state.toLowerCase(), marker: { color: STATE_COLORS[state] },
        y: rows.map((t) => plotText(t.worker || "?")),
        base: rows.map((t) => new Date(origin + t.start * 1000).toISOString()),
        x: rows.map((t) => Math.max(1, ((t.complete ?? (now - origin) / 1000) - t.start) * 1000)),
        text: rows.map((t) => `trial ${t.number}`), textposition: "none", hovertemplate: "%{text}<br>%{base|%H:%M:%S} + %{x:,.0f} ms<extra>%{fullData.name}</extra>",
      };
    }).filter((trace) => trace.y.length);
    document.getElementById("timeline").querySelector(".chart-empty")?.remove();
    draw("timeline", traces, { barmode: "overlay", xaxis: { type: "date", title: { text: "time" } }, yaxis: { type: "category", title: { text: "worker" }, automargin: true }, bargap: 0.3 });
    document.getElementById("timeline").dataset.bars = String(shown.length);
  }

  // ---- parallel coordinates and importances ------------------------------------------
  const MAX_LINES = 3000; // above this, the best 500 and an even sample of the rest
  const KEEP_BEST = 500;

  function niceInts(low, high) {
    const span = high - low;
    if (span <= 10) return Array.from({ length: span + 1 }, (_, i) => low + i);
    const step = Math.ceil(span / 8);
    const ticks = [];
    for (let v = low; v <= high; v += step) ticks.push(v);
    return ticks;
  }

  function decades(low, high) {
    const ticks = [];
    for (let e = Math.floor(Math.log10(low)); e <= Math.ceil(Math.log10(high)); e++) {
      for (const m of [1, 2, 5]) {
        const v = m * 10 ** e;
        if (v >= low * 0.999 && v <= high * 1.001) ticks.push(v);
      }
    }
    if (ticks.length > 9) return ticks.filter((v) => String(v).startsWith("1")); // powers of ten
    return ticks.length >= 2 ? ticks : [low, high];
  }

  // One axis from the study's own distribution: log axes in log10 with ticks in real
  // units, integer axes with integer ticks, choices as categories in their own order.
  function dimension(label, dist, values) {
    if (!dist || dist.type === "categorical") {
      const choices = dist ? dist.choices.map(String) : [...new Set(values.map(String))].sort();
      return { label, values: values.map((v) => choices.indexOf(String(v))), range: [0, Math.max(1, choices.length - 1)], tickvals: choices.map((_, i) => i), ticktext: choices };
    }
    if (dist.log) {
      const ticks = dist.type === "int" ? niceInts(dist.low, dist.high).filter((v) => v > 0) : decades(dist.low, dist.high);
      const shownTicks = dist.type === "int" ? decades(dist.low, dist.high).filter((v) => Number.isInteger(v)) : ticks;
      return { label: `${label} (log)`, values: values.map((v) => Math.log10(v)), range: [Math.log10(dist.low), Math.log10(dist.high)], tickvals: shownTicks.map(Math.log10), ticktext: shownTicks.map((v) => fmt(v, 3)) };
    }
    if (dist.type === "int") {
      const ticks = niceInts(dist.low, dist.high);
      return { label, values, range: [dist.low, dist.high], tickvals: ticks, ticktext: ticks.map(String) };
    }
    return { label, values, range: [dist.low, dist.high] };
  }

  // Colour by rank: 1 = the best trial, 0 = the worst, whatever the values' spread.
  function ranks(values, maximize) {
    const order = values.map((v, i) => i).sort((a, b) => (maximize ? values[a] - values[b] : values[b] - values[a]));
    const out = new Array(values.length);
    order.forEach((index, position) => { out[index] = values.length > 1 ? position / (values.length - 1) : 1; });
    return out;
  }

  function sample(rows, maximize) {
    if (rows.length <= MAX_LINES) return rows;
    const sorted = rows.slice().sort((a, b) => (maximize ? b.value - a.value : a.value - b.value));
    const best = sorted.slice(0, KEEP_BEST), rest = sorted.slice(KEEP_BEST);
    const stride = rest.length / (MAX_LINES - KEEP_BEST);
    const picked = Array.from({ length: MAX_LINES - KEEP_BEST }, (_, i) => rest[Math.floor(i * stride)]);
    return best.concat(picked).sort((a, b) => a.number - b.number);
  }

  function parcoordsKey(d) {
    const complete = view.rows.filter((t) => t.state === "COMPLETE");
    return JSON.stringify([complete.length, complete.length ? complete[complete.length - 1].number : -1, d.distributions, d.direction]);
  }

  function renderParcoords(d) {
    const node = document.getElementById("parcoords");
    const note = document.getElementById("parcoords-note");
    const key = parcoordsKey(d);
    if (key === view.parcoordsKey) return; // nothing new to draw
    view.parcoordsKey = key;
    const all = view.rows.filter((t) => t.state === "COMPLETE" && t.value !== null);
    if (all.length === 0) { emptyChart("parcoords", "No complete trials yet."); note.textContent = ""; return; }
    node.querySelector(".chart-empty")?.remove();
    const maximize = d.direction === "maximize";
    const rows = sample(all, maximize);
    note.textContent = rows.length < all.length
      ? `${rows.length.toLocaleString()} of ${all.length.toLocaleString()} complete trials: the best ${KEEP_BEST} and an even sample of the rest`
      : "";
    const names = d.param_names.filter((p) => rows.some((t) => t.params[p] !== undefined && t.params[p] !== null));
    const value = rows.map((t) => t.value);
    const rank = ranks(value, maximize);
    Plotly.react(node, [{
      type: "parcoords",
      line: { color: rank, colorscale: "Viridis", cmin: 0, cmax: 1, showscale: true, colorbar: { title: { text: "rank" }, tickvals: [0, 1], ticktext: ["worst", "best"] } },
      dimensions: [...names.map((p) => dimension(p, d.distributions[p], rows.map((t) => t.params[p] ?? null))), { label: d.metric ?? "value", values: value }],
    }], HP.layout({ margin: { l: 60, r: 80, t: 50, b: 20 } }), { displaylogo: false, responsive: true });
    view.parcoordsDraws += 1;
    node.dataset.draws = String(view.parcoordsDraws);
    node.dataset.lines = String(rows.length);
  }

  async function renderImportances() {
    const result = await getJSON(`${urls.apiStudy(name)}/importances`);
    const message = document.getElementById("importances-message");
    message.textContent = [result.message, result.caveat].filter(Boolean).join(" ");
    if (!result.importances) { emptyChart("importances", "No importances to show."); return; }
    document.getElementById("importances").querySelector(".chart-empty")?.remove();
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
    if (!numbers.length) {
      emptyChart("curves", view.rows.length ? "Tick trials in the table below to see their learning curves." : "No trials yet.");
      node.dataset.epochs = "0";
      node.dataset.shown = "";
      return false;
    }
    const { curves } = await getJSON(`${urls.apiStudy(name)}/curves?trials=${numbers.join(",")}`);
    node.querySelector(".chart-empty")?.remove();
    draw("curves", curveTraces(curves), {
      grid: { rows: 1, columns: 2, pattern: "independent" },
      xaxis: { title: { text: "epoch" } }, yaxis: { title: { text: "accuracy" } },
      xaxis2: { title: { text: "epoch" } }, yaxis2: { title: { text: "loss" } },
      legend: { orientation: "h", y: -0.3 },
    });
    node.dataset.epochs = String(curves.reduce((sum, c) => sum + c.columns.epoch.length, 0));
    node.dataset.shown = curves.map((c) => c.number).join(",");
    return curves.some((c) => c.live);
  }

  // ---- trials table --------------------------------------------------------------------
  const FIXED = [
    ["number", "#"], ["state", "state"], ["value", "value"], ["epochs", "epochs"],
    ["seconds", "seconds"], ["worker", "worker"], ["stop_reason", "stop"],
  ];

  function cell(t, key) {
    if (key.startsWith("param:")) return t.params[key.slice(6)];
    if (key.startsWith("value:")) return t.values ? t.values[Number(key.slice(6))] : null;
    return t[key];
  }

  const arrow = (direction) => (direction === "minimize" ? "↓" : "↑");

  // One value column per objective in a multi-objective study ("value:0", "value:1", ...).
  function columns(d) {
    const fixed = FIXED.flatMap(([key, label]) => {
      if (key !== "value") return [[key, label]];
      if (multi(d)) return d.directions.map((dir, i) => [`value:${i}`, `${objectiveLabel(d, i)} ${arrow(dir)}`]);
      return [[key, `${d.metric ?? "value"} ${arrow(d.direction)}`]];
    });
    return [...fixed, ...d.param_names.map((p) => [`param:${p}`, p])];
  }

  function firstSortDir(d, key) {
    if (key === "value") return d.direction === "minimize" ? 1 : -1;
    if (key.startsWith("value:")) return d.directions[Number(key.slice(6))] === "minimize" ? 1 : -1;
    return 1;
  }

  function text(t) {
    if (t._text === undefined) {
      t._text = [t.number, t.state, t.worker, t.stop_reason, ...Object.entries(t.params).map(([k, v]) => `${k}=${v}`)].join(" ").toLowerCase();
    }
    return t._text;
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
      return text(t).includes(token);
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
    const rows = view.rows.filter((t) => (!state || t.state === state) && matches(t, tokens));
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
          view.sortDir = view.sortKey === key ? -view.sortDir : firstSortDir(d, key);
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
    document.getElementById("trial-count").textContent = `(${rows.length} of ${view.rows.length} shown by the filter)`;
    document.getElementById("trials-empty").hidden = view.rows.length > 0;
    const more = document.getElementById("trials-more");
    more.hidden = rows.length <= view.limit;
    more.replaceChildren(`showing ${shown.length} of ${rows.length} `,
      el("button", { type: "button", onclick: () => { view.limit += 5 * PAGE; renderTable(); } }, "show more"));
  }

  // ---- refresh loop ----------------------------------------------------------------
  function defaultSelection(d) {
    if (view.userSelected) return false;
    const before = [...view.selected].join(",");
    view.selected = new Set([...(d.best ? [d.best.number] : (d.pareto || []).slice(0, 3)), ...d.running.slice(0, 4)]);
    if (view.selected.size === 0) view.rows.slice(-3).forEach((t) => view.selected.add(t.number));
    return [...view.selected].join(",") !== before;
  }

  // The API sends the trials as columns (smaller, faster); the page works on rows.
  function toRows(columns) {
    const params = Object.entries(columns.params || {});
    return columns.number.map((number, i) => {
      const p = {};
      for (const [key, values] of params) if (values[i] !== null) p[key] = values[i];
      return {
        number, state: columns.state[i], value: columns.value[i], epochs: columns.epochs[i],
        seconds: columns.seconds[i], worker: columns.worker[i], stop_reason: columns.stop_reason[i],
        start: columns.start[i], complete: columns.complete[i], params: p,
        values: columns.values ? columns.values[i] : null,
      };
    });
  }

  // A big study's first answer is its summary only ("partial"): the server reads its
  // trials meanwhile (see warmup.py). Draw what there is, say so, and ask again soon.
  function renderPartial(d) {
    renderSummary(d);
    renderSpace(d);
    const loading = `Reading the study's ${d.n_trials.toLocaleString()} trials…`;
    for (const id of ["progress-time", "progress-epochs", "parcoords", "timeline", "importances"]) emptyChart(id, loading);
    if (multi(d)) { document.getElementById("pareto-section").hidden = false; emptyChart("pareto", loading); }
    emptyChart("curves", loading);
    const empty = document.getElementById("trials-empty");
    empty.textContent = loading;
    empty.hidden = false;
    document.getElementById("trials").dataset.partial = "1";
  }

  async function refresh() {
    const d = await getJSON(urls.apiStudy(name));
    if (d.partial) { renderPartial(d); return Math.min(pollMs, 1000); }
    document.getElementById("trials-empty").textContent = "No trials in this study yet.";
    delete document.getElementById("trials").dataset.partial;
    const signature = JSON.stringify([d.counts, d.n_trials, d.total_epochs, d.budget, d.workers.length]);
    if (signature !== view.signature) {
      view.signature = signature;
      view.data = d;
      // Finished and unfinished trials come as two column sets (see study_page.py).
      view.rows = toRows(d.trials).concat(toRows(d.live_trials)).sort((a, b) => a.number - b.number);
      renderSummary(d);
      renderSpace(d);
      renderProgress(d);
      renderTimeline(d);
      renderPareto(d);
      // Selection first, then the table and (if it changed) the curves: boxes and curves agree.
      const changed = defaultSelection(d);
      renderTable();
      if (changed && view.started) renderCurves().catch((error) => HP.status(error.message, true));
      renderParcoords(d);
      const complete = d.counts.COMPLETE;
      if (complete !== view.complete) {
        view.complete = complete;
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
      // Until the full answer: a partial one has no trials to select or draw curves of.
      while (view.data === null) {
        const wait = await refresh();
        if (view.data === null) await new Promise((resolve) => setTimeout(resolve, wait));
      }
      view.started = true;
      poll(async () => (await renderCurves()) ? pollMs : pollMs * 5);
      setTimeout(() => poll(refresh), pollMs);
    } catch (error) {
      HP.status(error.message, true);
    }
  })();
})();
