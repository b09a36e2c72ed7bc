// The demo shop's cookie banner, such as it is: accepting tells the snippet it may store its
// visitor's token and connect (its consent mode, docs/embedding.md).
window.WhitePanel = window.WhitePanel || { q: [] };
window.WhitePanel.consent = window.WhitePanel.consent || ((...args) => window.WhitePanel.q.push(["consent", args]));

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("consent-accept").addEventListener("click", () => WhitePanel.consent(true));
});
