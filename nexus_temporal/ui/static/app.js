// nexus ui: the executions list and one execution's graph, polled from the JSON API.
// Every value shown comes from payloads and names the operator does not control: it is put
// in the page as text (textContent), never as HTML, and links are built only from the
// server's own Web UI address or this page's routes.
"use strict";

(function () {
  const STATUSES = ["not_reached", "running", "succeeded", "failed", "caught", "compensated",
    "compensation_failed"];
  const COLORS = {
    not_reached: "#c9ced6", running: "#2f7de1", succeeded: "#2e9d57", failed: "#d93636",
    caught: "#e88a1a", compensated: "#8a55c9", compensation_failed: "#7a1111",
  };
  const ui = { info: null, cy: null, graphKey: null, execution: null, selected: null,
    timer: null, route: null };
  window.nexusUi = ui; // for tests and the curious: the graph (ui.cy) and the last answer

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null) continue;
      if (key === "class") node.className = value;
      else if (key === "href") node.href = safeHref(value);
      else if (key.startsWith("data-")) node.setAttribute(key, String(value));
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node[key] = value;
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function safeHref(value) {
    const text = String(value);
    if (text.startsWith("#/")) return text;
    try {
      const url = new URL(text);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : "#/";
    } catch (e) {
      return "#/";
    }
  }

  function badge(status) {
    return el("span", { class: "badge s-" + status, "data-status": status },
      String(status).replace("_", " "));
  }

  function json(value) {
    return el("pre", {}, value === undefined ? "" : JSON.stringify(value, null, 2));
  }

  function time(text) {
    if (!text) return "";
    const d = new Date(text);
    return isNaN(d) ? text : d.toLocaleString();
  }

  function executionHref(id) {
    return "#/executions/" + encodeURIComponent(id);
  }

  async function api(path, options) {
    const response = await fetch(path, options);
    const body = await response.json().catch(() => ({ error: response.statusText }));
    if (!response.ok) throw new Error(body.error || response.statusText);
    return body;
  }

  function say(text) {
    document.getElementById("status-line").textContent = text;
  }

  // --- the list ---------------------------------------------------------------------------

  async function showList() {
    const form = document.getElementById("filters");
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(form).entries()) {
      if (value) params.set(key, String(value));
    }
    const rows = await api("/api/executions?" + params.toString());
    const body = document.querySelector("#executions tbody");
    body.replaceChildren(...rows.map((row) =>
      el("tr", { class: "clickable", "data-workflow-id": row.workflow_id,
        onclick: (ev) => { if (ev.target.tagName !== "A") location.hash = executionHref(row.workflow_id); } },
        el("td", {}, el("a", { href: executionHref(row.workflow_id) }, row.workflow_id)),
        el("td", {}, `${row.definition}@${row.version || "?"}`),
        el("td", {}, badge(row.status)),
        el("td", {}, row.state || ""),
        el("td", {}, time(row.started_at)),
        el("td", {}, row.web_ui ? el("a", { href: row.web_ui, target: "_blank", rel: "noopener noreferrer" }, "Web UI") : ""))));
    document.getElementById("list-empty").hidden = rows.length > 0;
  }

  // --- one execution ----------------------------------------------------------------------

  function graphStyle() {
    return [
      { selector: "node", style: {
        "label": "data(display)", "text-wrap": "wrap", "text-valign": "center",
        "text-halign": "center", "font-size": 11, "width": 150, "height": 44,
        "shape": "round-rectangle", "background-color": "data(color)", "color": "#111",
        "border-width": 1, "border-color": "#667" } },
      { selector: "node[kind = 'start']", style: { "width": 14, "height": 14, "shape": "ellipse", "background-color": "#1d2330" } },
      { selector: "node[kind = 'scope']", style: { "background-color": "#f5f6f8", "background-opacity": 0.6,
        "border-style": "dashed", "text-valign": "top", "label": "data(label)", "color": "#556" } },
      { selector: "node[kind = 'compensation']", style: { "shape": "cut-rectangle", "height": 30, "width": 130,
        "border-style": "dashed", "font-size": 10 } },
      { selector: "node[type = 'choice']", style: { "shape": "diamond", "width": 120, "height": 60 } },
      { selector: "node[type = 'succeed'], node[type = 'fail']", style: { "shape": "ellipse", "width": 120 } },
      { selector: "node.selected", style: { "border-width": 4, "border-color": "#1d2330" } },
      { selector: "edge", style: { "curve-style": "bezier", "target-arrow-shape": "triangle", "width": 1.5,
        "line-color": "#8a93a3", "target-arrow-color": "#8a93a3", "label": "data(label)", "font-size": 9,
        "text-rotation": "autorotate", "text-background-color": "#fff", "text-background-opacity": 1 } },
      { selector: "edge[kind = 'catch']", style: { "line-style": "dashed", "line-color": "#e88a1a", "target-arrow-color": "#e88a1a" } },
      { selector: "edge[kind = 'compensate']", style: { "line-style": "dotted", "line-color": "#8a55c9", "target-arrow-color": "#8a55c9" } },
      { selector: "edge[kind = 'branch'], edge[kind = 'item']", style: { "line-style": "dashed" } },
    ];
  }

  function display(state, node) {
    if (!state) return node.label;
    let text = node.label;
    if (state.visits > 1) text += `  ×${state.visits}`;
    if (state.map && state.map.done !== null) {
      text += `\n${state.map.done + state.map.failed}/${state.map.total === null ? "?" : state.map.total}`;
      if (state.map.failed) text += ` (${state.map.failed} failed)`;
    } else if (node.type) text += `\n${state.status.replace("_", " ")}`;
    return text;
  }

  function drawGraph(view) {
    const byName = Object.fromEntries(view.states.map((s) => [s.name, s]));
    const comps = Object.fromEntries(view.compensations.map((c) => [c.state, c]));
    const key = view.hash + ":" + view.graph.nodes.map((n) => n.data.id).join(",");
    const colour = (data) => {
      if (data.kind === "compensation") {
        const comp = comps[data.state];
        return comp ? (comp.status === "completed" ? COLORS.compensated : COLORS.compensation_failed) : "#eceef1";
      }
      const state = byName[data.state];
      return state ? COLORS[state.status] || "#ccc" : COLORS.not_reached;
    };
    if (!ui.cy || ui.graphKey !== key) {
      if (ui.cy) ui.cy.destroy();
      const elements = [
        ...view.graph.nodes.map((n) => ({ data: { ...n.data, color: colour(n.data),
          status: (byName[n.data.state] || {}).status || "", display: display(byName[n.data.state], n.data) } })),
        ...view.graph.edges.map((e) => ({ data: { ...e.data } })),
      ];
      ui.cy = cytoscape({ container: document.getElementById("graph"), elements, style: graphStyle(),
        layout: { name: "dagre", rankDir: "TB", nodeSep: 30, rankSep: 45 }, wheelSensitivity: 0.3 });
      ui.graphKey = key;
      ui.cy.on("tap", "node", (ev) => {
        const state = ev.target.data("state");
        if (state) select(state);
      });
    } else {
      ui.cy.batch(() => ui.cy.nodes().forEach((node) => {
        const data = node.data();
        node.data({ color: colour(data), status: (byName[data.state] || {}).status || "",
          display: display(byName[data.state], data) });
      }));
    }
    ui.cy.nodes().removeClass("selected");
    if (ui.selected) ui.cy.$id("s:" + ui.selected).addClass("selected");
  }

  function head(view) {
    const links = [];
    if (view.web_ui) links.push(el("a", { href: view.web_ui, target: "_blank", rel: "noopener noreferrer" }, "open in the Temporal Web UI"));
    document.getElementById("execution-head").replaceChildren(
      el("h2", {}, view.workflow_id),
      el("div", { class: "meta" },
        `${view.definition || "?"}@${view.version || "?"} `, badge(view.status),
        view.current.length ? `  in ${view.current.join(", ")}` : "",
        `  · ${view.runs.length} run${view.runs.length === 1 ? "" : "s"}`,
        `  · started ${time(view.started_at)}`, view.closed_at ? `, closed ${time(view.closed_at)}` : "",
        view.live ? "  · live (nexus_state)" : "  · from history", "  ", ...links),
      view.error ? el("div", { class: "error", id: "execution-error" },
        `${view.error.type}: ${view.error.message}`) : "",
      view.graph_source === "history" ? el("div", { class: "muted" },
        "graph of the states history shows: start nexus ui with --definitions to draw the definition") : "");
  }

  function actions(view) {
    const box = document.getElementById("actions");
    const closed = !["running", "compensating"].includes(view.status);
    if (!ui.info || !ui.info.redrive || !closed) {
      box.replaceChildren();
      box.dataset.for = "";
      return;
    }
    if (box.dataset.for === view.workflow_id + view.run_id) return; // keep what the user typed
    box.dataset.for = view.workflow_id + view.run_id;
    const result = el("span", { class: "result", id: "action-result" });
    const report = (promise) => promise.then((r) => {
      result.replaceChildren(r.description + " ", el("a", { href: executionHref(r.workflow_id) }, "open"));
    }).catch((e) => { result.replaceChildren(el("span", { class: "error" }, e.message)); });
    const post = (verb, body) => api(`/api/executions/${encodeURIComponent(view.workflow_id)}/${verb}`,
      { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const children = [];
    if (["failed", "timed_out", "terminated"].includes(view.status)) {
      children.push(el("button", { id: "redrive", type: "button", onclick: () => report(post("redrive", {})) },
        "Redrive from the failed state"));
    }
    const reached = view.states.filter((s) => s.visits > 0 && s.scope === "");
    const select = el("select", { name: "from" }, ...reached.map((s) => el("option", { value: s.name }, s.name)));
    const input = el("textarea", { name: "input", placeholder: "input JSON (empty: the data recorded there)" });
    children.push(el("form", { id: "rerun", onsubmit: (ev) => {
      ev.preventDefault();
      const body = { from: select.value };
      if (input.value.trim()) {
        try { body.input = JSON.parse(input.value); } catch (e) {
          result.replaceChildren(el("span", { class: "error" }, "the input is not JSON")); return;
        }
      }
      report(post("rerun", body));
    } }, "Rerun from ", select, input, el("button", { type: "submit" }, "Rerun")));
    children.push(result);
    box.replaceChildren(...children);
  }

  function progress(map) {
    if (!map || map.done === null) return "";
    const total = map.total === null ? "?" : map.total;
    const bar = el("progress", { max: map.total || map.done + map.failed || 1, value: map.done + map.failed });
    return el("span", { class: "map-progress" }, bar,
      ` ${map.done} done, ${map.failed} failed / ${total}`,
      map.shards.length ? ` · ${map.shards.length} shards` : "");
  }

  function statesTable(view) {
    document.querySelector("#states tbody").replaceChildren(...view.states.map((s) =>
      el("tr", { class: "clickable" + (s.name === ui.selected ? " selected" : ""), "data-state": s.name,
        "data-status": s.status, onclick: () => select(s.name) },
        el("td", {}, s.name), el("td", {}, s.type), el("td", {}, badge(s.status)),
        el("td", {}, s.visits), el("td", {}, s.attempts), el("td", {}, progress(s.map)))));
    const list = document.getElementById("compensations");
    list.replaceChildren(...view.compensations.map((c) => el("li", { "data-state": c.state },
      `${c.state}: ${c.action} `, badge(c.status === "completed" ? "compensated" : c.status),
      c.error ? el("span", { class: "error" }, ` ${c.error.type}: ${c.error.message}`) : "")));
    document.getElementById("no-compensations").hidden = view.compensations.length > 0;
  }

  function panel(view) {
    const box = document.getElementById("panel");
    const state = view.states.find((s) => s.name === ui.selected);
    if (!state) {
      box.replaceChildren(el("p", { class: "muted" }, "Click a state to see its input, output, errors, attempts and timings."));
      return;
    }
    const parts = [el("h3", {}, state.name), el("div", {}, `${state.type || "state"} `, badge(state.status),
      ` · ${state.visits} visit${state.visits === 1 ? "" : "s"} · ${state.attempts} attempts`,
      state.action ? ` · action ${state.action}` : "")];
    if (state.map) {
      parts.push(el("h4", {}, "Map"), el("div", { id: "panel-map" }, progress(state.map) || "no item counts in history"));
      if (state.map.shards.length) {
        parts.push(el("ul", {}, ...state.map.shards.map((sh) => el("li", {},
          el("a", { href: executionHref(sh.workflow_id) }, `items ${sh.items ? sh.items.join("..") : "?"}`),
          " ", badge(sh.status === "completed" ? "succeeded" : sh.status),
          sh.done !== null ? ` ${sh.done} done, ${sh.failed} failed` : ""))));
      }
    }
    for (const child of state.children || []) {
      parts.push(el("div", {}, "child workflow ", el("a", { href: executionHref(child.workflow_id), class: "child-link" }, child.workflow_id),
        " ", badge(child.status === "completed" ? "succeeded" : child.status)));
    }
    if (state.compensation) {
      parts.push(el("h4", {}, "Compensation"), el("div", {}, `${state.compensation.what}: ${state.compensation.status}`),
        el("div", { class: "label" }, "input"), json(state.compensation.input));
    }
    for (const visit of state.history) {
      parts.push(el("div", { class: "visit", "data-visit": visit.visit },
        el("strong", {}, `visit ${visit.visit}`),
        ` · entered ${time(visit.entered_at)}`,
        visit.duration_ms !== null ? ` · ${visit.duration_ms} ms` : " · not finished",
        ` · ${visit.attempts} attempt${visit.attempts === 1 ? "" : "s"}`,
        el("div", {}, "input"), el("div", { class: "visit-input" }, json(visit.input)),
        el("div", {}, "output"), el("div", { class: "visit-output" }, json(visit.output)),
        visit.error ? [el("div", { class: "error" }, "error"), el("div", { class: "visit-error" }, json(visit.error))] : "",
        visit.calls.length > 1 ? el("details", {}, el("summary", {}, `${visit.calls.length} calls`),
          ...visit.calls.map((c) => el("div", {}, `${c.label} (${c.what}): ${c.status}, ${c.attempts} attempts`,
            c.error ? ` · ${c.error.type}: ${c.error.message}` : ""))) : ""));
    }
    box.replaceChildren(...parts);
  }

  function select(name) {
    ui.selected = name;
    if (ui.execution) render(ui.execution);
  }

  function render(view) {
    ui.execution = view;
    head(view);
    actions(view);
    drawGraph(view);
    statesTable(view);
    panel(view);
  }

  async function showExecution(id) {
    const view = await api("/api/executions/" + encodeURIComponent(id));
    if (ui.route !== "x:" + id) return;
    render(view);
  }

  // --- routing and polling ----------------------------------------------------------------

  function route() {
    const hash = location.hash || "#/";
    const match = hash.match(/^#\/executions\/(.+)$/);
    const id = match ? decodeURIComponent(match[1]) : null;
    const key = id === null ? "list" : "x:" + id;
    if (ui.route !== key) {
      ui.route = key;
      ui.selected = null;
      if (ui.cy) { ui.cy.destroy(); ui.cy = null; ui.graphKey = null; }
      document.getElementById("actions").dataset.for = "";
    }
    document.getElementById("list-view").hidden = id !== null;
    document.getElementById("execution-view").hidden = id === null;
    return id;
  }

  async function tick() {
    clearTimeout(ui.timer);
    const id = route();
    try {
      if (id === null) await showList(); else await showExecution(id);
      say("updated " + new Date().toLocaleTimeString());
    } catch (e) {
      say("error: " + e.message);
    }
    const closed = ui.execution && id !== null && !["running", "compensating"].includes(ui.execution.status);
    ui.timer = setTimeout(tick, (ui.info ? ui.info.poll_ms : 2000) * (closed ? 5 : 1));
  }

  async function start() {
    document.getElementById("legend").replaceChildren(...STATUSES.map((s) =>
      el("li", { class: "l-" + s }, s.replace("_", " "))));
    try {
      ui.info = await api("/api/info");
      document.getElementById("namespace").textContent = "namespace " + ui.info.namespace;
      document.getElementById("definitions").replaceChildren(...ui.info.definitions.map((d) =>
        el("option", { value: d.split("@")[0] })));
    } catch (e) {
      say("error: " + e.message);
    }
    document.getElementById("filters").addEventListener("submit", (ev) => { ev.preventDefault(); tick(); });
    window.addEventListener("hashchange", tick);
    tick();
  }

  document.addEventListener("DOMContentLoaded", start);
})();
