// Shared helpers for the dashboard pages. Plain JS, no build step.
// Every string from the storage goes into the DOM through textContent (el() below),
// never innerHTML, and into Plotly through plotText(), which escapes its markup.
"use strict";

const HP = (() => {
  const body = document.body;
  const pollMs = Math.max(200, Number(body.dataset.pollMs) || 3000);

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key === "checked" || key === "value") node[key] = value;
      else node.setAttribute(key, String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  // Plotly reads a few HTML-like tags in SVG labels and decodes &amp; &lt; &gt; (but not
  // &quot;, which it would show as typed): escape exactly those so a name stays text.
  function plotText(value) {
    return String(value ?? "").replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  async function getJSON(url) {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) {
      let message = response.statusText;
      try { message = (await response.json()).error || message; } catch (_) { /* not JSON */ }
      throw new Error(`${response.status}: ${message}`);
    }
    return response.json();
  }

  const enc = encodeURIComponent;
  const urls = {
    study: (name) => `/studies/${enc(name)}`,
    trial: (name, number) => `/studies/${enc(name)}/trials/${number}`,
    apiStudy: (name) => `/api/studies/${enc(name)}`,
  };

  function fmt(value, digits = 4) {
    if (value === null || value === undefined || value === "") return "—";
    if (typeof value === "number") {
      if (Number.isInteger(value)) return String(value);
      const abs = Math.abs(value);
      return abs !== 0 && (abs < 1e-3 || abs >= 1e5) ? value.toExponential(2) : value.toFixed(digits);
    }
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  function fmtSeconds(s) {
    if (s === null || s === undefined) return "—";
    if (s < 60) return `${s.toFixed(1)} s`;
    if (s < 3600) return `${(s / 60).toFixed(1)} min`;
    return `${(s / 3600).toFixed(2)} h`;
  }

  function fmtTime(iso) {
    if (!iso) return "—";
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleString();
  }

  function status(message, isError = false) {
    const node = document.getElementById("status");
    if (!node) return;
    node.textContent = message || "";
    node.classList.toggle("error", Boolean(isError));
  }

  // Calls fn now and then every ms (or what fn returns), pausing while the tab is hidden.
  function poll(fn, ms = pollMs) {
    let timer = null;
    async function tick() {
      let next = ms;
      if (!document.hidden) {
        try {
          const returned = await fn();
          if (typeof returned === "number") next = returned;
          if (returned === false) return;
          status("");
        } catch (error) {
          status(`update failed (${error.message}); retrying`, true);
        }
      }
      timer = setTimeout(tick, next);
    }
    tick();
    return () => clearTimeout(timer);
  }

  const plotConfig = { displaylogo: false, responsive: true };

  function layout(extra) {
    return Object.assign({
      margin: { l: 55, r: 15, t: 10, b: 45 },
      hovermode: "closest",
      legend: { orientation: "h", y: -0.25 },
      font: { size: 12 },
    }, extra || {});
  }

  function draw(id, traces, extraLayout) {
    const node = document.getElementById(id);
    if (!node) return;
    Plotly.react(node, traces, layout(extraLayout), plotConfig);
  }

  function definition(list, pairs) {
    list.replaceChildren();
    for (const [term, value] of pairs) {
      list.append(el("dt", {}, term), el("dd", {}, value instanceof Node ? value : fmt(value)));
    }
  }

  const STATES = ["COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING"];

  return { el, plotText, getJSON, urls, fmt, fmtSeconds, fmtTime, status, poll, pollMs, draw, layout, definition, STATES };
})();
