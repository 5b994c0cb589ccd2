// Keyboard-only triage: arrows or j/k move, digits categorise (shift: the whole group), 0 uncategorised, space reveals
// the focused image (logged by the server), x selects, u undoes, Enter opens the details.
(function () {
  "use strict";
  const token = () => document.querySelector('meta[name="csrf-token"]')?.content || "";
  const cells = () => Array.from(document.querySelectorAll(".cell"));
  const categories = () =>
    Array.from(document.querySelectorAll(".shortcuts li")).map((li) => li.dataset.key);
  const status = (text) => {
    const el = document.getElementById("status");
    if (el) el.textContent = text;
  };

  async function post(path, cell, extra) {
    const body = new URLSearchParams({ sha256: cell.dataset.sha, version: cell.dataset.version, ...extra });
    const response = await fetch(path, {
      method: "POST",
      headers: { "X-CSRF-Token": token() },
      body,
      credentials: "same-origin",
    });
    const data = await response.json();
    if (response.ok) {
      cell.dataset.version = data.version;
      cell.querySelector(".category").textContent = data.category || "uncategorised";
      const group = data.group ? `, ${data.group} files in the group` : "";
      const lost = data.conflicts && data.conflicts.length ? `, ${data.conflicts.length} changed by someone else` : "";
      status(`${data.category || "uncategorised"} (version ${data.version}${group}${lost})`);
    } else {
      if (data.version !== undefined) cell.dataset.version = data.version;
      status(data.detail || "refused");
    }
  }

  function move(step) {
    const all = cells();
    if (!all.length) return;
    const at = all.indexOf(document.activeElement);
    const next = all[Math.min(all.length - 1, Math.max(0, at < 0 ? 0 : at + step))];
    next.focus();
  }

  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (target instanceof HTMLInputElement || target instanceof HTMLSelectElement) return;
    const cell = document.activeElement?.closest?.(".cell");
    const key = event.key;
    if (key === "ArrowRight" || key === "ArrowDown" || key === "j") { move(1); event.preventDefault(); return; }
    if (key === "ArrowLeft" || key === "ArrowUp" || key === "k") { move(-1); event.preventDefault(); return; }
    if (!cell) return;
    if (key === " ") {
      const img = cell.querySelector("img.thumb");
      if (img && img.dataset.reveal && img.src.indexOf("/reveal/") < 0) {
        img.src = img.dataset.reveal;
        status("revealed (logged)");
      }
      event.preventDefault();
    } else if (key === "u") {
      post("/undo", cell, {});
    } else if (key === "Enter") {
      const link = cell.querySelector("a");
      if (link) window.location = link.href;
    } else if (key === "x") {
      cell.classList.toggle("selected");
      status(`${document.querySelectorAll(".cell.selected").length} selected`);
    } else if (/^Digit[0-9]$/.test(event.code)) {
      // shift + digit: the whole near-duplicate group; with a selection: every selected file
      const index = Number(event.code.slice(5));
      const list = categories();
      if (index > list.length) return;
      const category = index === 0 ? "" : list[index - 1];
      const scope = event.shiftKey ? "group" : "file";
      const chosen = Array.from(document.querySelectorAll(".cell.selected"));
      const targets = chosen.length && !event.shiftKey ? chosen : [cell];
      targets.forEach((target) => {
        post("/categorise", target, { category, scope });
        target.classList.remove("selected");
      });
    }
  });

  document.addEventListener("DOMContentLoaded", () => {
    const first = cells()[0];
    if (first) first.focus();
  });
  document.body?.addEventListener?.("htmx:afterSwap", () => {
    const first = cells()[0];
    if (first) first.focus();
  });
})();
