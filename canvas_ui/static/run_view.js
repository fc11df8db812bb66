/* Run view and test runs: the path on the canvas, a timeline, and a stepper over the trace.
 *
 * Reads the run from the page's boot JSON (boot.run: steps with notes, current node) or,
 * on the test-run page, from the answer of POST /journeys/{id}/test-run. Drawing goes
 * through canvas.js's runOverlay; text is set with textContent only.
 */
(function () {
  "use strict";

  const boot = JSON.parse(document.getElementById("canvas-boot").textContent);
  const T = boot.runStrings;
  const overlay = window.journeyCanvas.runOverlay;
  const slider = document.getElementById("step-slider");
  const label = document.getElementById("step-label");
  const statePane = document.getElementById("step-state");
  const timeline = document.getElementById("run-timeline");
  let run = boot.run;

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function json(value) { return JSON.stringify(value, null, 1); }

  // Recorded values as a person reads them: moments in the journey's time zone (not UTC
  // with microseconds), ids shortened (the whole id in the tooltip), known words translated.
  const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;
  const HEX_ID = /^[0-9a-f]{24,}$/i;
  let zoneFormat = null;
  function localTime(value) {
    const d = new Date(value);
    if (isNaN(d)) return value;
    if (!zoneFormat) {
      try {
        zoneFormat = new Intl.DateTimeFormat("en-CA", { timeZone: run.timezone || undefined,
          year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
      } catch (e) {
        zoneFormat = new Intl.DateTimeFormat("en-CA", { year: "numeric", month: "2-digit", day: "2-digit",
          hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
      }
    }
    const p = Object.fromEntries(zoneFormat.formatToParts(d).map((x) => [x.type, x.value]));
    return p.year + "-" + p.month + "-" + p.day + " " + p.hour + ":" + p.minute;
  }
  function readableValue(value) {
    if (value === null || value === undefined || value === "") return { text: "—" };
    if (typeof value === "boolean") return { text: value ? "✓" : "✗" };
    if (Array.isArray(value)) return { text: value.map((v) => readableValue(v).text).join(", ") || "—" };
    if (typeof value === "object") {
      return { text: Object.entries(value).map(([k, v]) => keyName(k) + ": " + readableValue(v).text).join(" · ") || "—" };
    }
    const text = String(value);
    if (ISO.test(text)) return { text: localTime(text), title: text };
    if (HEX_ID.test(text)) return { text: text.slice(0, 8) + "…", title: text };
    return { text: (T.values || {})[text] || text };
  }
  function keyName(key) { return (T.keys || {})[key] || key.replace(/_/g, " "); }
  /** A definition list of a recorded object's entries. */
  function facts(obj) {
    const dl = el("dl", "facts-list");
    Object.entries(obj || {}).forEach(([k, v]) => {
      if (k === "rendered") return; // shown as the message's text
      const shown = readableValue(v);
      dl.appendChild(el("dt", "", keyName(k)));
      const dd = el("dd", "", shown.text);
      if (shown.title) dd.title = shown.title;
      dl.appendChild(dd);
    });
    return dl;
  }

  const EMPTY_RUN = { steps: [], current: null, currentNote: "", labels: {}, messages: [], tasks: [] };

  /** What a step sent, as the customer or the guide would read it: a message's text, a
   *  test run's task title and instructions (both rendered from their templates). */
  function readable(s) {
    const out = [];
    const result = s.result || {};
    if (typeof result.rendered === "string") {
      const m = (run.messages || []).find((x) => x.message_id === result.message_id);
      const channel = m ? (T.channels[m.channel] || m.channel) : "";
      out.push({ title: T.message + (channel ? " · " + channel : ""), text: result.rendered });
    }
    const task = result.task_id && (run.tasks || []).find((t) => t.task_id === result.task_id);
    if (task) {
      out.push({ title: T.task, text: [task.title, task.instructions].filter(Boolean).join("\n") });
    }
    return out;
  }

  /** The run's messages and tasks in the order they happened (test runs), each opening its
   *  step: what a marketer checks first after a test. */
  function renderSent() {
    const box = document.getElementById("test-run-sent");
    if (!box) return;
    const list = box.querySelector("ol");
    list.replaceChildren();
    run.steps.forEach((s, i) => {
      readable(s).forEach((r) => {
        const li = el("li", "sent");
        li.dataset.i = String(i);
        const head = el("div", "sent-head");
        head.appendChild(el("span", "t-at", s.at));
        head.appendChild(el("strong", "", (run.labels || {})[s.node_id] || s.node_id));
        head.appendChild(el("span", "muted", r.title));
        li.appendChild(head);
        li.appendChild(el("div", "rendered-text", r.text));
        li.tabIndex = 0;
        li.addEventListener("click", () => { showStep(i); overlay.focus(s.node_id); });
        list.appendChild(li);
      });
    });
    box.querySelector(".sent-none").hidden = list.children.length > 0;
    box.hidden = !run.steps.length;
  }

  /** Show the run as it was after step i (the whole path when i is the last step). */
  function showStep(i) {
    const steps = run.steps;
    if (!steps.length) { overlay.clear(); label.textContent = ""; statePane.replaceChildren(); return; }
    i = Math.max(0, Math.min(i, steps.length - 1));
    slider.value = String(i);
    const last = i === steps.length - 1;
    const active = (last && run.current) || steps[i].node_id;
    overlay.show(steps.slice(0, i + 1), last ? run.current : steps[i].node_id);
    overlay.reveal(active); // the step shown is on screen, however far along the journey
    const s = steps[i];
    label.textContent = T.step.replace("%(n)s", i + 1).replace("%(total)s", steps.length)
      + " · " + s.at + " · " + s.note;
    label.dataset.node = s.node_id;
    statePane.replaceChildren();
    const heading = (title) => statePane.appendChild(el("h3", "", title));
    const texts = readable(s);
    texts.forEach((r) => {
      heading(r.title);
      statePane.appendChild(el("div", "rendered-text", r.text));
    });
    // what the step decided on and what it recorded, readable; the raw JSON one click away
    if (Object.keys(s.inputs || {}).length) { heading(T.inputs); statePane.appendChild(facts(s.inputs)); }
    const result = Object.fromEntries(Object.entries(s.result || {}).filter(([k]) => k !== "rendered"));
    if (Object.keys(result).length) { heading(T.result); statePane.appendChild(facts(result)); }
    heading(T.context);
    const ctx = Object.entries(s.context || {});
    if (!ctx.length) statePane.appendChild(el("p", "muted", T.none));
    ctx.forEach(([node, values]) => {
      statePane.appendChild(el("h4", "", (run.labels || {})[node] || node));
      statePane.appendChild(values && typeof values === "object" && !Array.isArray(values)
        ? facts(values) : el("p", "", readableValue(values).text));
    });
    heading(T.events);
    const evs = s.events || [];
    if (!evs.length) statePane.appendChild(el("p", "muted", T.none));
    else {
      const ul = el("ul", "events-list");
      evs.forEach((e) => {
        const props = Object.entries(e.properties || {}).map(([k, v]) => keyName(k) + " " + readableValue(v).text);
        ul.appendChild(el("li", "", [readableValue(e.type).text, localTime(e.occurred_at)].concat(props).join(" · ")
          + (e.consumed ? " (" + T.consumed + ")" : "")));
      });
      statePane.appendChild(ul);
    }
    const raw = el("details", "raw");
    raw.appendChild(el("summary", "", T.raw));
    raw.appendChild(el("pre", "", json({ inputs: s.inputs, result: s.result, context: s.context, events: s.events })));
    statePane.appendChild(raw);
    timeline.querySelectorAll("li").forEach((li) => li.classList.toggle("on", Number(li.dataset.i) === i));
  }

  function render(newRun) {
    run = newRun;
    zoneFormat = null; // a test run may answer in another zone
    timeline.replaceChildren();
    run.steps.forEach((s, i) => {
      const li = el("li", s.error ? "err" : "");
      li.dataset.i = String(i);
      li.dataset.node = s.node_id;
      li.appendChild(el("span", "t-at", s.at));
      li.appendChild(el("strong", "", (run.labels || {})[s.node_id] || s.node_id));
      li.appendChild(el("span", "t-note", s.note));
      li.tabIndex = 0;
      li.addEventListener("click", () => { showStep(i); overlay.focus(s.node_id); });
      timeline.appendChild(li);
    });
    slider.max = String(Math.max(run.steps.length - 1, 0));
    const cur = document.getElementById("run-current");
    if (cur) cur.textContent = run.currentNote || "";
    renderSent();
    showStep(run.steps.length - 1);
  }

  slider.addEventListener("input", () => showStep(Number(slider.value)));
  document.getElementById("step-prev").addEventListener("click", () => showStep(Number(slider.value) - 1));
  document.getElementById("step-next").addEventListener("click", () => showStep(Number(slider.value) + 1));

  const form = document.getElementById("test-run-form");
  if (form) {
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const status = document.getElementById("test-run-status");
      status.textContent = T.running;
      status.classList.remove("notice", "err");
      form.dataset.done = "false";
      const body = Object.fromEntries(new FormData(form).entries());
      try {
        const { data } = await JC.api("POST", form.dataset.url, body);
        render({ ...data.run, messages: data.messages, tasks: data.tasks });
        status.textContent = (data.stalled ? data.stalled + " · " : "") + data.elapsed_ms + " ms";
        form.dataset.done = "true";
      } catch (err) {
        // The last result answered another script or draft: never leave it under the error.
        render(EMPTY_RUN);
        status.textContent = T.failed.replace("%s", err.message);
        status.classList.add("notice", "err");
        form.dataset.done = "error";
      }
    });
  }

  render(run);
  window.runView = { showStep, render, get run() { return run; } }; // for tests
})();
