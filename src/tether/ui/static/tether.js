// tether's web UI: live updates over Server-Sent Events and the sync dialog.
// Loaded from this origin (the Content-Security-Policy allows no inline script). The HTML an
// event carries was rendered and escaped by the server; it replaces elements by id.
(function () {
  "use strict";

  function swapIn(html) {
    const template = document.createElement("template");
    template.innerHTML = html;
    for (const fresh of Array.from(template.content.children)) {
      const old = fresh.id ? document.getElementById(fresh.id) : null;
      if (old) {
        old.replaceWith(fresh);
        htmx.process(fresh);
      }
    }
  }

  function follow(indicator) {
    const source = new EventSource(indicator.getAttribute("data-stream"));
    source.addEventListener("open", function () {
      indicator.textContent = "live";
      indicator.classList.add("on");
      htmx.trigger(document.body, "stream-open");
    });
    source.addEventListener("error", function () {
      indicator.textContent = "reconnecting…";
      indicator.classList.remove("on");
    });
    source.addEventListener("swap", function (event) {
      swapIn(event.data);
      htmx.trigger(document.body, "app-changed");
    });
    source.addEventListener("gone", function (event) {
      const old = document.getElementById(event.data);
      if (old) old.remove();
    });
    source.addEventListener("changed", function () {
      htmx.trigger(document.body, "list-changed");
    });
    window.addEventListener("pagehide", function () { source.close(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-stream]").forEach(follow);
    document.body.addEventListener("click", function (event) {
      const opener = event.target.closest("[data-open]");
      if (opener) document.getElementById(opener.getAttribute("data-open")).showModal();
      const closer = event.target.closest("[data-close]");
      if (closer) closer.closest("dialog").close();
    });
    document.body.addEventListener("htmx:afterRequest", function (event) {
      const dialog = event.target.closest ? event.target.closest("dialog") : null;
      if (dialog && event.detail.successful) dialog.close();
    });
  });
})();
