// benchsite: sortable tables (tablesort, served from this site), the leaderboard's "Show subjects" toggle, and
// interactive charts: each figure's prerendered SVG is replaced, once it scrolls into view, by the same Vega-Lite spec
// drawn by Vega-Embed (tooltips; zoom and pan on history charts). Vega, Vega-Lite and Vega-Embed are served from this
// site (assets/vega/) and loaded only on a page with charts; without JavaScript, or if anything fails, the SVG stays.
(function () {
  "use strict";

  var assets = (document.currentScript && document.currentScript.src || "").replace(/benchsite\.js(\?.*)?$/, "");
  var loaded = {};

  function script(src) {
    if (!loaded[src]) {
      loaded[src] = new Promise(function (resolve, reject) {
        var tag = document.createElement("script");
        tag.src = src;
        tag.onload = resolve;
        tag.onerror = function () { reject(new Error("could not load " + src)); };
        document.head.appendChild(tag);
      });
    }
    return loaded[src];
  }

  function vegaEmbedLoaded() {
    return script(assets + "vega/vega.min.js")
      .then(function () { return script(assets + "vega/vega-lite.min.js"); })
      .then(function () { return script(assets + "vega/vega-embed.min.js"); });
  }

  function upgrade(figure) {
    var img = figure.querySelector("img");
    var key = figure.getAttribute("data-benchsite-chart");
    Promise.all([vegaEmbedLoaded(), script(figure.getAttribute("data-benchsite-live"))])
      .then(function () {
        var spec = (window.benchsiteCharts || {})[key];
        if (!spec) throw new Error("no chart spec for " + key);
        var holder = document.createElement("div");
        holder.className = "benchsite-live";
        figure.insertBefore(holder, img);
        return window.vegaEmbed(holder, spec, { actions: false, renderer: "svg" }).then(function () {
          img.hidden = true;
          figure.classList.add("benchsite-live-ready");
        }, function (error) {
          holder.remove();
          throw error;
        });
      })
      .catch(function (error) {
        console.warn("benchsite: chart stays a static image:", error);
      });
  }

  function charts() {
    var figures = document.querySelectorAll("figure[data-benchsite-live]:not([data-benchsite-bound])");
    if (!figures.length) return;
    var seen = "IntersectionObserver" in window ? new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        if (entry.isIntersecting) {
          seen.unobserve(entry.target);
          upgrade(entry.target);
        }
      });
    }, { rootMargin: "200px" }) : null;
    figures.forEach(function (figure) {
      figure.setAttribute("data-benchsite-bound", "");
      if (seen) seen.observe(figure); else upgrade(figure);
    });
  }

  function init() {
    charts();
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
