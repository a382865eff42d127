// Submit: POST /api/media/analyze from the form, then open the new analysis.
import { $, ApiError, api, el, fill, setUpKey, showError } from "./api.js";

setUpKey(() => showError("Key saved; submit again."));

$("#submit-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  showError("");
  fill("#field-errors");
  const form = event.currentTarget;
  const data = new FormData(form);
  const body = {
    prompt: data.get("prompt"),
    media_url: data.get("media_url"),
    media_type: data.get("media_type"),
    options: {
      extract_frames: data.has("extract_frames"),
      generate_contact_sheet: data.has("generate_contact_sheet"),
      transcribe_audio: data.has("transcribe_audio"),
    },
  };
  if (data.get("filename")) body.filename = data.get("filename");
  const config = String(data.get("config") || "").trim();
  if (config) {
    try {
      body.config = JSON.parse(config);
    } catch (error) {
      showError(`Config is not valid JSON: ${error.message}`);
      return;
    }
  }
  $("#submit").disabled = true;
  try {
    const accepted = await api("/api/media/analyze", { method: "POST", body });
    location.assign(`/console/analyses/${encodeURIComponent(accepted.analysis_id)}`);
  } catch (error) {
    showError(error.message);
    if (error instanceof ApiError && Array.isArray(error.body.errors)) {
      fill("#field-errors", error.body.errors.map((e) => el("li", {}, `${e.field}: ${e.message}`)));
    }
    $("#submit").disabled = false;
  }
});
