// The top bar's menu on narrow screens (a phone at 360 px): the links fold behind one "菜单" button
// whose aria-expanded says whether they are shown. Loaded right after the top bar, so the page never
// shows the unfolded menu first. Without this script the links simply wrap (onemap.css).
(function () {
  "use strict";
  const button = document.querySelector(".topbar .menu-toggle");
  if (!button) return;
  const bar = button.closest(".topbar");
  const menu = document.getElementById(button.getAttribute("aria-controls"));
  const isOpen = () => button.getAttribute("aria-expanded") === "true";

  function show(open) {
    button.setAttribute("aria-expanded", String(open));
    bar.classList.toggle("menu-open", open);
  }

  bar.classList.add("menu-ready"); // the CSS folds the menu only when this script runs
  button.hidden = false;
  button.addEventListener("click", () => show(!isOpen()));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && isOpen()) {
      show(false);
      button.focus();
    }
  });
  // A tap outside the open menu, or focus moving out of it, folds it again.
  document.addEventListener("click", (event) => {
    if (isOpen() && !bar.contains(event.target)) show(false);
  });
  menu.addEventListener("focusout", (event) => {
    if (isOpen() && event.relatedTarget && !bar.contains(event.relatedTarget)) show(false);
  });
})();
