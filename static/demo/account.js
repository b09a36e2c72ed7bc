// The demo shop's account page: the snippet's JavaScript API (docs/snippet.md).
// The stub first: calls made before the snippet has loaded wait in its queue.
window.WhitePanel = window.WhitePanel || { q: [] };
["open", "close", "identify", "setAttributes", "track", "on", "consent"].forEach((method) => {
  window.WhitePanel[method] = window.WhitePanel[method] || ((...args) => window.WhitePanel.q.push([method, args]));
});

document.addEventListener("DOMContentLoaded", () => {
  const demo = document.getElementById("api-demo");
  const log = document.getElementById("api-log");
  const say = (text) => {
    const line = document.createElement("li");
    line.textContent = text;
    log.append(line);
  };
  // Made before the snippet is there: queued, then run by it in order.
  WhitePanel.on("ready", (detail) => say("ready: " + (detail.online ? "someone is online" : "nobody online")));
  WhitePanel.on("online", (online) => say("online: " + online));
  WhitePanel.on("room", (room) => say("room: " + (room ? room.status : "none")));
  WhitePanel.on("message", (message) => say("message from " + message.sender + ": " + message.body));
  WhitePanel.track("viewed_account");

  document.getElementById("api-open").addEventListener("click", () => WhitePanel.open());
  document.getElementById("api-close").addEventListener("click", () => WhitePanel.close());
  document.getElementById("api-identify").addEventListener("click", () => WhitePanel.identify({
    id: demo.dataset.customerId, name: demo.dataset.customerName, email: demo.dataset.customerEmail,
    hash: demo.dataset.customerHash,
  }));
  document.getElementById("api-attributes").addEventListener("click", () => WhitePanel.setAttributes({
    plan: "Summit Club", cart_total: 89, newsletter: true,
  }));
  document.getElementById("api-track").addEventListener("click", () => WhitePanel.track("viewed orders"));
});
