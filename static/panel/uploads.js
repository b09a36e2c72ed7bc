// Files in messages (issue 23): what the panel checks before sending one, and the upload itself
// (XHR, for its progress events; fetch has none for a request body). No DOM here, so Node's
// test runner drives it with a stand-in XMLHttpRequest.

// Why a file cannot be sent, before anything leaves the browser: null, "uploads_off",
// "too_large", "type_not_allowed" or "empty". The server checks again, and decides what an
// image is (it decodes it); `limits` are the snapshot's.
export function fileProblem(file, limits) {
  const types = Array.isArray(limits.upload_types) ? limits.upload_types : null;
  if (types && types.length === 0) return "uploads_off";
  if (!file || typeof file.size !== "number") return "empty";
  if (file.size === 0) return "empty";
  if (limits.upload_bytes && file.size > limits.upload_bytes) return "too_large";
  if (types) {
    const name = String(file.name || "");
    const dot = name.lastIndexOf(".");
    const extension = dot > 0 ? name.slice(dot + 1).toLowerCase() : "";
    if (!types.includes(extension)) return "type_not_allowed";
  }
  return null;
}

// The file input's `accept`: the extensions the server takes (".png,.pdf"), "" when unknown.
export function acceptAttribute(limits) {
  const types = Array.isArray(limits.upload_types) ? limits.upload_types : [];
  return types.map((type) => "." + type).join(",");
}

// Upload one file as a message of the room: POST multipart to `url` with `fields` (client_id,
// body) and the file, the session's CSRF token in its header. Returns {promise, cancel}: the
// promise resolves with the stored message, or rejects with {code, detail} (the server's error
// body, or "cancelled", "offline", "server_error"); onProgress(sent, total) as it goes.
export function uploadFile({ XMLHttpRequest, FormData, url, file, fields = {}, csrfToken = "", onProgress = () => {} }) {
  const xhr = new XMLHttpRequest();
  let cancelled = false;
  const promise = new Promise((resolve, reject) => {
    const form = new FormData();
    for (const [name, value] of Object.entries(fields)) if (value !== undefined && value !== null) form.append(name, String(value));
    form.append("file", file, file.name);
    xhr.open("POST", url);
    xhr.responseType = "text";
    xhr.setRequestHeader("Accept", "application/json");
    if (csrfToken) xhr.setRequestHeader("X-CSRFToken", csrfToken);
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded, event.total);
    });
    xhr.addEventListener("load", () => {
      let answer = null;
      try {
        answer = JSON.parse(xhr.responseText);
      } catch {
        answer = null;
      }
      if (xhr.status >= 200 && xhr.status < 300 && answer && typeof answer.id === "number") resolve(answer);
      else if (answer && answer.error && typeof answer.error.code === "string") reject({ code: answer.error.code, detail: String(answer.error.detail || "") });
      else reject({ code: xhr.status === 413 ? "too_large" : "server_error", detail: "" });
    });
    xhr.addEventListener("error", () => reject({ code: "offline", detail: "" }));
    xhr.addEventListener("abort", () => reject({ code: cancelled ? "cancelled" : "offline", detail: "" }));
    xhr.send(form);
  });
  return {
    promise,
    cancel() {
      cancelled = true;
      xhr.abort();
    },
  };
}

// What the operator reads when a file was not sent.
export const UPLOAD_ERROR_TEXT = {
  uploads_off: "This server takes no files.",
  too_large: "That file is too large.",
  type_not_allowed: "Files of that type are not taken.",
  empty: "That file is empty.",
  expired: "The chat has ended.",
  not_allowed: "You may not send files in this chat.",
  not_found: "That chat no longer exists.",
  rate_limited: "Too many files lately — try again in a minute.",
  offline: "The connection failed.",
  unavailable: "The server is busy — please try again.",
  server_error: "Something went wrong on the server.",
};
