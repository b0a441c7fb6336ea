// The navigation works without this file (every menu is a <details>); with it, opening one
// area's menu closes the others, and a click elsewhere or Escape closes them all.
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
})();
