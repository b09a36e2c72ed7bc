// The owners' reports page (issue 25, templates/chat/reports.html): asks the API for a site's
// report and draws it as charts (charts.js), totals and a table; the CSV link follows the form.

import { barChart, lineChart } from "./charts.js";
import { t } from "./i18n.js";

const form = document.getElementById("report-form");
const siteSelect = document.getElementById("report-site");
const operatorSelect = document.getElementById("report-operator");
const status = document.getElementById("report-status");
const csvLink = document.getElementById("report-csv");
const table = document.getElementById("report-table");

function query() {
  const params = new URLSearchParams({ from: form.elements.from.value, to: form.elements.to.value });
  if (operatorSelect.value) params.set("operator", operatorSelect.value);
  return params.toString();
}

// Only the chosen site's operators are offered.
function filterOperators() {
  for (const option of operatorSelect.options) {
    if (!option.value) continue;
    option.hidden = !option.dataset.sites.split(" ").includes(siteSelect.value);
  }
  if (operatorSelect.selectedOptions[0]?.hidden) operatorSelect.value = "";
}

function updateLink() {
  csvLink.href = `/api/sites/${siteSelect.value}/reports.csv?${query()}`;
}

const shown = (value) => (value === null || value === undefined ? "–" : String(value));

function draw(container, svg, captionId) {
  svg.setAttribute("aria-labelledby", captionId);
  container.replaceChildren(svg);
}

// Visitors online: a short range's hours (ticks at midnight, or every third hour of a single
// day), a longer one's daily peaks. The site's, also in an operator's report.
function onlineChart(report) {
  const hours = report.online_hourly;
  const name = t("Visitors online");
  if (!hours.length) {
    const values = report.days.map((day) => day.online_peak);
    return lineChart(document, { labels: report.days.map((day) => day.date), series: [{ name, values, className: "online" }] });
  }
  const labels = hours.map((hour) => `${hour.at.slice(0, 10)} ${hour.at.slice(11, 16)}`);
  const oneDay = report.days.length === 1;
  const tick = (label, i) => {
    const time = label.slice(11);
    if (oneDay) return i % 3 ? null : time;
    return time === "00:00" ? label.slice(0, 10) : null;
  };
  return lineChart(document, { labels, tick, series: [{ name, values: hours.map((hour) => hour.visitors), className: "online" }] });
}

function render(report) {
  const labels = report.days.map((day) => day.date);
  const column = (key) => report.days.map((day) => day[key]);
  draw(document.getElementById("chart-online"), onlineChart(report), "chart-online-caption");
  draw(
    document.getElementById("chart-conversations"),
    barChart(document, {
      labels,
      series: [
        { name: t("Conversations"), values: column("conversations"), className: "conversations" },
        { name: t("Missed"), values: column("missed"), className: "missed" },
      ],
    }),
    "chart-conversations-caption",
  );
  draw(
    document.getElementById("chart-times"),
    lineChart(document, {
      labels,
      series: [
        { name: t("Time to accept"), values: column("accept_p50"), className: "accept" },
        { name: t("First response"), values: column("first_response_p50"), className: "response" },
      ],
    }),
    "chart-times-caption",
  );
  const stars = ["1", "2", "3", "4", "5"];
  draw(
    document.getElementById("chart-ratings"),
    barChart(document, {
      labels: stars.map((n) => "★".repeat(Number(n))),
      series: [{ name: t("Conversations"), values: stars.map((n) => report.ratings[n]), className: "ratings" }],
    }),
    "chart-ratings-caption",
  );
  for (const cell of document.querySelectorAll("[data-total]")) cell.textContent = shown(report.totals[cell.dataset.total]);
  const keys = ["conversations", "accepted", "missed", "accept_p50", "accept_p95", "first_response_p50", "first_response_p95", "length_p50", "ratings", "rating_avg", "online_peak", "online_avg"];
  const row = (head, numbers) => {
    const tr = document.createElement("tr");
    const th = document.createElement("th");
    th.scope = "row";
    th.textContent = head;
    tr.append(th);
    for (const key of keys) {
      const td = document.createElement("td");
      td.textContent = shown(numbers[key]);
      tr.append(td);
    }
    return tr;
  };
  table.tBodies[0].replaceChildren(...report.days.map((day) => row(day.date, day)));
  table.tFoot.replaceChildren(row(t("Total"), report.totals));
  document.getElementById("report-zone").textContent = t("Time zone: {zone}", { zone: report.timezone });
}

async function load() {
  updateLink();
  status.textContent = t("Loading…");
  try {
    const response = await fetch(`/api/sites/${siteSelect.value}/reports/?${query()}`, { headers: { Accept: "application/json" } });
    const body = await response.json();
    if (!response.ok) throw new Error(body?.error?.detail || response.statusText);
    render(body);
    status.textContent = "";
  } catch (error) {
    status.textContent = t("The report could not be loaded: {detail}", { detail: error.message });
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  load();
});
siteSelect.addEventListener("change", filterOperators);
form.addEventListener("change", updateLink);
filterOperators();
load();
