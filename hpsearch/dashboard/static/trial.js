// One trial: summary, retrain result, curves with their marks, gradient norms per layer,
// hyperparameters and the command that reproduces it. Polls while the trial runs.
"use strict";

(() => {
  const { el, fmt, fmtSeconds, fmtTime, getJSON, urls, plotText, draw, poll, definition, pollMs } = HP;
  const name = document.body.dataset.study;
  const number = Number(document.body.dataset.number);

  function renderSummary(t) {
    const worker = t.worker ? `${t.worker.host ?? "?"} (pid ${t.worker.pid ?? "?"})` : null;
    const pairs = [
      ["state", t.state], ["value", t.value], ["stop reason", t.stop_reason ?? t.curve.stop_reason],
      ["best epoch", t.curve.best_epoch], ["epochs run", t.epochs_run], ["training time", fmtSeconds(t.seconds)],
      ["worker", worker], ["started", fmtTime(t.start)], ["finished", fmtTime(t.complete)],
    ];
    if (t.cohort) pairs.push(["cohort", `trial ${t.cohort.id}'s, ${t.cohort.size ?? "?"} trial(s) trained at once (data seed ${t.cohort.data_seed ?? "?"})`]);
    if (t.fail_reason) pairs.push(["fail reason", t.fail_reason]);
    for (const [key, value] of Object.entries(t.other_attrs)) pairs.push([key, value]);
    definition(document.getElementById("summary"), pairs);
    const section = document.getElementById("retrain-section");
    section.hidden = !t.retrain;
    if (t.retrain) {
      const rows = [["test accuracy", t.retrain.test_accuracy]];
      const trials = t.retrain.trials ?? [];
      const drawn = trials.length > 1 ? `, from trials ${trials.join(", ")}` : "";
      if ((t.retrain.ensemble ?? 1) > 1) rows.push(["ensemble", `${t.retrain.ensemble} networks averaged${drawn}`]);
      rows.push(["model", t.retrain.model_path], ["finished", fmtTime(t.retrain.finished_at)]);
      definition(document.getElementById("retrain"), rows);
    }
  }

  function marks(curve) {
    const styles = { best: ["star", "#2a9d8f"], early_stop: ["x", "#e76f51"], pruned: ["triangle-down", "#d62828"], diverged: ["x", "#6a040f"], schedule_end: ["square", "#7b2cbf"] };
    return curve.marks.map((m) => ({
      x: [m.epoch], y: [m.value], mode: "markers", name: m.kind.replace("_", " "),
      marker: { symbol: (styles[m.kind] || styles.best)[0], color: (styles[m.kind] || styles.best)[1], size: 14, line: { width: 1 } },
    }));
  }

  function renderCurves(t) {
    const c = t.curve.columns;
    if (!c.epoch.length) {
      for (const id of ["curve-accuracy", "curve-loss", "gradient-norms"]) {
        Plotly.purge(id);
        document.getElementById(id).replaceChildren(el("p", { class: "empty chart-empty" }, t.state === "WAITING" ? "This trial has not started yet." : "No epochs recorded for this trial."));
      }
      document.getElementById("curve-accuracy").dataset.epochs = "0";
      return;
    }
    for (const id of ["curve-accuracy", "curve-loss"]) document.getElementById(id).querySelector(".chart-empty")?.remove();
    draw("curve-accuracy", [
      { x: c.epoch, y: c.validation_accuracy, name: "validation", mode: "lines+markers" },
      { x: c.epoch, y: c.train_accuracy, name: "train", mode: "lines+markers", line: { dash: "dot" } },
      ...marks(t.curve),
    ], { xaxis: { title: { text: "epoch" } }, yaxis: { title: { text: "accuracy" } } });
    draw("curve-loss", [
      { x: c.epoch, y: c.validation_loss, name: "validation", mode: "lines+markers" },
      { x: c.epoch, y: c.train_loss, name: "train", mode: "lines+markers", line: { dash: "dot" } },
    ], { xaxis: { title: { text: "epoch" } }, yaxis: { title: { text: "loss" } } });
    const layers = Math.max(0, ...c.gradient_norms.map((g) => (Array.isArray(g) ? g.length : 0)));
    const norms = Array.from({ length: layers }, (_, layer) => ({
      x: c.epoch, y: c.gradient_norms.map((g) => (Array.isArray(g) ? g[layer] : null)),
      name: `layer ${layer + 1}`, mode: "lines+markers",
    }));
    const gradients = document.getElementById("gradient-norms");
    if (norms.length) {
      draw("gradient-norms", norms, { xaxis: { title: { text: "epoch" } }, yaxis: { title: { text: "‖∇W‖" }, type: "log" } });
    } else {
      gradients.replaceChildren(el("p", { class: "hint" }, "No gradient norms recorded for this trial."));
    }
    document.getElementById("curve-accuracy").dataset.epochs = String(c.epoch.length);
  }

  function renderParams(t) {
    document.querySelector("#params tbody").replaceChildren(...Object.entries(t.params).map(([key, value]) =>
      el("tr", {}, el("th", { scope: "row", title: t.distributions[key] || "" }, key), el("td", { class: "num" }, fmt(value, 6)))));
    document.getElementById("command").textContent = t.command || "(not recorded)";
    document.getElementById("provenance").textContent = t.data_provenance ? JSON.stringify(t.data_provenance, null, 2) : "(not recorded)";
  }

  poll(async () => {
    const t = await getJSON(`${urls.apiStudy(name)}/trials/${number}`);
    document.title = `${name} #${number} · hpsearch dashboard`;
    renderSummary(t);
    renderCurves(t);
    renderParams(t);
    return t.state === "RUNNING" || t.state === "WAITING" ? pollMs : false;
  });
})();
