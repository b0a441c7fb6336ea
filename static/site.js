// The site works without this file. With it: opening one area's menu closes the others, a
// click elsewhere or Escape closes them all (every menu is a <details>); and a form that came
// back with errors moves the focus to its error summary, so screen readers read it first;
// an htmx request that failed shows its error in place and the control keeps working.
(function () {
  "use strict";
  function groups() { return document.querySelectorAll("details[data-nav-group]"); }
  function closeAll(except) {
    groups().forEach(function (group) { if (group !== except) { group.open = false; } });
  }
  document.addEventListener("toggle", function (event) {
    var target = event.target;
    if (target.matches && target.matches("details[data-nav-group]") && target.open) { closeAll(target); }
  }, true);
  document.addEventListener("click", function (event) {
    if (!event.target.closest("details[data-nav-group]")) { closeAll(null); }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    var open = document.querySelector("details[data-nav-group][open]");
    if (open) { open.open = false; open.querySelector("summary").focus(); }
  });
  function focusErrors(root) {
    var summary = (root || document).querySelector("form .error-summary");
    if (summary) { summary.focus(); }
  }
  document.addEventListener("DOMContentLoaded", function () { focusErrors(document); });
  document.addEventListener("htmx:afterSwap", function (event) { focusErrors(event.target); });

  // A failed htmx request is answered with an inline error block (infrawg/fragments.py): at
  // the top of the control's form, or next to a control outside any form. Where it sits:
  // The element that sent the request (an event's own elt is the target for swap events).
  function sender(detail) { return (detail.requestConfig && detail.requestConfig.elt) || detail.elt; }
  function scopeOf(elt) { return (elt.closest && elt.closest("form")) || elt.parentNode || document; }
  function clearErrors(elt) {
    scopeOf(elt).querySelectorAll("[data-fragment-error]").forEach(function (old) { old.remove(); });
  }
  // The control sends again: its old error block goes.
  document.addEventListener("htmx:beforeRequest", function (event) { clearErrors(event.detail.elt); });
  // A swap that removed the focused element (a row's link or button) leaves keyboard users
  // at the top of the page: the focus goes to what the new content asks for
  // ([data-autofocus], a field with its error), else to the swapped content itself.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var target = event.detail.target, active = document.activeElement;
    event.detail.xhr.infrawgFocusInside = !!(target && active && active !== document.body && target.contains(active));
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    if (!event.detail.xhr || !event.detail.xhr.infrawgFocusInside) { return; }  // a poll, say
    if (document.activeElement && document.activeElement !== document.body) { return; }
    var target = event.detail.target;
    if (target && !target.isConnected && target.id) { target = document.getElementById(target.id); }
    if (!target || !target.isConnected) { return; }
    var wanted = target.querySelector("[data-autofocus]");
    if (wanted) { wanted.focus(); return; }
    if (!target.hasAttribute("tabindex")) { target.setAttribute("tabindex", "-1"); }
    target.focus();
  });
  // An error block that came in: the focus goes to it, so that it is read first.
  document.addEventListener("htmx:afterSettle", function (event) {
    var xhr = event.detail.xhr;
    if (!xhr || xhr.status < 400) { return; }
    var block = scopeOf(sender(event.detail)).querySelector("[data-fragment-error]");
    if (block) { block.focus(); }
  });
  // No answer of the site (the network, a proxy's error page): nothing is swapped; a
  // short block says so, in the same place, and the control stays as it was.
  function failed(elt) {
    clearErrors(elt);
    var block = document.createElement("div");
    block.className = "error-summary fragment-error";
    block.setAttribute("role", "alert");
    block.setAttribute("tabindex", "-1");
    block.setAttribute("data-fragment-error", "");
    var text = document.createElement("p");
    text.className = "message";
    text.textContent = "The site did not answer. Please try again in a moment.";
    block.appendChild(text);
    var form = elt.closest && elt.closest("form");
    if (form) { form.insertBefore(block, form.firstChild); } else { elt.parentNode.insertBefore(block, elt); }
    block.focus();
  }
  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if (xhr.status >= 500 && !xhr.getResponseHeader("HX-Retarget")) {
      event.detail.shouldSwap = false;
      failed(sender(event.detail));
    }
  });
  document.addEventListener("htmx:sendError", function (event) { failed(event.detail.elt); });
})();
