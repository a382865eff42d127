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
 * Calls `onStatus` with the analysis's status body until it is terminal; returns
 * a function that stops following. A short poll of the status endpoint: the one
 * place to swap for the server-sent stream (`/api/media/{id}/stream`, read with
 * fetch() because EventSource cannot send the key header) once it is served.
 */
export function follow(analysisId, onStatus, onError, intervalMs = 700) {
  let stopped = false;
  let timer = null;
  const path = `/api/media/status/${encodeURIComponent(analysisId)}`;
  async function tick() {
    if (stopped) return;
    try {
      const status = await api(path);
      onStatus(status);
      if (TERMINAL.has(status.status)) return;
    } catch (error) {
      // 503 "cannot tell yet" while the projection catches up: ask again.
      if (!(error instanceof ApiError && error.status === 503)) {
        onError(error);
        return;
      }
    }
    timer = setTimeout(tick, intervalMs);
  }
  tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
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
