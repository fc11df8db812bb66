/* Page glue shared by every page: htmx settings, CSRF for fetch, dialogs, toasts,
 * and the small behaviours of generated forms (union variants, optional groups).
 * The canvas itself lives in canvas.js. User text is only ever set with textContent. */
(function () {
  "use strict";

  // htmx 2 does not swap 4xx responses by default. Our forms answer 422 with the form
  // re-rendered with inline errors, so 422 is swapped like a 200; other errors are not
  // swapped and surface as a toast (see htmx:responseError below).
  if (window.htmx) {
    htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "422", swap: true, error: false },
      { code: "[45]..", swap: false, error: true },
    ];
  }

  /** The CSRF token rendered into the page (also the journeys_csrf cookie value). */
  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  /** fetch() with the CSRF header and JSON handling; throws Error(detail) on 4xx/5xx. */
  async function api(method, url, body, opts) {
    const headers = { "X-CSRF-Token": csrfToken(), Accept: "application/json" };
    let payload = body;
    if (body !== undefined && !(body instanceof FormData)) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const res = await fetch(url, { method, headers, body: payload, credentials: "same-origin" });
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (!res.ok && !(opts && opts.allow && opts.allow.includes(res.status))) {
      const detail = data && data.detail ? (typeof data.detail === "string" ? data.detail
        : JSON.stringify(data.detail)) : res.statusText;
      const err = new Error(detail);
      err.status = res.status;
      err.data = data;
      throw err;
    }
    return { status: res.status, data };
  }

  let toastTimer = null;
  /** Show a short message at the bottom of the screen. */
  function toast(message, kind) {
    const el = document.getElementById("toast");
    if (!el) return;
    el.textContent = message;
    el.className = "toast " + (kind || "");
    el.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { el.hidden = true; }, kind === "err" ? 6000 : 3000);
  }

  /** Ask before something weighty, in the app's own dialog (not the browser's confirm(),
   *  which names the site, blocks the page and cannot say what the button does).
   *  Resolves true when ``okLabel`` is chosen; Escape or ``cancelLabel`` resolve false. */
  function confirmDialog(message, okLabel, cancelLabel) {
    return new Promise((resolve) => {
      const dlg = document.createElement("dialog");
      dlg.className = "dialog confirm-dialog";
      const text = document.createElement("p");
      text.className = "confirm-message";
      text.textContent = message;
      const actions = document.createElement("div");
      actions.className = "actions end";
      const cancel = document.createElement("button");
      cancel.type = "button";
      cancel.className = "btn";
      cancel.textContent = cancelLabel;
      const ok = document.createElement("button");
      ok.type = "button";
      ok.className = "btn primary";
      ok.textContent = okLabel;
      ok.dataset.confirm = "ok";
      actions.append(cancel, ok);
      dlg.append(text, actions);
      let answer = false;
      cancel.addEventListener("click", () => dlg.close());
      ok.addEventListener("click", () => { answer = true; dlg.close(); });
      dlg.addEventListener("close", () => { dlg.remove(); resolve(answer); });
      document.body.appendChild(dlg);
      dlg.showModal();
      ok.focus();
    });
  }

  window.JC = { api, toast, csrfToken, confirm: confirmDialog };

  // hx-post elements with data-app-confirm ask in the app's own dialog first (its words in
  // data-ok-label / data-cancel-label), not in the browser's confirm().
  document.addEventListener("htmx:confirm", (e) => {
    const asker = e.detail.elt.closest && e.detail.elt.closest("[data-app-confirm]");
    if (!asker) return;
    e.preventDefault();
    const d = asker.dataset;
    confirmDialog(d.appConfirm, d.okLabel || "OK", d.cancelLabel || "Cancel").then((yes) => {
      if (yes) e.detail.issueRequest(true);
    });
  });

  // A throttled sign-in answers 429 with the form and its message (how long to wait):
  // swap that form like a 422 instead of a toast that says only "Too Many Requests".
  document.addEventListener("htmx:beforeSwap", (e) => {
    const xhr = e.detail.xhr;
    const type = xhr.getResponseHeader("content-type") || "";
    if (xhr.status === 429 && type.startsWith("text/html")) {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });

  document.addEventListener("htmx:responseError", (e) => {
    const xhr = e.detail.xhr;
    let msg = xhr.statusText;
    try { msg = JSON.parse(xhr.responseText).detail || msg; } catch (err) { /* not JSON */ }
    toast(typeof msg === "string" ? msg : JSON.stringify(msg), "err");
  });

  // Dialogs: <button data-open-dialog="id">, <button data-close-dialog>.
  document.addEventListener("click", (e) => {
    const opener = e.target.closest("[data-open-dialog]");
    if (opener) {
      const dlg = document.getElementById(opener.dataset.openDialog);
      if (dlg) dlg.showModal();
    }
    const closer = e.target.closest("[data-close-dialog]");
    if (closer) closer.closest("dialog").close();
  });

  // Generated forms: a union's <select data-union> shows only the chosen variant's
  // fieldset; disabled fieldsets are not submitted, so only that variant is posted.
  function syncUnion(select) {
    const form = select.form || document;
    form.querySelectorAll('fieldset[data-variant-of="' + CSS.escape(select.dataset.union) + '"]')
      .forEach((fs) => {
        const on = fs.dataset.tag === select.value;
        fs.disabled = !on;
        fs.hidden = !on;
      });
  }
  // Optional groups (a send window, a reminder): the checkbox switches the group on/off.
  function syncGroup(box) {
    const form = box.form || document;
    const name = CSS.escape(box.dataset.toggleGroup);
    form.querySelectorAll('[data-group-body="' + name + '"], fieldset.inline[data-group="' + name + '"]')
      .forEach((fs) => {
        fs.disabled = !box.checked;
        if (fs.parentElement.classList.contains("group-body")) fs.parentElement.hidden = !box.checked;
      });
  }
  // A field that only means something for one choice of a select (a cool-down in days for
  // "After a cool-down") is hidden for the others.
  function syncShownWhen(select) {
    const form = select.form || document;
    form.querySelectorAll('[data-shown-when="' + CSS.escape(select.name) + '"]').forEach((el) => {
      el.hidden = select.value !== el.dataset.shownValue;
    });
  }
  // Units follow the amount: "1 day", "2 days" (the same word in Chinese).
  function syncUnitWords(input) {
    const box = input.closest(".with-unit, fieldset.inline");
    if (!box) return;
    const one = input.value.trim() === "1";
    box.querySelectorAll("[data-one]").forEach((el) => {
      el.textContent = one ? el.dataset.one : el.dataset.many;
    });
  }
  document.addEventListener("input", (e) => {
    if (e.target.matches('input[type="number"]')) syncUnitWords(e.target);
  });
  document.addEventListener("change", (e) => {
    if (e.target.matches("select[name]")) syncShownWhen(e.target);
    if (e.target.matches("select[data-union]")) syncUnion(e.target);
    if (e.target.matches("input[data-toggle-group]")) syncGroup(e.target);
    if (e.target.matches("select[data-insert-into]")) insertPlaceholder(e.target);
  });

  // Template texts: the "Insert a field" picker puts its placeholder where the cursor was
  // in the field (a field never focused gets it at the end), then resets itself.
  const focusedOnce = new WeakSet();
  document.addEventListener("focusin", (e) => {
    if (e.target.matches && e.target.matches("input, textarea")) focusedOnce.add(e.target);
  });
  function insertPlaceholder(picker) {
    const field = document.getElementById(picker.dataset.insertInto);
    const text = picker.value;
    picker.value = "";
    if (!field || !text) return;
    const end = field.value.length;
    const from = focusedOnce.has(field) ? field.selectionStart ?? end : end;
    const to = focusedOnce.has(field) ? field.selectionEnd ?? from : end;
    field.setRangeText(text, from, to, "end");
    field.focus();
    field.dispatchEvent(new Event("input", { bubbles: true }));
  }

  // Journey list: "Import JSON" creates a new journey from a file and opens it.
  document.addEventListener("change", async (e) => {
    if (!e.target.matches("input[data-import-new]")) return;
    const file = e.target.files[0];
    if (!file) return;
    const form = new FormData();
    form.append("file", file);
    try {
      const { data } = await api("POST", "/api/journeys/import", form);
      window.location.href = "/journeys/" + encodeURIComponent(data.id) + "/edit";
    } catch (err) {
      toast(err.message, "err");
    } finally {
      e.target.value = "";
    }
  });
})();
