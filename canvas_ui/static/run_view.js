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
    const add = (title, value) => {
      statePane.appendChild(el("h3", "", title));
      statePane.appendChild(el("pre", "", value));
    };
    const texts = readable(s);
    texts.forEach((r) => {
      statePane.appendChild(el("h3", "", r.title));
      statePane.appendChild(el("div", "rendered-text", r.text));
    });
    if (Object.keys(s.inputs || {}).length) add(T.inputs, json(s.inputs));
    if (texts.length) {
      // the text is what matters; the raw result (ids, status) stays one click away
      const raw = el("details", "raw");
      raw.appendChild(el("summary", "", T.raw));
      raw.appendChild(el("pre", "", json(s.result)));
      statePane.appendChild(raw);
    } else if (Object.keys(s.result || {}).length) {
      add(T.result, json(s.result));
    }
    add(T.context, Object.keys(s.context).length ? json(s.context) : T.none);
    const evs = (s.events || []).map((e) => e.type + " " + e.occurred_at.slice(0, 16)
      + (e.consumed ? " (" + T.consumed + ")" : "") + " " + JSON.stringify(e.properties));
    add(T.events, evs.length ? evs.join("\n") : T.none);
    timeline.querySelectorAll("li").forEach((li) => li.classList.toggle("on", Number(li.dataset.i) === i));
  }

  function render(newRun) {
    run = newRun;
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
