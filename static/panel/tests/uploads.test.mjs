// uploads.js: what the panel checks before sending a file, and the upload itself (issue 23).

import assert from "node:assert/strict";
import { test } from "node:test";

import { acceptAttribute, fileProblem, uploadFile } from "../uploads.js";

const LIMITS = { upload_bytes: 1000, upload_types: ["png", "jpg", "pdf"] };
const file = (name, size) => ({ name, size });

test("a file is checked against the server's limits before it is sent", () => {
  assert.equal(fileProblem(file("photo.PNG", 10), LIMITS), null);
  assert.equal(fileProblem(file("photo.png", 1001), LIMITS), "too_large");
  assert.equal(fileProblem(file("setup.exe", 10), LIMITS), "type_not_allowed");
  assert.equal(fileProblem(file("png", 10), LIMITS), "type_not_allowed");
  assert.equal(fileProblem(file(".png", 10), LIMITS), "type_not_allowed");
  assert.equal(fileProblem(file("a.pdf", 0), LIMITS), "empty");
  assert.equal(fileProblem(file("a.pdf", 10), { upload_bytes: 1000, upload_types: [] }), "uploads_off");
  // Limits not known yet: the server decides.
  assert.equal(fileProblem(file("anything.bin", 10 ** 9), {}), null);
});

test("the file input offers the types the server takes", () => {
  assert.equal(acceptAttribute(LIMITS), ".png,.jpg,.pdf");
  assert.equal(acceptAttribute({}), "");
});

// A stand-in XMLHttpRequest: the test plays the network.
function fakeXhr() {
  class FakeXhr {
    static made = [];
    constructor() {
      this.headers = {};
      this.listeners = {};
      this.upload = { listeners: {}, addEventListener: (type, fn) => ((this.upload.listeners[type] ||= []).push(fn)) };
      FakeXhr.made.push(this);
    }
    open(method, url) {
      this.method = method;
      this.url = url;
    }
    setRequestHeader(name, value) {
      this.headers[name] = value;
    }
    addEventListener(type, fn) {
      (this.listeners[type] ||= []).push(fn);
    }
    emit(type, event = {}) {
      for (const fn of this.listeners[type] || []) fn(event);
    }
    send(body) {
      this.body = body;
    }
    abort() {
      this.emit("abort");
    }
    progress(loaded, total) {
      for (const fn of this.upload.listeners.progress || []) fn({ lengthComputable: true, loaded, total });
    }
    answer(status, body) {
      this.status = status;
      this.responseText = typeof body === "string" ? body : JSON.stringify(body);
      this.emit("load");
    }
  }
  return FakeXhr;
}

class FakeForm {
  constructor() {
    this.fields = [];
  }
  append(name, value, filename) {
    this.fields.push([name, value, filename]);
  }
}

function start(XMLHttpRequest, progress = []) {
  return uploadFile({
    XMLHttpRequest,
    FormData: FakeForm,
    url: "/api/rooms/12/files/",
    file: { name: "sizes.pdf", size: 10 },
    fields: { client_id: "c-1", body: undefined },
    csrfToken: "csrf-1",
    onProgress: (sent, total) => progress.push([sent, total]),
  });
}

test("an upload posts the form with the CSRF token, reports progress and resolves with the message", async () => {
  const Xhr = fakeXhr();
  const progress = [];
  const upload = start(Xhr, progress);
  const xhr = Xhr.made[0];
  assert.equal(xhr.method, "POST");
  assert.equal(xhr.url, "/api/rooms/12/files/");
  assert.equal(xhr.headers["X-CSRFToken"], "csrf-1");
  assert.deepEqual(
    xhr.body.fields.map(([name, , filename]) => [name, filename]),
    [
      ["client_id", undefined],
      ["file", "sizes.pdf"],
    ],
  );
  xhr.progress(5, 10);
  xhr.progress(10, 10);
  assert.deepEqual(progress, [
    [5, 10],
    [10, 10],
  ]);
  xhr.answer(201, { id: 7, room: 12, file: { name: "sizes.pdf" } });
  assert.equal((await upload.promise).id, 7);
});

test("a refusal rejects with the server's code, a cancel with 'cancelled', a lost connection with 'offline'", async () => {
  const Xhr = fakeXhr();
  const refused = start(Xhr);
  Xhr.made[0].answer(415, { error: { code: "type_not_allowed", detail: "not taken" } });
  await assert.rejects(refused.promise, { code: "type_not_allowed", detail: "not taken" });

  const cancelled = start(Xhr);
  cancelled.cancel();
  await assert.rejects(cancelled.promise, { code: "cancelled" });

  const lost = start(Xhr);
  Xhr.made[2].emit("error");
  await assert.rejects(lost.promise, { code: "offline" });

  const proxy = start(Xhr);
  Xhr.made[3].answer(413, "<html>413 Request Entity Too Large</html>");
  await assert.rejects(proxy.promise, { code: "too_large" });
});
