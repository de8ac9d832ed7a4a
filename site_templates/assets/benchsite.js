// benchsite: sortable tables (tablesort, served from this site) and the leaderboard's "Show subjects" toggle.
(function () {
  "use strict";

  function init() {
    document.querySelectorAll(".benchsite-sortable table").forEach(function (table) {
      if (!table.hasAttribute("data-benchsite-sortable")) {
        table.setAttribute("data-benchsite-sortable", "");
        new Tablesort(table);
      }
    });
    document.querySelectorAll("button.benchsite-subjects-toggle").forEach(function (button) {
      if (button.hasAttribute("data-benchsite-bound")) return;
      button.setAttribute("data-benchsite-bound", "");
      button.addEventListener("click", function () {
        var show = button.getAttribute("aria-pressed") !== "true";
        var target = document.getElementById(button.getAttribute("aria-controls"));
        button.setAttribute("aria-pressed", show ? "true" : "false");
        button.textContent = show ? "Hide subjects" : "Show subjects";
        if (target) target.hidden = !show;
      });
    });
  }

  // Material for MkDocs announces each page load on document$ (instant navigation included).
  if (typeof document$ !== "undefined") {
    document$.subscribe(init);
  } else {
    document.addEventListener("DOMContentLoaded", init);
  }
})();
