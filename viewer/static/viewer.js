// chartvault viewer: places the search-hit boxes over the page image and
// zooms it. Served from the binary; the pages carry no inline script
// (the Content-Security-Policy forbids it).
"use strict";

function placeHits(page) {
  const w = Number(page.dataset.w), h = Number(page.dataset.h);
  if (!w || !h) return 0;
  const hits = page.querySelectorAll(".hit");
  for (const el of hits) {
    const [x, y, bw, bh] = el.dataset.box.split(",").map(Number);
    // Percentages of the page: the boxes follow the image at any zoom.
    el.style.left = (100 * x / w) + "%";
    el.style.top = (100 * y / h) + "%";
    el.style.width = (100 * bw / w) + "%";
    el.style.height = (100 * bh / h) + "%";
  }
  return hits.length;
}

function setupZoom(page) {
  const levels = [50, 75, 100, 125, 150, 200, 300];
  let at = 2;
  const apply = () => { page.style.width = levels[at] + "%"; };
  const out = document.getElementById("zoomout");
  const inn = document.getElementById("zoomin");
  if (out) out.addEventListener("click", () => { if (at > 0) { at--; apply(); } });
  if (inn) inn.addEventListener("click", () => { if (at < levels.length - 1) { at++; apply(); } });
}

document.addEventListener("DOMContentLoaded", () => {
  const page = document.getElementById("page");
  if (!page) return;
  const n = placeHits(page);
  const status = document.getElementById("hitcount");
  if (status && n) status.textContent = n + (n === 1 ? " hit" : " hits") + " highlighted";
  setupZoom(page);
  const first = page.querySelector(".hit");
  if (first) first.scrollIntoView({ block: "center" });
});

// Compliance screens (routes_compliance.c): a long action (executing a
// destruction batch, verifying the audit trail) says it is under way
// while the page waits, and cannot be sent twice.
document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form[data-busy]")) {
    form.addEventListener("submit", () => {
      const button = form.querySelector("button[type=submit]");
      if (button) {
        button.disabled = true;
        button.textContent = form.dataset.busy;
      }
      const note = form.querySelector(".busy");
      if (note) note.hidden = false;
    });
  }
});
