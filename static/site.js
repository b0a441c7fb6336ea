// The site works without this file. With it: opening one area's menu closes the others, a
// click elsewhere or Escape closes them all (every menu is a <details>); and a form that came
// back with errors moves the focus to its error summary, so screen readers read it first.
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
})();
