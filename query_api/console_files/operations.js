// Operations: GET /api/operations (readiness, projector lag per partition, the
// last dead-lettered records), refreshed every few seconds.
import { $, ApiError, api, el, fill, setUpKey, showError, when } from "./api.js";

let timer = null;
setUpKey(load);

async function load() {
  clearTimeout(timer);
  let ops;
  try {
    ops = await api("/api/operations");
    showError("");
  } catch (error) {
    showError(error instanceof ApiError && error.status === 403
      ? `${error.message} Ask an operator for a key.`
      : error.message);
    return;
  }
  fill("#checks", Object.entries(ops.checks).map(([name, state]) =>
    el("li", { class: state === "ok" ? "ok" : "down", "data-check": name }, `${name}: ${state}`)));
  if (ops.projector_lag) {
    const lag = Object.entries(ops.projector_lag);
    const total = lag.reduce((sum, [, n]) => sum + n, 0);
    $("#lag-total").textContent = `${total} event(s) behind in all.`;
    fill("#lag tbody", lag.map(([p, n]) => el("tr", { class: n ? "behind" : "" }, el("td", {}, p), el("td", {}, String(n)))));
  } else {
    $("#lag-total").textContent = `Lag unknown: ${ops.projector_lag_error}`;
    fill("#lag tbody");
  }
  const letters = ops.dead_letters;
  $("#dlq-note").textContent = letters
    ? letters.length ? `The ${letters.length} newest.` : "None: every record was readable."
    : `Unknown: ${ops.dead_letters_error}`;
  fill("#dead-letters tbody", (letters || []).map((d) => el("tr", {},
    el("td", {}, when(d.time)),
    el("td", {}, d.type ?? "—"),
    el("td", {}, d.subject ?? "—"),
    el("td", { class: "reason" }, d.reason),
    el("td", {}, d.topic ? `${d.topic} ${d.partition}/${d.offset}` : "—"),
    el("td", {}, d.consumer ?? "—"))));
  $("#refreshed").textContent = `Last refreshed ${when(new Date().toISOString())}.`;
  timer = setTimeout(load, 5000);
}

$("#refresh").addEventListener("click", load);
load();
