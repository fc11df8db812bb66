/* Journey Canvas editor: the glue between the AntV X6 graph and our server.
 *
 * The server owns every piece of domain knowledge: node summaries, output ports, config
 * forms and validation all come from it (see canvas_ui/summaries.py and panel.py). This
 * file only draws the graph, keeps it in sync with the saved draft document, and wires the
 * toolbar. User-provided text is set through X6 text attributes or textContent, never
 * innerHTML.
 */
(function () {
  "use strict";

  const boot = JSON.parse(document.getElementById("canvas-boot").textContent);
  const S = boot.strings;
  const journeyId = boot.journeyId;
  const readonly = boot.readonly;
  const apiBase = "/api/journeys/" + encodeURIComponent(journeyId);
  const doc = boot.document; // name, description, settings are kept from here on save

  const NODE_W = 232;
  const PORT_GAP = 24;
  const IN = "in";
  const OUT = "out:"; // output port ids are "out:<port name>"
  // Steps are drawn above connections, so a connected output port can still be grabbed
  // (to replace its connection): a connection's wide hit area used to cover it.
  const NODE_Z = 2;
  const EDGE_Z = 1;

  // ------------------------------------------------------------------ node shape

  /** Height of a node with n output ports (ports are spaced evenly on the right side). */
  function nodeHeight(nPorts) { return Math.max(68, 20 + nPorts * PORT_GAP); }

  /** Cut text to roughly `max` columns, CJK characters counting double. */
  function clip(text, max) {
    let width = 0;
    for (let i = 0; i < text.length; i++) {
      width += text.charCodeAt(i) > 0x2e80 ? 2 : 1;
      if (width > max) return text.slice(0, i) + "…";
    }
    return text;
  }

  X6.Graph.registerNode("journey-node", {
    inherit: "rect",
    width: NODE_W,
    height: 68,
    markup: [
      { tagName: "rect", selector: "body" },
      { tagName: "rect", selector: "accent" },
      { tagName: "circle", selector: "iconBg" },
      { tagName: "path", selector: "icon" },
      { tagName: "text", selector: "label" },
      { tagName: "text", selector: "summary" },
      { tagName: "circle", selector: "badge" },
      { tagName: "text", selector: "badgeText" },
      { tagName: "rect", selector: "resBg" },
      { tagName: "text", selector: "resText" },
    ],
    attrs: {
      body: { refWidth: "100%", refHeight: "100%", rx: 10, ry: 10, fill: "#fff",
              stroke: "#d0d5dd", strokeWidth: 1 },
      accent: { width: 4, refHeight: "100%", rx: 2, fill: "#2f6fed" },
      iconBg: { cx: 28, refCy: "50%", r: 15, fill: "#eef4ff" },
      icon: { fill: "none", stroke: "#2f6fed", strokeWidth: 1.8, strokeLinecap: "round",
              strokeLinejoin: "round", transform: "translate(19,0)", refY: "50%", refY2: -9,
              pointerEvents: "none" },
      label: { refX: 52, refY: "50%", refY2: -9, fontSize: 14, fontWeight: 600, fill: "#101828",
               textAnchor: "start", textVerticalAnchor: "middle" },
      summary: { refX: 52, refY: "50%", refY2: 11, fontSize: 12, fill: "#475467",
                 textAnchor: "start", textVerticalAnchor: "middle" },
      badge: { refX: "100%", refX2: -2, refY: 2, r: 9, fill: "#d92d20", display: "none" },
      badgeText: { refX: "100%", refX2: -2, refY: 2, fontSize: 12, fontWeight: 700, fill: "#fff",
                   textAnchor: "middle", textVerticalAnchor: "middle", text: "!", display: "none" },
      // the Results badge, just above the step (see resultsOverlay)
      resBg: { x: 0, y: -26, height: 22, width: 10, rx: 11, ry: 11, fill: "#6941c6", display: "none" },
      // (refX/refY, not x/y: the inherited "text" attrs would centre it on the step)
      resText: { refX: 10, refY: -15, fontSize: 12, fontWeight: 600, fill: "#fff", textAnchor: "start",
                 textVerticalAnchor: "middle", pointerEvents: "none", display: "none" },
    },
    ports: {
      groups: {
        in: {
          position: "left",
          attrs: { circle: { r: 6, magnet: "passive", stroke: "#98a2b3", strokeWidth: 1.5, fill: "#fff" } },
        },
        out: {
          position: "right",
          // outside the step, just above its port: inside, the names ran into the step's
          // summary line; a white halo keeps them legible over a connection
          label: { position: { name: "right", args: { x: 10, y: -9 } } },
          attrs: {
            circle: { r: 6, magnet: true, stroke: "#2f6fed", strokeWidth: 1.5, fill: "#fff", cursor: "crosshair" },
            text: { fontSize: 11, fill: "#475467", stroke: "#fff", strokeWidth: 3, paintOrder: "stroke",
                    textVerticalAnchor: "middle", pointerEvents: "none" },
          },
        },
      },
    },
  }, true);

  /** X6 attrs for a node's look from its kind, label and server-computed meta. */
  function nodeAttrs(kind, label, meta) {
    const k = boot.kinds[kind] || { color: "#667085", icon: "", title: kind };
    return {
      accent: { fill: k.color },
      iconBg: { fill: k.color + "1a" },
      icon: { d: k.icon, stroke: k.color },
      label: { text: clip(label || k.title, 22) },
      summary: { text: clip(meta.summary || "", 26), fill: meta.configured ? "#475467" : "#b54708" },
    };
  }

  /** The X6 port items of a node (one input unless it is an entry; one per output). */
  function portItems(kind, meta) {
    const items = kind === "entry" ? [] : [{ id: IN, group: "in" }];
    const many = meta.ports.length > 1;
    for (const port of meta.ports) {
      items.push({
        id: OUT + port, group: "out",
        attrs: { text: { text: many ? clip(meta.port_labels[port] || port, 12) : "" } },
      });
    }
    return items;
  }

  /** The X6 cell JSON of a document node. */
  function nodeCell(node, meta) {
    return {
      id: node.id, shape: "journey-node", zIndex: NODE_Z,
      x: node.position ? node.position.x : 0, y: node.position ? node.position.y : 0,
      width: NODE_W, height: nodeHeight(meta.ports.length),
      attrs: nodeAttrs(node.kind, node.label, meta),
      ports: { items: portItems(node.kind, meta) },
      data: { kind: node.kind, label: node.label || "", config: node.config || {}, meta },
    };
  }

  /** Labels of a connection: none. The output's name stands at the start of its connection
   *  (the port's label, just outside the step); a second copy on the line ran into it and
   *  into the steps' text. Kept as the one place that decides, for every connection made. */
  function edgeLabels(_meta, _port) {
    return [];
  }

  function edgeCell(edge, metaById) {
    return {
      id: edge.id, shape: "edge", zIndex: EDGE_Z,
      source: { cell: edge.source, port: OUT + edge.source_port },
      target: { cell: edge.target, port: IN },
      labels: edgeLabels(metaById[edge.source], edge.source_port),
      attrs: { line: { stroke: "#98a2b3", strokeWidth: 1.5, targetMarker: { name: "block", size: 7 } } },
      data: { sourcePort: edge.source_port },
    };
  }

  // ------------------------------------------------------------------ the graph

  const container = document.getElementById("canvas");
  const graph = new X6.Graph({
    container,
    autoResize: true,
    async: true,
    // Only cells inside the viewport are rendered: a 300-step journey opens fast, and
    // panning renders the rest on demand.
    virtual: true,
    grid: { size: 10, visible: true, type: "dot", args: { color: "#d0d5dd" } },
    background: { color: "#f8f9fb" },
    panning: { enabled: true, eventTypes: ["leftMouseDown"] }, // the wheel pans too: see below
    mousewheel: { enabled: true, modifiers: ["ctrl", "meta"], minScale: 0.2, maxScale: 2 },
    interacting: readonly ? { nodeMovable: false, edgeMovable: false, magnetConnectable: false } : true,
    connecting: {
      router: "normal",
      connector: { name: "smooth" },
      anchor: "center",
      // Connections end at the port circles' rims: arrowheads stay visible with the
      // steps drawn above them, and the port's centre stays free to grab.
      connectionPoint: "boundary",
      allowBlank: false,
      allowLoop: false,
      allowNode: false,
      allowEdge: false,
      allowMulti: true,
      highlight: true,
      snap: { radius: 24 },
      createEdge() {
        return graph.createEdge({
          shape: "edge", zIndex: EDGE_Z,
          attrs: { line: { stroke: "#2f6fed", strokeWidth: 1.5, targetMarker: { name: "block", size: 7 } } },
        });
      },
      // Starting a connection: from any output port. From one that is connected already,
      // the new connection replaces the old one once it lands (see "edge:connected").
      validateMagnet({ magnet }) {
        const port = magnet.getAttribute("port");
        return Boolean(port && port.startsWith(OUT));
      },
      // Finishing it: into another step's input; never into an entry or the step itself.
      validateConnection({ sourceCell, targetCell, sourcePort, targetPort }) {
        if (!sourceCell || !targetCell || !sourcePort || !sourcePort.startsWith(OUT)) return false;
        if (targetPort !== IN) return false;
        if (sourceCell.id === targetCell.id) return false;
        return targetCell.getData().kind !== "entry";
      },
    },
    highlighting: {
      magnetAvailable: { name: "stroke", args: { padding: 3, attrs: { stroke: "#12b76a", "stroke-width": 2 } } },
      magnetAdsorbed: { name: "stroke", args: { padding: 4, attrs: { stroke: "#12b76a", "stroke-width": 3 } } },
    },
  });

  /** The connected edges leaving output `port` of node `nodeId`, other than `exceptId`. */
  function portEdges(nodeId, port, exceptId) {
    return graph.getEdges().filter((e) => e.id !== exceptId && e.getSourceCellId() === nodeId
      && e.getSourcePortId() === port && e.getTargetCellId());
  }

  /** A step's name as the user reads it: its label, else its kind's name. */
  function nodeName(node) {
    const d = node.getData();
    return d.label || (boot.kinds[d.kind] || { title: d.kind }).title;
  }

  // X6 3.x: plugins are built into the main package, but its UMD bundle does not add the
  // plugins' helper methods to Graph (graph.undo(), graph.copy() …), so we keep each plugin
  // and call it directly.
  const selection = new X6.Selection({
    enabled: true, multiple: true, rubberband: true, modifiers: ["shift"],
    movable: true, showNodeSelectionBox: true, pointerEvents: "none",
  });
  const minimap = new X6.MiniMap({ container: document.getElementById("minimap"), width: 200, height: 130, padding: 12 });
  // X6's minimap divides by the canvas's size on every resize: a canvas laid out at 0 wide or
  // high for a moment (the panel opening, a slow layout) gave it a NaN transform and a page
  // error. Such a resize is skipped; the next real one redraws it.
  const updatePaper = minimap.updatePaper;
  minimap.updatePaper = function (w, h) {
    const width = typeof w === "object" ? w.width : w;
    const height = typeof w === "object" ? w.height : h;
    return width > 0 && height > 0 ? updatePaper.call(this, w, h) : this;
  };
  const keyboard = readonly ? null : new X6.Keyboard({ enabled: true, global: false });
  const clipboard = readonly ? null : new X6.Clipboard({ enabled: true });
  const history = readonly ? null : new X6.History({
    enabled: true,
    // Error marks and summary refreshes are not edits.
    beforeAddCommand: (event, args) => !(args && args.options && args.options.silentHistory),
  });
  // Plugins are attached after the initial load (see "start"): history must not record
  // the load, and none of them needs to watch 300 cells being created one by one.

  // ------------------------------------------------------------------ load

  let loading = true;
  function load(documentJson, meta) {
    loading = true;
    const metaOf = (n) => meta[n.id] || fallbackMeta(n.kind);
    const nodeMeta = {};
    const nodes = (documentJson.nodes || []).map((n) => { nodeMeta[n.id] = metaOf(n); return nodeCell(n, nodeMeta[n.id]); });
    const edges = (documentJson.edges || []).map((e) => edgeCell(e, nodeMeta));
    graph.fromJSON({ nodes, edges });
    loading = false;
  }

  function fallbackMeta(kind) {
    return (boot.kinds[kind] && boot.kinds[kind].meta) || { summary: "", ports: ["next"], port_labels: {}, configured: false };
  }

  // ------------------------------------------------------------------ save

  const saveState = document.getElementById("save-state");
  let dirty = false;
  let saveTimer = null;
  let saving = null; // the in-flight save promise

  function setSaveState(state, text) {
    if (!saveState) return;
    saveState.dataset.state = state;
    saveState.textContent = text;
  }

  /** The draft document as it is on the canvas. */
  function toDocument() {
    const nodes = graph.getNodes().map((n) => {
      const d = n.getData();
      const p = n.getPosition();
      return { id: n.id, kind: d.kind, label: d.label || "", position: { x: Math.round(p.x), y: Math.round(p.y) }, config: d.config || {} };
    });
    const edges = graph.getEdges()
      .filter((e) => e.getSourceCellId() && e.getTargetCellId() && (e.getSourcePortId() || "").startsWith(OUT))
      .map((e) => ({ id: e.id, source: e.getSourceCellId(), source_port: e.getSourcePortId().slice(OUT.length), target: e.getTargetCellId() }));
    return { schema_version: 1, name: doc.name, description: doc.description || "", settings: doc.settings || {}, nodes, edges };
  }

  /** The draft changed: autosave soon, and (unless only positions changed) re-check it. */
  function markDirty(moved) {
    if (loading || readonly) return;
    dirty = true;
    setSaveState("unsaved", S.unsaved);
    clearTimeout(saveTimer);
    saveTimer = setTimeout(save, 700); // autosave, debounced
    if (moved !== true) scheduleCheck();
  }

  /** Save now if anything changed; resolves when the draft on the server is current. */
  async function save() {
    clearTimeout(saveTimer);
    if (saving) await saving;
    if (!dirty) return;
    dirty = false;
    setSaveState("saving", S.saving);
    saving = JC.api("PUT", apiBase, toDocument()).then(({ data }) => {
      applyMeta(data.meta);
      setSaveState(dirty ? "unsaved" : "saved", dirty ? S.unsaved : S.saved);
    }).catch((err) => {
      dirty = true;
      setSaveState("error", S.saveFailed.replace("%s", err.message));
    }).finally(() => { saving = null; });
    await saving;
  }

  /** Refresh summaries from the server's meta (e.g. a coupon's value after a save). */
  function applyMeta(meta) {
    if (!meta) return;
    graph.getNodes().forEach((n) => {
      const m = meta[n.id];
      const d = n.getData();
      if (m && (m.summary !== d.meta.summary || m.configured !== d.meta.configured)) {
        n.setData({ meta: m }, { silentHistory: true });
        n.setAttrs(nodeAttrs(d.kind, d.label, m), { silentHistory: true });
      }
    });
  }

  graph.on("cell:added", () => markDirty());
  graph.on("cell:removed", () => markDirty());
  graph.on("node:moved", () => markDirty(true));
  // Undo / redo of a panel edit puts the node's data back: that is an edit too (error
  // marks and summary refreshes set data with silentHistory and are not).
  graph.on("node:change:data", ({ options }) => {
    if (!(options && options.silentHistory)) markDirty();
  });
  // A connection landed. An output has one connection: one dragged from an output that
  // had one replaces it. X6 fires this inside its "add-edge" batch, so a single Undo
  // takes the new connection away and brings the old one back.
  graph.on("edge:connected", ({ edge }) => {
    const portId = edge.getSourcePortId() || "";
    const port = portId.slice(OUT.length);
    const source = edge.getSourceNode();
    const meta = source.getData().meta;
    const replaced = portEdges(source.id, portId, edge.id);
    const before = replaced.map((e) => e.getTargetNode()).filter((n) => n && n.id !== edge.getTargetCellId());
    replaced.forEach((e) => e.remove());
    edge.setData({ sourcePort: port });
    edge.setLabels(edgeLabels(meta, port));
    edge.attr("line/stroke", "#98a2b3");
    markDirty();
    if (before.length) {
      const portName = meta.ports.length > 1 ? (meta.port_labels[port] || port) : nodeName(source);
      JC.toast(S.edgeReplaced.replace("{port}", portName)
        .replace("{to}", nodeName(edge.getTargetNode())).replace("{from}", nodeName(before[0])), "ok");
    }
  });

  // ------------------------------------------------------------------ insert a step on a connection

  // Hovering a connection (or clicking it) shows "+" at its middle; "+" offers the kinds of
  // step, and the chosen one is put in between: the connection now leads into the new
  // step, whose first output leads on to where the connection went. Steps to the right
  // move over to make room. One Undo takes it all back.
  const INSERT_TOOL = {
    name: "button",
    args: {
      distance: "50%",
      markup: [
        { tagName: "circle", selector: "button",
          attrs: { r: 11, fill: "#fff", stroke: "#2f6fed", "stroke-width": 1.5, cursor: "pointer",
                   class: "edge-insert" } },
        { tagName: "path", selector: "icon",
          attrs: { d: "M -5 0 H 5 M 0 -5 V 5", stroke: "#2f6fed", "stroke-width": 2,
                   "pointer-events": "none" } },
        { tagName: "title", textContent: S.insertStep },
      ],
      onClick({ e, cell }) { openInsertMenu(cell, e.clientX, e.clientY); },
    },
  };
  let pinnedEdge = null; // the clicked connection keeps its "+" until something else is clicked

  function showInsert(edge) {
    if (readonly || !edge.getTargetCellId() || edge.hasTool("button")) return;
    edge.addTools([INSERT_TOOL]);
  }
  function hideInsert(edge) {
    if (edge !== pinnedEdge && graph.hasCell(edge)) edge.removeTools();
  }
  function unpinEdge() {
    const was = pinnedEdge;
    pinnedEdge = null;
    if (was) hideInsert(was);
  }
  let hoverEdge = null;
  if (!readonly) {
    // Plain DOM events (X6's edge:mouseenter does not fire in this build); the "+" lives
    // in the edge's tools group, which carries the edge's id too, so reaching for it
    // keeps it shown.
    container.addEventListener("mouseover", (e) => {
      const el = e.target.closest && e.target.closest("[data-cell-id]");
      const cell = el && graph.getCellById(el.getAttribute("data-cell-id"));
      const edge = cell && cell.isEdge() ? cell : null;
      if (hoverEdge && hoverEdge !== edge) hideInsert(hoverEdge);
      hoverEdge = edge;
      if (edge) showInsert(edge);
    });
    container.addEventListener("mouseleave", () => {
      if (hoverEdge) hideInsert(hoverEdge);
      hoverEdge = null;
    });
    graph.on("edge:click", ({ edge }) => { unpinEdge(); pinnedEdge = edge; showInsert(edge); });
    graph.on("blank:click", unpinEdge);
    graph.on("node:click", unpinEdge);
  }

  let insertMenu = null;
  function closeInsertMenu() {
    if (insertMenu) insertMenu.remove();
    insertMenu = null;
  }

  /** The kind chooser at (x, y): every kind of the palette that can sit in the middle of
   *  a path (one with an input and an output: not the entry, not an exit). */
  function openInsertMenu(edge, x, y) {
    closeInsertMenu();
    const menu = document.createElement("div");
    menu.className = "insert-menu";
    menu.setAttribute("role", "menu");
    menu.setAttribute("aria-label", S.insertStep);
    Object.assign(menu.style, {
      position: "fixed", zIndex: 50, background: "#fff", border: "1px solid #d0d5dd",
      borderRadius: "10px", boxShadow: "0 10px 30px rgba(16,24,40,.18)", padding: "6px",
      display: "flex", flexDirection: "column", minWidth: "180px",
    });
    const head = document.createElement("div");
    head.textContent = S.insertStep;
    Object.assign(head.style, { font: "600 12px sans-serif", color: "#475467", padding: "4px 8px" });
    menu.appendChild(head);
    document.querySelectorAll(".palette-item[data-kind]").forEach((item) => {
      const kind = item.dataset.kind;
      const k = boot.kinds[kind];
      if (!k || kind === "entry" || !(k.meta && k.meta.ports.length)) return;
      const btn = document.createElement("button");
      btn.type = "button";
      btn.setAttribute("role", "menuitem");
      btn.dataset.insertKind = kind;
      btn.textContent = k.title;
      Object.assign(btn.style, {
        textAlign: "left", border: "0", background: "none", padding: "7px 10px", cursor: "pointer",
        borderLeft: "3px solid " + k.color, margin: "1px 0", font: "13px sans-serif",
      });
      btn.addEventListener("mouseenter", () => { btn.style.background = "#f2f4f7"; });
      btn.addEventListener("mouseleave", () => { btn.style.background = "none"; });
      btn.addEventListener("click", () => { closeInsertMenu(); insertStep(edge, kind); });
      menu.appendChild(btn);
    });
    document.body.appendChild(menu);
    // Keep it on screen.
    const r = menu.getBoundingClientRect();
    menu.style.left = Math.max(8, Math.min(x + 8, window.innerWidth - r.width - 8)) + "px";
    menu.style.top = Math.max(8, Math.min(y + 8, window.innerHeight - r.height - 8)) + "px";
    insertMenu = menu;
    const first = menu.querySelector("button");
    if (first) first.focus();
  }
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") closeInsertMenu(); });
  document.addEventListener("mousedown", (e) => {
    if (insertMenu && !insertMenu.contains(e.target)) closeInsertMenu();
  }, true);

  const INSERT_GAP = 60; // between an inserted step and its neighbours

  /** Put a new step of `kind` on `edge`, make room for it, select it and open its panel. */
  function insertStep(edge, kind) {
    const source = edge.getSourceNode();
    const target = edge.getTargetNode();
    if (!source || !target || !graph.hasCell(edge)) return;
    const node = paletteNode(kind);
    const meta = node.getData().meta;
    const size = node.getSize();
    const sb = source.getBBox();
    graph.startBatch("insert");
    let tb = target.getBBox();
    let x;
    let y;
    if (tb.x > sb.x + sb.width) {
      // Left to right (as laid out): shift every step from the target's column on to
      // the right when the new one does not fit in between, like inserting a column.
      const need = size.width + 2 * INSERT_GAP;
      const have = tb.x - (sb.x + sb.width);
      if (have < need) {
        const shift = need - have;
        const from = tb.x;
        graph.getNodes().forEach((n) => {
          if (n !== source && n.getPosition().x >= from - 1) n.translate(shift, 0);
        });
        tb = target.getBBox();
      }
      x = (sb.x + sb.width + tb.x) / 2 - size.width / 2;
      y = (sb.y + sb.height / 2 + tb.y + tb.height / 2) / 2 - size.height / 2;
    } else {
      // A connection going back or down: under both ends, halfway across.
      x = (sb.x + sb.width / 2 + tb.x + tb.width / 2) / 2 - size.width / 2;
      y = Math.max(sb.y + sb.height, tb.y + tb.height) + INSERT_GAP;
    }
    node.position(Math.round(x / 10) * 10, Math.round(y / 10) * 10);
    graph.addNode(node);
    edge.setTarget({ cell: node.id, port: IN });
    const port = meta.ports[0];
    graph.addEdge({
      shape: "edge", zIndex: EDGE_Z,
      source: { cell: node.id, port: OUT + port },
      target: { cell: target.id, port: IN },
      labels: edgeLabels(meta, port),
      attrs: { line: { stroke: "#98a2b3", strokeWidth: 1.5, targetMarker: { name: "block", size: 7 } } },
      data: { sourcePort: port },
    });
    graph.stopBatch("insert");
    unpinEdge();
    markDirty();
    revealNode(node.id);
    selection.clean();
    selection.select(node);
    openPanel(node);
  }
  window.addEventListener("beforeunload", (e) => {
    if (dirty || saving) { save(); e.preventDefault(); }
  });

  const nameInput = document.getElementById("doc-name");
  if (nameInput) {
    nameInput.addEventListener("input", () => { doc.name = nameInput.value.trim() || doc.name; markDirty(); });
  }

  // ------------------------------------------------------------------ palette (drag to add)

  // A step dropped from the palette is selected and its panel opens: setting it up is what
  // comes next (it used to land unselected, and a click more was needed).
  let dropped = null;
  const dnd = readonly ? null : new X6.Dnd({
    target: graph,
    getDropNode: (dragging) => {
      dropped = graph.createNode({ ...dragging.toJSON(), id: newNodeId(dragging.getData().kind) });
      return dropped;
    },
  });
  function selectAdded(node) {
    selection.clean();
    selection.select(node);
    openPanel(node);
  }
  if (!readonly) {
    graph.on("node:added", ({ node }) => {
      if (node !== dropped) return;
      dropped = null;
      selectAdded(node);
    });
  }

  function newNodeId(kind) {
    let id;
    do { id = kind.replace(/_/g, "-") + "-" + Math.random().toString(36).slice(2, 7); } while (graph.getCellById(id));
    return id;
  }

  function paletteNode(kind) {
    const k = boot.kinds[kind];
    return graph.createNode(nodeCell({ id: newNodeId(kind), kind, label: "", config: structuredClone(k.config) }, k.meta));
  }

  document.querySelectorAll(".palette-item").forEach((item) => {
    item.addEventListener("mousedown", (e) => {
      if (e.button !== 0) return;
      dnd.start(paletteNode(item.dataset.kind), e);
    });
    // Keyboard / click alternative: add at the centre of the view.
    item.tabIndex = 0;
    item.addEventListener("keydown", (e) => {
      if (e.key !== "Enter") return;
      const node = paletteNode(item.dataset.kind);
      const c = graph.getGraphArea().getCenter();
      node.position(c.x - NODE_W / 2, c.y - 34);
      graph.addNode(node);
      selectAdded(node);
    });
  });

  // ------------------------------------------------------------------ property panel

  function panelUrl(node) {
    return "/journeys/" + encodeURIComponent(journeyId) + "/nodes/" + encodeURIComponent(node.id)
      + "/panel?kind=" + encodeURIComponent(node.getData().kind);
  }

  // The node the open panel edits, and its data when the panel was loaded: clicking that
  // node again keeps the panel (and any edits not yet applied) unless the node changed
  // meanwhile (undo, redo, an applied edit from elsewhere).
  let panelNode = null;

  function nodeState(node) {
    return JSON.stringify(node.getData());
  }

  async function openPanel(node) {
    if (readonly) return;
    const open = document.querySelector("#panel[data-node-id]");
    if (panelNode && open && open.dataset.nodeId === node.id
        && panelNode.id === node.id && panelNode.state === nodeState(node)) return;
    panelNode = { id: node.id, state: nodeState(node) };
    await save(); // the server reads the node from the saved draft
    htmx.ajax("GET", panelUrl(node), { target: "#panel", swap: "outerHTML" });
  }

  graph.on("node:click", ({ node }) => openPanel(node));
  // However a node goes (Delete key, cut, undo of its adding), its open panel goes with it.
  graph.on("node:removed", ({ node }) => {
    const open = document.querySelector("#panel[data-node-id]");
    if (open && open.dataset.nodeId === node.id) closePanel();
  });

  // A successful panel "Apply" answers with HX-Trigger: node-updated {node, meta}.
  document.body.addEventListener("node-updated", (e) => updateNode(e.detail.node, e.detail.meta));

  /** Apply a node's new label/config/meta in place: text, height, ports. Outputs that
   *  remain (an outcome still listed, a rule kept) keep their connections; only those of
   *  outputs that are gone are removed, and the toast names them (Undo brings them back). */
  function updateNode(data, meta) {
    const node = graph.getCellById(data.id);
    if (!node) return;
    graph.startBatch("panel");
    const kind = node.getData().kind;
    const oldLabels = (node.getData().meta || {}).port_labels || {};
    node.setData({ kind, label: data.label, config: data.config, meta }, { overwrite: true });
    node.setAttrs(nodeAttrs(kind, data.label, meta));
    node.resize(NODE_W, nodeHeight(meta.ports.length));
    const wanted = portItems(kind, meta);
    const wantedIds = new Set(wanted.map((p) => p.id));
    const gone = [];
    graph.getConnectedEdges(node, { outgoing: true }).forEach((edge) => {
      const portId = edge.getSourcePortId() || "";
      if (wantedIds.has(portId)) return;
      const port = portId.slice(OUT.length);
      gone.push("“" + (oldLabels[port] || port) + "”");
      edge.remove();
    });
    node.prop("ports/items", wanted);
    graph.getConnectedEdges(node, { outgoing: true }).forEach((edge) => {
      const port = edge.getSourcePortId().slice(OUT.length);
      edge.setLabels(edgeLabels(meta, port));
    });
    graph.stopBatch("panel");
    if (panelNode && panelNode.id === node.id) panelNode.state = nodeState(node);
    markDirty();
    save();
    if (gone.length) JC.toast(S.edgesRemoved.replace("%s", gone.join(S.listSep)), "warn");
  }

  document.addEventListener("click", (e) => {
    const del = e.target.closest("[data-delete-node]");
    if (del) {
      const node = graph.getCellById(del.dataset.deleteNode);
      if (node) graph.removeCell(node);
      else closePanel();
    }
    if (e.target.closest("[data-close-panel]")) closePanel();
  });

  // The empty panel (tips) as rendered with the page, to return to when a panel closes.
  const emptyPanel = document.getElementById("panel").cloneNode(true);
  function closePanel() {
    panelNode = null;
    document.getElementById("panel").replaceWith(emptyPanel.cloneNode(true));
  }

  // ------------------------------------------------------------------ diagnostics

  const diagBox = document.getElementById("diagnostics");
  const tooltip = document.createElement("div");
  tooltip.className = "node-tip";
  tooltip.hidden = true;
  document.body.appendChild(tooltip);
  let problems = {}; // node id → messages

  function clearMarks() {
    graph.getNodes().forEach((n) => {
      n.setAttrs({ body: { stroke: "#d0d5dd", strokeWidth: 1 }, badge: { display: "none" }, badgeText: { display: "none" } }, { silentHistory: true });
    });
    graph.getEdges().forEach((e) => e.attr("line/stroke", "#98a2b3", { silentHistory: true }));
    problems = {};
  }

  /** Show every diagnostic: red nodes/edges on the canvas and a clickable list. */
  function showDiagnostics(diags) {
    clearMarks();
    tooltip.hidden = true; // its messages may be fixed; the next hover shows the current ones
    const list = diagBox.querySelector(".diag-list");
    list.replaceChildren();
    const errors = diags.filter((d) => d.severity === "error");
    for (const d of diags) {
      const colour = d.severity === "error" ? "#d92d20" : "#dc6803";
      for (const id of d.node_ids) {
        const n = graph.getCellById(id);
        if (!n || !n.isNode()) continue;
        (problems[id] = problems[id] || []).push(d.message);
        n.setAttrs({ body: { stroke: colour, strokeWidth: 2 }, badge: { display: "block", fill: colour }, badgeText: { display: "block" } }, { silentHistory: true });
      }
      for (const id of d.edge_ids) {
        const e = graph.getCellById(id);
        if (e && e.isEdge()) e.attr("line/stroke", colour, { silentHistory: true });
      }
      list.appendChild(diagItem(d));
    }
    const summary = diagBox.querySelector(".diag-summary");
    const warnings = diags.length - errors.length;
    summary.textContent = errors.length ? S.problems.replace("%d", errors.length) : S.valid;
    if (warnings) summary.textContent += " " + S.warnings.replace("%d", warnings);
    diagBox.dataset.state = errors.length ? "error" : "ok";
    diagBox.hidden = false;
  }

  function diagItem(d) {
    const li = document.createElement("li");
    li.className = "diag " + d.severity;
    li.dataset.code = d.code;
    const head = document.createElement("div");
    head.className = "diag-msg";
    head.textContent = d.message;
    li.appendChild(head);
    if (d.detail && d.detail !== d.message) li.title = d.detail; // the compiler's own words
    if (d.hint) {
      const hint = document.createElement("div");
      hint.className = "diag-hint";
      hint.textContent = d.hint;
      li.appendChild(hint);
    }
    if (d.node_ids.length) {
      li.tabIndex = 0;
      li.setAttribute("aria-label", d.message + " — " + S.focus);
      const focus = () => focusNode(d.node_ids[0]);
      li.addEventListener("click", focus);
      li.addEventListener("keydown", (e) => { if (e.key === "Enter") focus(); });
    }
    return li;
  }

  function focusNode(id) {
    const node = graph.getCellById(id);
    if (!node) return;
    graph.centerCell(node);
    selection.clean();
    selection.select(node);
    openPanel(node);
  }

  // Hovering a marked node shows its messages (plain DOM events: cheap and reliable).
  container.addEventListener("mouseover", (e) => {
    const cellEl = e.target.closest && e.target.closest("[data-cell-id]");
    const msgs = cellEl && problems[cellEl.getAttribute("data-cell-id")];
    if (!msgs) { tooltip.hidden = true; return; }
    tooltip.textContent = msgs.join("\n");
    tooltip.hidden = false;
    // kept inside the canvas (flipped to the pointer's other side near an edge): it used to
    // run over the panel's fields beside the canvas
    const area = container.getBoundingClientRect();
    const w = tooltip.offsetWidth;
    const h = tooltip.offsetHeight;
    let x = e.clientX + 14;
    let y = e.clientY + 14;
    if (x + w > area.right - 4) x = Math.max(area.left + 4, e.clientX - 14 - w);
    if (y + h > area.bottom - 4) y = Math.max(area.top + 4, e.clientY - 14 - h);
    tooltip.style.left = x + "px";
    tooltip.style.top = y + "px";
  });
  container.addEventListener("mouseleave", () => { tooltip.hidden = true; });

  // Live check: every change re-checks the document on the canvas (debounced; the compiler
  // takes a few ms) without saving it, so marks, tooltips and the list never show a problem
  // that is fixed, or miss a new one. Each answer carries a number: an answer older than
  // the last shown one (a slow request, a Validate in between) is dropped.
  let checkTimer = null;
  let checkSeq = 0;
  let shownSeq = 0;
  function scheduleCheck() {
    if (readonly) return;
    clearTimeout(checkTimer);
    checkTimer = setTimeout(liveCheck, 300);
  }
  async function liveCheck() {
    const seq = ++checkSeq;
    let data;
    try {
      ({ data } = await JC.api("POST", apiBase + "/check", toDocument()));
    } catch (err) {
      return; // offline or refused: the save state says so; keep the last result
    }
    showChecked(seq, data.diagnostics);
  }
  function showChecked(seq, diags) {
    if (seq < shownSeq) return;
    shownSeq = seq;
    showDiagnostics(diags);
  }

  async function validate() {
    await save();
    const seq = ++checkSeq;
    const { data } = await JC.api("POST", apiBase + "/validate");
    showChecked(seq, data.diagnostics);
    revealDiagnostics();
    return data;
  }

  /** Bring the check results into view: below an open panel they were off-screen, and
   *  Validate seemed to do nothing. */
  function revealDiagnostics() {
    if (diagBox.hidden) return;
    diagBox.scrollIntoView({ block: "start", behavior: "smooth" });
    diagBox.classList.remove("flash");
    void diagBox.offsetWidth; // restart the highlight
    diagBox.classList.add("flash");
  }

  // ------------------------------------------------------------------ publish, pause, versions

  function setStatus(status, liveVersion) {
    const badge = document.getElementById("status-badge");
    if (badge) {
      badge.className = "badge status-" + status;
      badge.dataset.status = status;
      badge.textContent = boot.statusLabels[status] || status;
    }
    document.querySelector('[data-cmd="pause"]').hidden = status !== "live";
    document.querySelector('[data-cmd="resume"]').hidden = status !== "paused";
    document.querySelector('[data-cmd="archive"]').hidden = status !== "draft" && status !== "paused";
    if (liveVersion) {
      let v = document.getElementById("live-version");
      if (!v) {
        v = document.createElement("span");
        v.id = "live-version";
        v.className = "badge version";
        badge.after(v);
      }
      v.textContent = "v" + liveVersion;
    }
  }

  async function publish() {
    if (!(await JC.confirm(S.confirmPublish, S.publishOk, S.cancel))) return;
    await save();
    const { status, data } = await JC.api("POST", apiBase + "/publish", undefined, { allow: [422] });
    if (status === 422) {
      showChecked(++checkSeq, data.diagnostics);
      revealDiagnostics();
      JC.toast(S.publishRefused, "err");
      return;
    }
    showChecked(++checkSeq, data.diagnostics || []);
    setStatus(data.journey.status, data.journey.live_version);
    JC.toast(S.published.replace("%s", "v" + data.version.version), "ok");
    htmx.ajax("GET", "/journeys/" + encodeURIComponent(journeyId) + "/versions", { target: "#versions", swap: "outerHTML" });
    document.body.dispatchEvent(new CustomEvent("journey-published")); // the segment-entry chip
  }

  /** Submit for approval (issue 17): the draft is saved first, so the approver sees what
   *  is on the canvas; the launch section's form posts it and shows the new state. */
  async function submitForApproval() {
    await save();
    const form = document.getElementById("approval-form");
    if (form) form.requestSubmit();
  }
  // delegated: the launch section is swapped after each submission
  document.addEventListener("click", (e) => {
    if (!e.target.closest("[data-submit-approval]")) return;
    e.preventDefault();
    submitForApproval().catch((err) => JC.toast(S.requestFailed.replace("%s", err.message), "err"));
  });

  async function setPaused(paused) {
    const { data } = await JC.api("POST", apiBase + (paused ? "/pause" : "/resume"));
    setStatus(data.journey.status);
    JC.toast(paused ? S.paused : S.resumed, "ok");
  }

  /** Archive (after a confirm) or restore; the page reloads to show the journey's new state. */
  async function setArchived(archived) {
    if (archived && !(await JC.confirm(S.confirmArchive, S.archiveOk, S.cancel))) return;
    await save();
    await JC.api("POST", apiBase + (archived ? "/archive" : "/restore"));
    window.location.reload();
  }

  // ------------------------------------------------------------------ import / export

  const importInput = document.getElementById("import-doc");
  if (importInput) {
    importInput.addEventListener("change", async () => {
      const file = importInput.files[0];
      importInput.value = "";
      if (!file || !(await JC.confirm(S.confirmImport, S.importOk, S.cancel))) return;
      try {
        const imported = JSON.parse(await file.text());
        await JC.api("PUT", apiBase, imported);
        dirty = false;
        window.location.reload();
      } catch (err) {
        JC.toast(S.importFailed.replace("%s", err.message), "err");
      }
    });
  }

  // ------------------------------------------------------------------ layout, zoom, commands

  /** Arrange left to right with dagre, in one undoable step. */
  function autoLayout() {
    const g = new dagre.graphlib.Graph();
    g.setGraph({ rankdir: "LR", nodesep: 40, ranksep: 120, marginx: 20, marginy: 20 });
    g.setDefaultEdgeLabel(() => ({}));
    graph.getNodes().forEach((n) => { const s = n.getSize(); g.setNode(n.id, { width: s.width, height: s.height }); });
    graph.getEdges().forEach((e) => { if (e.getTargetCellId()) g.setEdge(e.getSourceCellId(), e.getTargetCellId()); });
    dagre.layout(g);
    graph.startBatch("layout");
    g.nodes().forEach((id) => {
      const p = g.node(id);
      graph.getCellById(id).position(p.x - p.width / 2, p.y - p.height / 2);
    });
    graph.stopBatch("layout");
    readableView();
    markDirty();
  }

  function deleteSelection() {
    const cells = selection.cells;
    if (cells.length) graph.removeCells(cells);
  }

  const zoomLabel = document.getElementById("zoom-level");
  graph.on("scale", ({ sx }) => { zoomLabel.textContent = Math.round(sx * 100) + "%"; });

  const commands = {
    undo: () => history && history.undo(),
    redo: () => history && history.redo(),
    "zoom-in": () => graph.zoom(0.1),
    "zoom-out": () => graph.zoom(-0.1),
    fit: () => graph.zoomToFit({ padding: 40, maxScale: 1 }),
    layout: autoLayout,
    delete: deleteSelection,
    validate: () => validate().catch((err) => JC.toast(S.requestFailed.replace("%s", err.message), "err")),
    publish: () => publish().catch((err) => JC.toast(S.requestFailed.replace("%s", err.message), "err")),
    pause: () => setPaused(true).catch((err) => JC.toast(err.message, "err")),
    resume: () => setPaused(false).catch((err) => JC.toast(err.message, "err")),
    archive: () => setArchived(true).catch((err) => JC.toast(err.message, "err")),
    restore: () => setArchived(false).catch((err) => JC.toast(err.message, "err")),
  };
  document.querySelectorAll("[data-cmd]").forEach((el) => {
    const cmd = el.dataset.cmd;
    if (cmd === "export") {
      el.addEventListener("click", async (e) => { e.preventDefault(); await save(); window.location.href = el.href; });
    } else if (commands[cmd]) {
      el.addEventListener("click", commands[cmd]);
    }
  });

  /** Keyboard shortcuts (the plugin must be attached to the graph first). */
  function bindKeys() {
    keyboard.bindKey(["meta+z", "ctrl+z"], () => { history.undo(); return false; });
    keyboard.bindKey(["meta+shift+z", "ctrl+shift+z", "ctrl+y"], () => { history.redo(); return false; });
    keyboard.bindKey(["meta+c", "ctrl+c"], () => {
      const cells = selection.cells;
      if (cells.length) clipboard.copy(cells);
      return false;
    });
    keyboard.bindKey(["meta+v", "ctrl+v"], () => {
      if (clipboard.isEmpty()) return false;
      const pasted = clipboard.paste({ offset: 32 }, graph);
      selection.clean();
      selection.select(pasted);
      return false;
    });
    keyboard.bindKey(["backspace", "delete"], () => { deleteSelection(); return false; });
  }

  // ------------------------------------------------------------------ start

  // ------------------------------------------------------------------ the view: readable, remembered

  /** The smallest zoom a journey opens at: step names stay readable (~10 px). A journey
   *  wider than the screen at this zoom opens on its entry; the rest is a pan away (drag
   *  the background, the wheel or trackpad, the minimap). */
  const READABLE_SCALE = 0.7;
  const VIEW_PAD = 40;
  // Run views and test runs follow the run (they pan to the step shown), so there only the
  // zoom is remembered; the editor and version pages remember the place too.
  const followsRun = "run" in boot;
  const viewKey = "jc:view:" + journeyId;

  function savedView() {
    try {
      const v = JSON.parse(window.localStorage.getItem(viewKey) || "null");
      return v && Number.isFinite(v.scale) ? v : null;
    } catch (err) {
      return null; // storage off, or not ours
    }
  }

  let viewTimer = null;
  /** Remember the user's zoom (and place) for this journey, on this browser. */
  function rememberView() {
    clearTimeout(viewTimer);
    viewTimer = setTimeout(() => {
      const scale = Math.round(graph.transform.getScale().sx * 100) / 100;
      const c = graph.getGraphArea().getCenter();
      const v = followsRun ? { ...(savedView() || {}), scale }
        : { scale, cx: Math.round(c.x), cy: Math.round(c.y) };
      try { window.localStorage.setItem(viewKey, JSON.stringify(v)); } catch (err) { /* full or off */ }
    }, 300);
  }

  // The wheel or trackpad pans (Shift + a plain wheel: sideways); Ctrl/Cmd + wheel (and a
  // pinch) zooms, through X6's mousewheel option.
  container.addEventListener("wheel", (e) => {
    if (e.ctrlKey || e.metaKey) return;
    e.preventDefault();
    const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? container.clientHeight : 1;
    const sideways = e.shiftKey && !e.deltaX;
    graph.translateBy(-(sideways ? e.deltaY : e.deltaX) * unit, -(sideways ? 0 : e.deltaY) * unit);
  }, { passive: false });

  /** Is any step at least partly on screen? */
  function anyNodeVisible() {
    const area = graph.getGraphArea();
    return graph.getNodes().some((n) => area.isIntersectWithRect(n.getBBox()));
  }

  /** Open at `scale` (default: the whole width if that is readable, else READABLE_SCALE):
   *  content that fits is centred; content that does not starts at the entry step. */
  function readableView(scale) {
    const nodes = graph.getNodes();
    if (!nodes.length) return;
    const W = container.clientWidth;
    const H = container.clientHeight;
    const box = graph.getCellsBBox(nodes);
    if (!scale) {
      const fitW = (W - 2 * VIEW_PAD) / box.width;
      const fitH = (H - 2 * VIEW_PAD) / box.height;
      scale = Math.min(1, fitW, fitH);
      // Everything does not fit readably: fit the width alone (scroll down), or the floor.
      if (scale < READABLE_SCALE) scale = Math.max(READABLE_SCALE, Math.min(1, fitW));
    }
    // a container not laid out yet (0 × 0) or steps without a size give NaN / ∞: X6 would
    // throw on a non-finite transform
    if (!Number.isFinite(scale) || scale <= 0) scale = READABLE_SCALE;
    graph.zoomTo(scale);
    const entry = nodes.find((n) => n.getData().kind === "entry") || nodes[0];
    const e = entry.getBBox();
    const clamp = (v, lo, hi) => Math.min(Math.max(v, lo), hi);
    // One axis: centre content that fits; else put the entry at `target`, never leaving
    // blank space before the first step or after the last.
    const axis = (size, start, extent, target) => (extent * scale <= size - 2 * VIEW_PAD
      ? (size - extent * scale) / 2 - start * scale
      : clamp(target, size - VIEW_PAD - (start + extent) * scale, VIEW_PAD - start * scale));
    const tx = axis(W, box.x, box.width, VIEW_PAD - e.x * scale);
    const ty = axis(H, box.y, box.height, H / 2 - (e.y + e.height / 2) * scale);
    graph.translate(Number.isFinite(tx) ? tx : VIEW_PAD, Number.isFinite(ty) ? ty : VIEW_PAD);
  }

  /** Where the journey opens: the user's last zoom (and place) on it, else readableView. */
  function openView() {
    const saved = savedView();
    const scale = saved && Number.isFinite(saved.scale) ? Math.min(Math.max(saved.scale, 0.2), 2) : 0;
    if (saved && !followsRun && Number.isFinite(saved.cx) && Number.isFinite(saved.cy)) {
      graph.zoomTo(scale);
      graph.centerPoint(saved.cx, saved.cy);
      if (anyNodeVisible()) return; // else the steps moved away: open on the entry
    }
    readableView(scale);
  }

  /** Bring a step into view (centred) unless it is on screen already, clear of the edges
   *  and the minimap. */
  function revealNode(id) {
    const n = graph.getCellById(id);
    if (!n || !n.isNode()) return;
    const s = graph.transform.getScale().sx;
    const area = graph.getGraphArea();
    const margin = VIEW_PAD / s;
    const minimapH = (document.getElementById("minimap") || { offsetHeight: 0 }).offsetHeight / s;
    const b = n.getBBox();
    const inside = b.x >= area.x + margin && b.y >= area.y + margin
      && b.x + b.width <= area.x + area.width - margin
      && b.y + b.height <= area.y + area.height - margin - minimapH;
    if (!inside) graph.centerCell(n);
  }

  performance.mark("jc:start");
  load(doc, boot.meta);
  performance.mark("jc:loaded");
  graph.use(selection);
  graph.use(new X6.Snapline({ enabled: true }));
  [keyboard, clipboard, history].forEach((plugin) => { if (plugin) graph.use(plugin); });
  if (keyboard) bindKeys();
  openView();
  // From here on a zoom or pan is the user's: remember it for this journey.
  graph.on("scale", rememberView);
  graph.on("translate", rememberView);
  const ready = () => {
    document.getElementById("canvas-loading").hidden = true;
    container.dataset.ready = "true";
    window.__canvasReady = performance.now(); // read by tests and bench/canvas.py
    scheduleCheck(); // what is wrong with the journey as it opens
    // The minimap mirrors every cell in a second graph: build it once the canvas is usable.
    setTimeout(() => graph.use(minimap), 0);
  };
  // async rendering: the graph is interactive once the first render pass is done.
  if (graph.getCellCount() === 0) ready(); else graph.once("render:done", ready);

  // ------------------------------------------------------------------ runOverlay
  // For the run view and test runs (run_view.js): highlight the path a customer took and
  // annotate the visited nodes. Display only: read-only pages never save, and clear() puts
  // every node back as the server drew it.

  const runOverlay = {
    /** steps: [{node_id, port, next_node, note, error}] up to the step shown; currentId: the
     *  node the customer is at (or null). Later visits of a node overwrite its note. */
    show(steps, currentId) {
      runOverlay.clear();
      const notes = {};
      steps.forEach((s) => { notes[s.node_id] = s; });
      Object.entries(notes).forEach(([id, s]) => {
        const n = graph.getCellById(id);
        if (!n || !n.isNode()) return;
        const bad = Boolean(s.error);
        n.setAttrs({
          body: { stroke: bad ? "#d92d20" : "#12b76a", strokeWidth: 2, fill: bad ? "#fef3f2" : "#ecfdf3" },
          summary: { text: clip(s.note || "", 30), fill: "#054f31" },
        }, { silentHistory: true });
      });
      steps.forEach((s) => {
        if (!s.next_node) return;
        graph.getConnectedEdges(s.node_id, { outgoing: true }).forEach((e) => {
          if (e.getTargetCellId() === s.next_node && e.getSourcePortId() === OUT + s.port) {
            e.attr({ line: { stroke: "#12b76a", strokeWidth: 3 } }, { silentHistory: true });
          }
        });
      });
      const cur = currentId && graph.getCellById(currentId);
      if (cur && cur.isNode()) {
        cur.setAttrs({ body: { stroke: "#2f6fed", strokeWidth: 3, fill: "#eef4ff" } }, { silentHistory: true });
      }
    },
    clear() {
      clearMarks();
      graph.getNodes().forEach((n) => {
        const d = n.getData();
        n.setAttrs({ body: { fill: "#fff" }, ...nodeAttrs(d.kind, d.label, d.meta) }, { silentHistory: true });
      });
      graph.getEdges().forEach((e) => e.attr("line/strokeWidth", 1.5, { silentHistory: true }));
    },
    focus(id) {
      const n = graph.getCellById(id);
      if (n) graph.centerCell(n);
    },
    /** Pan to a step only when it is not on screen (step-through follows the run). */
    reveal: revealNode,
  };

  // ------------------------------------------------------------------ resultsOverlay
  // The Results toggle (published journeys, GET /api/journeys/{id}/results): above each
  // step a badge — entered, waiting now, ended there (converted) — and on each output its
  // count and share of the step's entrants. Display only, like runOverlay: attrs and port
  // labels change with silentHistory, so nothing is saved; off puts back the server's look.

  const resultsBar = document.getElementById("results-bar");
  const resultsToggle = document.getElementById("results-toggle");
  const results = { on: false, seq: 0, data: null };

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, (_m, k) => (k in values ? String(values[k]) : ""));
  }
  /** Rough width of a badge's text in px (CJK characters are about twice as wide). */
  function textWidth(text) {
    let w = 0;
    for (let i = 0; i < text.length; i++) w += text.charCodeAt(i) > 0x2e80 ? 12 : 6.8;
    return Math.ceil(w);
  }
  function isoDay(d) {
    return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 10);
  }
  function resultsQuery() {
    const q = new URLSearchParams();
    const v = document.getElementById("results-version").value;
    const from = document.getElementById("results-from").value;
    const to = document.getElementById("results-to").value;
    if (v) q.set("version", v);
    if (from) q.set("from", from);
    if (to) q.set("to", to);
    return q.toString();
  }

  function clearResults() {
    graph.getNodes().forEach((n) => {
      const d = n.getData();
      n.setAttrs({ resBg: { display: "none" }, resText: { display: "none", text: "" } }, { silentHistory: true });
      portItems(d.kind, d.meta).forEach((item) => {
        if (item.group === "out" && n.hasPort(item.id)) {
          n.setPortProp(item.id, "attrs/text/text", item.attrs.text.text, { silentHistory: true });
        }
      });
    });
  }

  function showResults(data) {
    clearResults();
    results.data = data;
    const money = Number(data.revenue).toLocaleString(undefined, { maximumFractionDigits: 2 });
    const summary = document.getElementById("results-summary");
    if (!data.has_data) summary.textContent = S.resEmpty;
    else if (!data.goal) summary.textContent = fill(S.resNoGoal, { entered: data.entered });
    else summary.textContent = fill(S.resSummary, {
      entered: data.entered, conversions: data.conversions, rate: data.conversion_rate, revenue: money,
    });
    summary.classList.toggle("empty", !data.has_data);
    data.nodes.forEach((r) => {
      const n = graph.getCellById(r.node_id);
      if (!n || !n.isNode()) return;
      const parts = [fill(S.resEntered, { n: r.entered })];
      if (r.waiting) parts.push(fill(S.resWaiting, { n: r.waiting }));
      if (r.ended) {
        const conv = data.goal ? ` (${fill(S.resConverted, { n: r.converted })})` : "";
        parts.push(fill(S.resEnded, { n: r.ended }) + conv);
      }
      const text = parts.join(" · ");
      n.setAttrs({
        resBg: { display: "block", width: textWidth(text) + 20, fill: r.entered ? "#6941c6" : "#98a2b3" },
        resText: { display: "block", text },
      }, { silentHistory: true });
      const d = n.getData();
      const many = d.meta.ports.length > 1;
      r.ports.forEach((p) => {
        if (!n.hasPort(OUT + p.port)) return;
        const name = many ? clip(d.meta.port_labels[p.port] || p.port, 12) + " " : "";
        n.setPortProp(OUT + p.port, "attrs/text/text", `${name}${p.count} · ${p.share}%`, { silentHistory: true });
      });
    });
    container.dataset.results = data.has_data ? "shown" : "empty";
  }

  async function loadResults() {
    const seq = ++results.seq;
    const q = resultsQuery();
    const base = `/api/journeys/${encodeURIComponent(journeyId)}/results`;
    document.getElementById("results-csv").href = `${base}.csv?${q}`;
    container.dataset.results = "loading";
    try {
      const { data } = await JC.api("GET", `${base}?${q}`);
      if (seq === results.seq && results.on) showResults(data);
    } catch (err) {
      if (seq !== results.seq) return;
      document.getElementById("results-summary").textContent = err.message;
      container.dataset.results = "error";
    }
  }

  function toggleResults() {
    results.on = !results.on;
    resultsToggle.setAttribute("aria-pressed", String(results.on));
    resultsBar.hidden = !results.on;
    if (!results.on) {
      results.seq++;
      clearResults();
      delete container.dataset.results;
      return;
    }
    const from = document.getElementById("results-from");
    const to = document.getElementById("results-to");
    if (!to.value) to.value = isoDay(new Date());
    if (!from.value) from.value = isoDay(new Date(Date.now() - 29 * 86400000));
    loadResults();
  }

  if (resultsBar && resultsToggle) {
    resultsToggle.addEventListener("click", toggleResults);
    resultsBar.addEventListener("submit", (e) => e.preventDefault());
    resultsBar.addEventListener("change", () => { if (results.on) loadResults(); });
  }

  // Exposed for tests and the console; not an API.
  window.journeyCanvas = { graph, selection, save, validate, toDocument, runOverlay, results };
})();
