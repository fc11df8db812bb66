/* Guide task dashboard: the chase confirmation. The server answers the dialog (what the
 * chase would do) into #chase-dialog; this opens it as a modal, and closes it once its
 * chase went through (the board is swapped by htmx). */
(function () {
  "use strict";

  document.body.addEventListener("htmx:afterSwap", () => {
    const dlg = document.getElementById("chase-dialog");
    if (dlg && dlg.tagName === "DIALOG" && dlg.hasAttribute("data-open") && !dlg.open) dlg.showModal();
  });

  document.body.addEventListener("htmx:afterRequest", (e) => {
    const form = e.target.closest && e.target.closest("#chase-dialog form");
    if (!form || e.detail.requestConfig.verb !== "post") return;
    const dlg = form.closest("dialog");
    if (e.detail.successful && dlg.open) dlg.close();
  });
})();
