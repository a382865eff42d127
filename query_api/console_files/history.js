// History: GET /api/media/history with its filters and sorts, keyset paging
// (next_cursor), the total; the filters live in this page's URL (never the key).
import { $, api, el, fill, setUpKey, showError, statusBadge, when } from "./api.js";

const form = $("#filters");
const FIELDS = ["status", "media_type", "date_from", "date_to", "sort_by", "order", "per_page"];
let cursors = []; // the cursor of each page shown before this one ("" for the first)
let current = "";
let nextCursor = null;
let loads = 0;

for (const [name, value] of new URLSearchParams(location.search)) {
  if (FIELDS.includes(name) && form.elements[name]) form.elements[name].value = value;
}
setUpKey(() => load(current));

function query(cursor) {
  const params = new URLSearchParams();
  for (const name of FIELDS) {
    const value = form.elements[name].value;
    if (value) params.set(name, value);
  }
  const shown = params.toString();
  history.replaceState(null, "", shown ? `?${shown}` : location.pathname);
  if (cursor) params.set("cursor", cursor);
  return params;
}

async function load(cursor) {
  showError("");
  let page;
  try {
    page = await api(`/api/media/history?${query(cursor)}`);
  } catch (error) {
    showError(error.message);
    return;
  }
  current = cursor;
  nextCursor = page.pagination.next_cursor;
  const p = page.pagination;
  $("#counts").textContent =
    `${p.total} ${p.total === 1 ? "analysis" : "analyses"} · page ${p.page} of ${Math.max(p.total_pages, 1)}`;
  fill("#rows", page.data.length ? page.data.map((row) => el("tr", { "data-id": row.analysis_id },
    el("td", {}, el("a", { href: `/console/analyses/${encodeURIComponent(row.analysis_id)}` }, row.analysis_id.slice(0, 8))),
    el("td", {}, statusBadge(row.status)),
    el("td", {}, row.media_type),
    el("td", { class: "prompt-cell" }, row.prompt ?? ""),
    el("td", {}, `${row.progress}%`),
    el("td", {}, when(row.created_at)),
    el("td", {}, when(row.completed_at)))) : [el("tr", {}, el("td", { colspan: 7, class: "muted" }, "No analyses match."))]);
  $("#next").disabled = !nextCursor;
  $("#previous").disabled = cursors.length === 0;
  $("#history").dataset.loads = String(++loads); // tells a watcher a new answer is shown
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  cursors = [];
  load("");
});
$("#next").addEventListener("click", () => {
  cursors.push(current);
  load(nextCursor);
});
$("#previous").addEventListener("click", () => load(cursors.pop() ?? ""));
load("");
