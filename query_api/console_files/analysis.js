// One analysis: its status followed live, stages, pictures, timeline, transcript,
// answer, artifacts, the audit trail with "as of", and delete.
import {
  $, ApiError, api, artifactUrl, clock, el, fill, follow, setUpKey, showError, statusBadge, when,
} from "./api.js";

const id = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "");
const base = `/api/media/${encodeURIComponent(id)}`;
const SVG = "http://www.w3.org/2000/svg";
const PIPELINE = ["fetch", "probe", "frames", "contact_sheet", "ocr", "audio", "transcript", "document", "image", "answer"];

let stopFollowing = () => {};
let lastSeen = null; // status + updated_at of the last status drawn
let resultsDrawn = false;
let allEvents = [];
let stageEvents = [];

$("#analysis-id").textContent = id;
document.title = `Analysis ${id.slice(0, 8)} · Media Analysis console`;
setUpKey(start);
start();

function start() {
  stopFollowing();
  lastSeen = null;
  resultsDrawn = false;
  stopFollowing = follow(id, drawStatus, gone);
}

function gone(error) {
  if (error instanceof ApiError && error.status === 410) {
    $("#deleted").hidden = false;
    fill("#status", statusBadge("deleted"));
  }
  showError(error.message);
}

function drawStatus(status) {
  const seen = `${status.status} ${status.updated_at}`;
  if (seen === lastSeen) return;
  lastSeen = seen;
  showError("");
  $("#prompt").textContent = status.prompt ?? "";
  fill("#status", statusBadge(status.status));
  $("#progress").value = status.progress;
  $("#progress-text").textContent = `${status.progress}%`;
  const facts = [
    ["media type", status.media_type],
    ["source", status.source_url],
    ["file name", status.filename],
    ["submitted", when(status.created_at)],
    ["updated", when(status.updated_at)],
    ["finished", when(status.completed_at)],
  ];
  fill("#facts", facts.filter(([, v]) => v).flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  const failure = $("#failure");
  failure.hidden = !status.error_message;
  failure.textContent = status.error_message ?? "";
  if (status.status === "completed" || status.status === "failed") drawResults(status);
  loadEvents();
  drawStages(status.results?.stages);
}

function drawStages(stages) {
  let rows;
  if (stages && Object.keys(stages).length) {
    // In the order they ran (the progress events), else the pipeline's order.
    const ran = stageEvents.map((d) => d.stage);
    const rank = (name) => (ran.includes(name) ? ran.indexOf(name) : 100 + PIPELINE.indexOf(name));
    rows = Object.entries(stages).sort(([a], [b]) => rank(a) - rank(b)).map(([name, s]) => [
      name, s.status, `${s.duration_seconds.toFixed(2)} s`, s.reason ?? s.error?.message ?? "",
    ]);
  } else {
    rows = stageEvents.map((d) => [d.stage, d.stage_status, "—", d.detail ?? ""]);
  }
  fill("#stages tbody", rows.map(([name, state, duration, reason]) =>
    el("tr", { "data-stage": name },
      el("td", {}, name), el("td", {}, statusBadge(state)), el("td", {}, duration), el("td", {}, reason))));
}

function drawResults(status) {
  if (resultsDrawn) return;
  resultsDrawn = true;
  const results = status.results || {};
  const summary = status.result_summary;
  $("#answer-summary").textContent = summary?.summary || "No answer.";
  $("#answer-summary").classList.toggle("muted", !summary?.summary);
  fill("#answer-topics", (summary?.topics || []).map((t) => el("li", {}, t)));
  drawPictures(results);
  drawTimeline(results);
  drawTranscript(results.transcript);
  drawArtifacts(results.artifacts || []);
}

function showImage(img, path) {
  artifactUrl(path).then((url) => { img.src = url; }, (error) => showError(error.message));
}

function drawPictures(results) {
  const sheet = results.contact_sheet;
  const frames = results.frames?.frames || [];
  if (sheet?.artifact) {
    $("#contact-sheet-figure").hidden = false;
    $("#contact-sheet-caption").textContent =
      `${sheet.frames} frames, ${sheet.columns}×${sheet.rows}, at ${sheet.timestamps.map(clock).join(", ")}`;
    showImage($("#contact-sheet"), sheet.artifact.url);
  }
  fill("#frames", frames.map((frame) => {
    const img = el("img", { alt: `frame at ${clock(frame.timestamp)}`, class: "frame" });
    showImage(img, frame.artifact.url);
    return el("figure", {}, img, el("figcaption", {}, clock(frame.timestamp)));
  }));
  const thumbnail = results.image?.thumbnail;
  if (thumbnail?.url) {
    const img = el("img", { alt: "thumbnail", class: "frame" });
    showImage(img, thumbnail.url);
    $("#frames").append(el("figure", {}, img, el("figcaption", {}, "thumbnail")));
  }
  $("#pictures-none").hidden = Boolean(sheet?.artifact || frames.length || thumbnail?.url);
}

function svg(tag, attrs, title) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (title) {
    const t = document.createElementNS(SVG, "title");
    t.textContent = title;
    node.append(t);
  }
  return node;
}

function drawTimeline(results) {
  const audio = results.audio;
  const segments = results.transcript?.segments || [];
  const frames = results.frames?.frames || [];
  const duration = Number(results.probe?.duration) ||
    Math.max(0, ...segments.map((s) => s.end), ...(audio?.silences || []).map((s) => s.end));
  if (!duration) {
    fill("#timeline", el("p", { class: "muted" }, "Nothing with a duration."));
    return;
  }
  const width = 1000;
  const x = (t) => (Math.min(Math.max(t, 0), duration) / duration) * width;
  const chart = svg("svg", { viewBox: `0 0 ${width + 90} 104`, class: "timeline", role: "img" });
  const lane = (y, label) => {
    const text = svg("text", { x: width + 8, y: y + 13, class: "lane" });
    text.textContent = label;
    chart.append(text);
  };
  if (audio) {
    chart.append(svg("rect", { x: 0, y: 4, width, height: 18, class: "sound" }, "sound"));
    for (const s of audio.silences || []) {
      chart.append(svg("rect", { x: x(s.start), y: 4, width: Math.max(1, x(s.end) - x(s.start)), height: 18, class: "silence" },
        `silence ${clock(s.start)}–${clock(s.end)}`));
    }
    lane(4, "audio");
  }
  for (const s of segments) {
    chart.append(svg("rect", { x: x(s.start), y: 30, width: Math.max(1, x(s.end) - x(s.start)), height: 18, class: "speech" },
      `${clock(s.start)}–${clock(s.end)} ${s.text}`));
  }
  lane(30, "speech");
  for (const f of frames) {
    chart.append(svg("rect", { x: x(f.timestamp) - 1, y: 56, width: 3, height: 18, class: "frame-tick" }, `frame at ${clock(f.timestamp)}`));
  }
  lane(56, "frames");
  for (const t of [0, duration / 2, duration]) {
    const tick = svg("text", { x: Math.min(x(t), width - 30), y: 96, class: "axis" });
    tick.textContent = clock(t);
    chart.append(tick);
  }
  fill("#timeline", chart);
  const loud = audio?.loudness;
  $("#loudness").textContent = audio
    ? `Integrated loudness ${loud?.integrated_loudness_lufs ?? "—"} LUFS, true peak ${loud?.true_peak_dbtp ?? "—"} dBTP, ` +
      `${(audio.silences || []).length} silence(s), ${Number(audio.silence_seconds || 0).toFixed(1)} s silent.`
    : "No audio analysis.";
}

function drawTranscript(transcript) {
  if (!transcript) return;
  $("#transcript-meta").textContent =
    `${transcript.engine} (${transcript.model}), language ${transcript.language ?? "unknown"}, ${transcript.segments.length} segment(s)`;
  fill("#transcript", transcript.segments.map((s) =>
    el("li", {}, el("span", { class: "time" }, `${clock(s.start)}–${clock(s.end)}`), " ", s.text)));
}

function drawArtifacts(artifacts) {
  fill("#artifacts", artifacts.length ? artifacts.map((a) => {
    const button = el("button", { type: "button" }, "Download");
    button.addEventListener("click", async () => {
      try {
        const url = await artifactUrl(`${base}/artifacts/${encodeURIComponent(a.name)}`);
        const link = el("a", { href: url, download: a.name });
        document.body.append(link);
        link.click();
        link.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10_000);
      } catch (error) {
        showError(error.message);
      }
    });
    return el("li", {}, `${a.name} (${a.content_type}, ${a.size.toLocaleString("en")} bytes) `, button);
  }) : [el("li", { class: "muted" }, "None.")]);
}

// The audit trail: every event, and the state folded up to the chosen one.
async function loadEvents() {
  const slider = $("#as-of");
  const atLatest = Number(slider.value) >= Number(slider.max);
  let trail;
  try {
    trail = await api(`${base}/events`);
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 503)) showError(error.message);
    return;
  }
  allEvents = trail.events;
  stageEvents = allEvents.filter((e) => e.type.endsWith(".progressed")).map((e) => e.data);
  slider.max = String(Math.max(0, allEvents.length - 1));
  if (atLatest) slider.value = slider.max;
  drawEvents(Number(slider.value) >= allEvents.length - 1 ? trail : null);
  if (!resultsDrawn) drawStages(null);
}

function eventDetails(e) {
  const d = e.data || {};
  const type = e.type.split(".").pop();
  if (type === "requested") return `${d.media_type} ${d.media_url ?? ""}`;
  if (type === "started") return `processor ${d.processor}, attempt ${d.attempt}`;
  if (type === "progressed") return `${d.stage} ${d.stage_status} → ${d.progress}%${d.detail ? ` (${d.detail})` : ""}`;
  if (type === "completed") return `${Object.keys(d.results?.stages || {}).length} stages`;
  if (type === "failed") return `${d.error_code}: ${d.error_message}`;
  return "";
}

async function drawEvents(trail) {
  const index = Number($("#as-of").value);
  const chosen = allEvents[index];
  if (!chosen) return;
  $("#as-of-label").textContent = when(chosen.time);
  if (!trail) {
    try {
      trail = await api(`${base}/events?as_of=${encodeURIComponent(chosen.time)}`);
    } catch (error) {
      showError(error.message);
      return;
    }
  }
  const state = trail.state;
  $("#as-of-state").textContent =
    `As of event ${trail.events.length} of ${allEvents.length}: ${state.status}, ${state.progress}%`;
  fill("#events tbody", allEvents.map((e, i) => el("tr", { class: i <= index ? "" : "later" },
    el("td", {}, String(i + 1)),
    el("td", {}, when(e.time)),
    el("td", {}, e.type.split(".").pop()),
    el("td", {}, eventDetails(e)),
    el("td", {}, `${e.partition}/${e.offset}`))));
}

$("#as-of").addEventListener("input", () => drawEvents(null));

$("#delete").addEventListener("click", () => { $("#delete-confirm").hidden = false; });
$("#delete-no").addEventListener("click", () => { $("#delete-confirm").hidden = true; });
$("#delete-yes").addEventListener("click", async () => {
  try {
    await api(base, { method: "DELETE" });
  } catch (error) {
    showError(error.message);
    return;
  }
  stopFollowing();
  $("#delete-confirm").hidden = true;
  $("#delete").disabled = true;
  $("#deleted").hidden = false;
  fill("#status", statusBadge("deleted"));
});
