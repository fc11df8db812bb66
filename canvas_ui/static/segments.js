/* Segment builder: edits the rules JSON in #segment-definition and tells htmx to re-count.
 * Rules and groups are added / removed by click and reordered by drag (within their list).
 * The server validates; problems come back in the preview and mark their rule rows.
 * User text is only ever set through .value / textContent. */
(function () {
  "use strict";

  const root = document.getElementById("rule-builder");
  const hidden = document.getElementById("segment-definition");
  if (!root || !hidden) return;
  const META = JSON.parse(root.dataset.meta);
  const T = META.text;
  const FIELDS = Object.fromEntries(META.fields.map((f) => [f.name, f]));
  const CHOOSE = root.dataset.choose || "—";
  const UNAVAILABLE = root.dataset.unavailable || "{value} ?";
  const ATTRIBUTE_PREFIX = "attributes.";
  let seq = 0;
  let model = JSON.parse(hidden.value || '{"match":"all","rules":[]}');
  const withIds = (r) => {
    r.id = r.id || "r" + ++seq;
    (r.rules || []).forEach(withIds);
    return r;
  };

  // What the server assumes for a value a rule leaves out (audiences/rules.py). Filled in
  // on load, so every select shows what the rule holds and the saved rules say it.
  const DEFAULTS = {
    field: { op: "eq", value: null },
    tag: { tags: [], match: "any" },
    event: { op: "gte", value: 1 },
    coupon: { state: "held", present: true, template_id: null, within_days: null },
    group: { match: "any", rules: [] },
  };
  const isList = (op) => op === "in" || op === "not_in";

  /** A field rule's value in the shape its operator takes (a list, a pair, one value). */
  function fitValue(rule) {
    const v = rule.value;
    if (isList(rule.op)) rule.value = v == null || v === "" ? [] : [].concat(v);
    else if (rule.op === "between") rule.value = Array.isArray(v) && v.length === 2 ? v : [null, null];
    else if (rule.op === "exists" || rule.op === "not_exists") rule.value = null;
    else if (Array.isArray(v)) rule.value = v.length ? v[0] : null;
  }

  function normalize(r) {
    Object.entries(DEFAULTS[r.type] || {}).forEach(([k, v]) => {
      if (r[k] === undefined) r[k] = JSON.parse(JSON.stringify(v));
    });
    if (r.type === "field") fitValue(r);
    (r.rules || []).forEach(normalize);
    return r;
  }
  model.match = model.match || "all";
  model.rules = model.rules || [];
  model.rules.forEach(withIds);
  model.rules.forEach(normalize);

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    });
    (children || []).forEach((c) => c && node.appendChild(c));
    return node;
  }

  /** A <select> that always shows what ``value`` holds: nothing chosen is a "— choose —"
   *  placeholder (never the first option, which would look chosen), and a value the options
   *  lack is listed as it is, marked, rather than hidden behind another option. */
  function select(options, value, onchange, multiple) {
    const s = el("select", multiple ? { multiple: "" } : {});
    const chosen = (multiple ? [].concat(value ?? []) : value == null || value === "" ? [] : [value]).map(String);
    const known = new Set(options.map(([v]) => String(v)));
    const all = options.concat(chosen.filter((v) => !known.has(v)).map((v) => [v, UNAVAILABLE.replace("{value}", v)]));
    if (!multiple && !chosen.length && !known.has("")) {
      const placeholder = el("option", { value: "", text: CHOOSE, disabled: "" });
      placeholder.selected = true;
      s.appendChild(placeholder);
      s.classList.add("unset");
    }
    all.forEach(([v, label]) => {
      const o = el("option", { value: v, text: label });
      if (chosen.includes(String(v)) || (!multiple && !chosen.length && String(v) === "")) o.selected = true;
      if (!known.has(String(v))) o.className = "unavailable";
      s.appendChild(o);
    });
    s.addEventListener("change", () =>
      onchange(multiple ? Array.from(s.selectedOptions).map((o) => o.value) : s.value));
    return s;
  }

  function input(value, onchange, type) {
    const i = el("input", { type: type || "text" });
    i.value = value === undefined || value === null ? "" : value;
    // an empty number is no number (null), not the text ""
    i.addEventListener("input", () => onchange(type === "number" ? (i.value === "" ? null : Number(i.value)) : i.value));
    return i;
  }

  function changed() {
    const clean = JSON.parse(JSON.stringify(model));
    hidden.value = JSON.stringify(clean);
    if (window.htmx) htmx.trigger(hidden, "rules-changed");
  }

  // A rule just added and not yet touched is left out of the live count, so the preview
  // does not call it wrong before the user had a chance to fill it in. Saving sends every
  // rule (and from then on the count does too).
  const pristine = new Set();
  function withoutPristine(owner) {
    return Object.assign({}, owner, { rules: (owner.rules || [])
      .filter((r) => !pristine.has(r.id)).map((r) => (r.type === "group" ? withoutPristine(r) : r)) });
  }
  document.body.addEventListener("htmx:configRequest", (e) => {
    if (e.detail.elt === hidden && pristine.size)
      e.detail.parameters.definition = JSON.stringify(withoutPristine(model));
  });
  const form = document.getElementById("segment-form");
  if (form) form.addEventListener("submit", () => { pristine.clear(); }, true);

  function choicesOf(f) {
    if (f.kind === "ref") return (META.refs[f.ref] || []).map(([id, name]) => [id, name + " (" + id + ")"]);
    if (f.kind === "month")
      return META.months.map((m) => [m, m]).concat(Array.from({ length: 12 }, (_, i) => [i + 1, String(i + 1)]));
    if (f.name === "rfm_class") return f.choices.map((c) => [c, META.rfm_en[c] ? c + " · " + META.rfm_en[c] : c]);
    const labels = (META.choice_labels || {})[f.name] || {};
    return f.choices.map((c) => [c, labels[c] || c]);
  }

  function valueEditor(rule, f) {
    const op = rule.op;
    if (op === "exists" || op === "not_exists") return null;
    const set = (v) => { rule.value = v; changed(); };
    const listy = op === "in" || op === "not_in";
    if (f.kind === "choice" || f.kind === "ref" || f.kind === "month") {
      const num = (v) => (f.kind === "month" && /^\d+$/.test(v) ? Number(v) : v);
      return select(choicesOf(f), rule.value, (v) => set(listy ? v.map(num) : num(v)), listy);
    }
    if (f.kind === "text") {
      if (listy) return input([].concat(rule.value ?? []).join(", "), (v) => set(v.split(/[,，]\s*/).filter(Boolean)));
      return input(rule.value, set);
    }
    if (op === "between") {
      const pair = rule.value; // fitValue: always a pair here
      return el("span", {}, [
        input(pair[0], (v) => { pair[0] = v; changed(); }, "number"), el("span", { text: " – " }),
        input(pair[1], (v) => { pair[1] = v; changed(); }, "number"),
      ]);
    }
    return input(rule.value, set, "number");
  }

  // symbols read the same in every language; words come translated from the server
  const OPS = Object.assign({ eq: "=", ne: "≠", gt: ">", gte: "≥", lt: "<", lte: "≤" }, META.ops || {});
  const STATES = META.coupon_states || {};

  /** A custom attribute (attributes.<key>) is compared as text, as the server does. */
  function fieldSpec(name) {
    if (FIELDS[name]) return FIELDS[name];
    if (typeof name === "string" && name.startsWith(ATTRIBUTE_PREFIX))
      return { name, label: name, kind: "text", ops: ["eq", "ne", "in", "not_in", "contains", "exists", "not_exists"] };
    return null;
  }

  function fieldRule(rule) {
    const f = fieldSpec(rule.field);
    const fields = META.fields.map((x) => [x.name, x.label]);
    if (f && !FIELDS[f.name]) fields.push([f.name, f.label]);
    const fieldSel = select(fields, rule.field, (v) => {
      rule.field = v; rule.op = FIELDS[v].ops[0]; rule.value = null; fitValue(rule); render(); changed();
    });
    if (!f) return [fieldSel]; // an unknown field: the server names it; pick a real one
    const opSel = select(f.ops.map((o) => [o, OPS[o] || o]), rule.op, (v) => {
      rule.op = v; fitValue(rule); render(); changed();
    });
    return [fieldSel, opSel, valueEditor(rule, f)];
  }

  function tagRule(rule) {
    return [
      select([["any", T.any], ["all", T.all], ["none", T.none]], rule.match, (v) => { rule.match = v; changed(); }),
      input((rule.tags || []).join(", "), (v) => { rule.tags = v.split(/[,，]\s*/).filter(Boolean); changed(); }),
    ];
  }

  function eventRule(rule) {
    const type = input(rule.event_type, (v) => { rule.event_type = v; changed(); });
    type.setAttribute("list", "event-types");
    return [
      type,
      select(["gte", "gt", "eq", "ne", "lt", "lte"].map((o) => [o, OPS[o]]), rule.op, (v) => { rule.op = v; changed(); }),
      input(rule.value, (v) => { rule.value = v; changed(); }, "number"),
      el("span", { text: T.times_in_last }),
      input(rule.window_days, (v) => { rule.window_days = v; changed(); }, "number"),
      el("span", { text: T.days }),
    ];
  }

  function couponRule(rule) {
    return [
      select([["true", "✓"], ["false", "✗"]], String(rule.present !== false), (v) => { rule.present = v === "true"; changed(); }),
      select(["held", "expiring", "redeemed"].map((k) => [k, STATES[k] || k]), rule.state, (v) => { rule.state = v; changed(); }),
      input(rule.within_days, (v) => { rule.within_days = v === "" ? null : v; changed(); }, "number"),
      el("span", { text: T.days }),
      select([["", "—"]].concat(META.coupon_templates.map((t) => [t, t])), rule.template_id || "", (v) => { rule.template_id = v || null; changed(); }),
    ];
  }

  const EDITORS = { field: fieldRule, tag: tagRule, event: eventRule, coupon: couponRule };
  const NEW = {
    field: () => ({ type: "field", field: "rfm_class", op: "in", value: [] }),
    tag: () => ({ type: "tag", tags: [], match: "any" }),
    event: () => ({ type: "event", event_type: "browse", op: "gte", value: 1, window_days: 7 }),
    coupon: () => ({ type: "coupon", state: "expiring", within_days: 3, present: true }),
  };

  function adders(list, allowGroup) {
    const kinds = Object.keys(NEW).map((k) => el("button", { type: "button", class: "btn small", text: "＋ " + T[k],
      onclick: () => { const r = normalize(withIds(NEW[k]())); pristine.add(r.id); list.push(r); render(); changed(); } }));
    if (allowGroup)
      kinds.push(el("button", { type: "button", class: "btn small", text: "＋ " + T.add_group,
        onclick: () => {
          const g = normalize(withIds({ type: "group", match: "any", rules: [NEW.field()] }));
          pristine.add(g.id); g.rules.forEach((r) => pristine.add(r.id)); list.push(g); render(); changed();
        } }));
    return el("div", { class: "rule-adders" }, kinds);
  }

  let dragging = null;
  function row(rule, list, index) {
    const body = rule.type === "group"
      ? [ruleList(rule, false)]
      : [el("span", { class: "rule-kind muted small", text: T[rule.type] })].concat(EDITORS[rule.type](rule));
    const li = el("li", { class: "rule" + (rule.type === "group" ? " rule-group" : ""), draggable: "true",
      "data-rule-id": rule.id, title: T.drag }, [el("span", { class: "drag", text: "⋮⋮", "aria-hidden": "true" })]
      .concat(body, [el("button", { type: "button", class: "icon-btn", "aria-label": T.remove, text: "✕",
        onclick: () => { list.splice(index, 1); render(); changed(); } })]));
    // touching a rule (or a rule inside a group) makes it count; the group with it
    const touched = () => pristine.delete(rule.id);
    li.addEventListener("input", touched, true);
    li.addEventListener("change", touched, true);
    li.addEventListener("dragstart", (e) => { dragging = { list, index }; e.stopPropagation(); });
    li.addEventListener("dragover", (e) => { if (dragging && dragging.list === list) e.preventDefault(); });
    li.addEventListener("drop", (e) => {
      e.preventDefault(); e.stopPropagation();
      if (!dragging || dragging.list !== list) return;
      const [moved] = list.splice(dragging.index, 1);
      list.splice(index, 0, moved); dragging = null; render(); changed();
    });
    return li;
  }

  function ruleList(owner, top) {
    const head = el("div", { class: "rule-head" }, [
      el("span", { text: top ? "" : T.group + ": " }),
      select([["all", T.all], ["any", T.any]], owner.match, (v) => { owner.match = v; changed(); }),
    ]);
    const ul = el("ul", { class: "rule-list" });
    owner.rules.forEach((r, i) => ul.appendChild(row(r, owner.rules, i)));
    return el("div", { class: top ? "rules-top" : "rules-nested" }, [head, ul, adders(owner.rules, top)]);
  }

  function render() {
    root.replaceChildren(ruleList(model, true),
      el("datalist", { id: "event-types" }, ["browse", "store_visit", "purchase", "coupon_redeemed"].map((v) => el("option", { value: v }))));
  }

  // Mark the rules the server complained about.
  document.body.addEventListener("htmx:afterSwap", () => {
    const bad = new Set(Array.from(document.querySelectorAll(".diag[data-rule-id]")).map((d) => d.dataset.ruleId).filter(Boolean));
    root.querySelectorAll("[data-rule-id]").forEach((li) => li.classList.toggle("bad", bad.has(li.dataset.ruleId)));
  });

  render();
  hidden.value = JSON.stringify(model);
})();
