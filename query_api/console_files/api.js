// What every console page shares: calls to the JSON API with the API key the
// user typed (sessionStorage of this tab only; never in a URL, never logged),
// safe element building (text is always text), formatting, and following an
// analysis while it runs.

const KEY_NAME = "media-analysis-api-key";
const TERMINAL = new Set(["completed", "failed", "deleted"]);

export class ApiError extends Error {
  constructor(status, detail, body) {
    super(detail);
    this.status = status;
    this.body = body;
  }
}

let retryAfterKey = null;

/** One call to the API; JSON back, or the Response itself with `raw`. */
export async function api(path, { method = "GET", body, raw = false } = {}) {
  const headers = new Headers({ Accept: "application/json" });
  const key = sessionStorage.getItem(KEY_NAME);
  if (key) headers.set("X-API-Key", key);
  if (body !== undefined) headers.set("Content-Type", "application/json");
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
    credentials: "omit",
  });
  if (!response.ok) {
    let problem = {};
    try {
      problem = await response.json();
    } catch {
      problem = { detail: response.statusText };
    }
    const detail = problem.detail || `HTTP ${response.status}`;
    if (response.status === 401) askForKey(key ? "That API key was not accepted." : detail);
    throw new ApiError(response.status, detail, problem);
  }
  if (raw) return response;
  return response.status === 204 ? null : response.json();
}

/** An element with attributes and children; strings become text nodes, never markup. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function $(selector) {
  return document.querySelector(selector);
}

export function fill(target, ...children) {
  const node = typeof target === "string" ? $(target) : target;
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
  return node;
}

export function showError(message) {
  const box = $("#error");
  box.textContent = message || "";
  box.hidden = !message;
}

export function when(iso) {
  if (!iso) return "—";
  const moment = new Date(iso);
  return Number.isNaN(moment.getTime()) ? String(iso) : moment.toISOString().replace("T", " ").slice(0, 19) + " UTC";
}

export function clock(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const m = Math.floor(seconds / 60);
  const s = seconds - m * 60;
  return `${m}:${s.toFixed(1).padStart(4, "0")}`;
}

export function statusBadge(status) {
  return el("span", { class: `badge status-${status}`, "data-status": status }, status);
}

/** Bytes of an artifact (fetched with the key), as an object URL for an <img> or a link. */
export async function artifactUrl(path) {
  const response = await api(path, { raw: true });
  return URL.createObjectURL(await response.blob());
}

/**
 * Calls `onStatus` with the analysis's status body as it changes, until it is
 * terminal; returns a function that stops following. Reads the server-sent
 * stream `GET /api/media/{id}/stream` with fetch(), because an EventSource
 * cannot send the key header; reconnects with Last-Event-ID after a drop.
 */
export function follow(analysisId, onStatus, onError) {
  const abort = new AbortController();
  const path = `/api/media/${encodeURIComponent(analysisId)}/stream`;
  let lastId = null;
  let done = false;

  const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  function dispatch(block) {
    let id = null;
    const data = [];
    for (const line of block.split("\n")) {
      if (!line || line.startsWith(":")) continue; // a comment: the heartbeat
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "data") data.push(value);
      else if (field === "id") id = value;
    }
    if (id !== null) lastId = id;
    if (!data.length) return;
    const status = JSON.parse(data.join("\n"));
    if (TERMINAL.has(status.status)) done = true;
    onStatus(status);
  }

  async function read(response) {
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let pending = "";
    let carry = ""; // a CR at a chunk's end may be the first half of CRLF
    for (;;) {
      const { value, done: ended } = await reader.read();
      if (ended) return;
      let text = carry + value;
      carry = text.endsWith("\r") ? "\r" : "";
      if (carry) text = text.slice(0, -1);
      pending += text.replace(/\r\n?/g, "\n");
      const blocks = pending.split("\n\n");
      pending = blocks.pop();
      blocks.forEach(dispatch);
    }
  }

  async function run() {
    let failures = 0;
    while (!done && !abort.signal.aborted) {
      const headers = new Headers({ Accept: "text/event-stream" });
      const key = sessionStorage.getItem(KEY_NAME);
      if (key) headers.set("X-API-Key", key);
      if (lastId) headers.set("Last-Event-ID", lastId);
      try {
        const response = await fetch(path, { headers, signal: abort.signal, cache: "no-store", credentials: "omit" });
        if (response.status === 204) return; // its final state was the last one read
        if (response.status === 503) {
          // "cannot tell yet" while the projection catches up, or too many streams
          await pause(1000 * (Number(response.headers.get("Retry-After")) || 1));
          continue;
        }
        if (!response.ok) {
          let problem = {};
          try { problem = await response.json(); } catch { problem = {}; }
          const detail = problem.detail || `HTTP ${response.status}`;
          if (response.status === 401) askForKey(key ? "That API key was not accepted." : detail);
          onError(new ApiError(response.status, detail, problem));
          return;
        }
        failures = 0;
        await read(response);
      } catch (error) {
        if (abort.signal.aborted) return;
        failures += 1; // the connection dropped: resume where it stopped
      }
      if (!done) await pause(Math.min(5000, 250 * 2 ** failures));
    }
  }

  run();
  return () => abort.abort();
}

function askForKey(message) {
  const form = $("#key-form");
  if (!form) return;
  $("#key-message").textContent = message;
  form.hidden = false;
  $("#key-input").focus();
}

/** The key form and the "forget key" button of the page header. */
export function setUpKey(onKey) {
  retryAfterKey = onKey || null;
  const form = $("#key-form");
  const forget = $("#key-forget");
  const state = $("#key-state");
  const refresh = () => {
    const has = Boolean(sessionStorage.getItem(KEY_NAME));
    state.textContent = has ? "API key set for this tab" : "";
    forget.hidden = !has;
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("#key-input").value.trim();
    if (!value) return;
    sessionStorage.setItem(KEY_NAME, value);
    $("#key-input").value = "";
    form.hidden = true;
    showError("");
    refresh();
    if (retryAfterKey) retryAfterKey();
  });
  forget.addEventListener("click", () => {
    sessionStorage.removeItem(KEY_NAME);
    refresh();
    askForKey("Key forgotten. Enter a key to go on.");
  });
  refresh();
}
