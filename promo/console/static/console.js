// promo console: the little script it has. Every page works without it.
"use strict";
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  try {
    await navigator.clipboard.writeText(button.dataset.copy);
    button.dataset.label = button.dataset.label || button.textContent;
    button.textContent = button.dataset.copied || "Copied";
    setTimeout(() => { button.textContent = button.dataset.label; }, 1500);
  } catch (e) { window.prompt("Copy:", button.dataset.copy); }
});

// A batch in progress: poll its status page's JSON and move the bar.
for (const bar of document.querySelectorAll("progress[data-poll]")) {
  const label = document.getElementById(bar.dataset.label);
  const tick = async () => {
    const answer = await fetch(bar.dataset.poll, { headers: { accept: "application/json" } });
    if (!answer.ok) return;
    const batch = await answer.json();
    bar.max = batch.total; bar.value = batch.done;
    if (label) label.textContent = batch.text;
    if (batch.finished) { window.location.reload(); return; }
    setTimeout(tick, 1000);
  };
  setTimeout(tick, 1000);
}
