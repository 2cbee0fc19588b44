// The console's only script: keyboard shortcuts on the triage queue. Everything works without it.
"use strict";
(function () {
  const queue = document.getElementById("queue");
  if (!queue) return;
  const items = () => Array.from(queue.querySelectorAll("li.item"));
  const current = () => queue.querySelector("li.item.selected") || items()[0];

  function select(item) {
    if (!item) return;
    items().forEach((li) => li.classList.remove("selected"));
    item.classList.add("selected");
    item.focus({ preventScroll: true });
    item.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    const all = items();
    const at = all.indexOf(current());
    select(all[Math.min(all.length - 1, Math.max(0, at + step))]);
  }

  function judge(key) {
    const item = current();
    const button = item && item.querySelector('button[data-key="' + key + '"]');
    if (button) button.form.requestSubmit(button);
  }

  queue.addEventListener("click", (event) => {
    const item = event.target.closest("li.item");
    if (item) select(item);
  });

  document.addEventListener("keydown", (event) => {
    const typing = event.target.closest("input, textarea, select");
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing) {
      // In a note: Enter files nothing by accident; Escape returns to the keys.
      if (event.key === "Escape") event.target.blur();
      return;
    }
    const actions = {
      j: () => move(1), n: () => move(1), k: () => move(-1),
      b: () => judge("b"), v: () => judge("v"), f: () => judge("f"),
      o: () => { const link = current() && current().querySelector("a.open"); if (link) link.click(); },
    };
    const action = actions[event.key];
    if (action) { event.preventDefault(); action(); }
  });
})();
