// charts.js: the bars and lines of the owners' reports, drawn into a stand-in document.

import assert from "node:assert/strict";
import { test } from "node:test";

import { barChart, lineChart, niceMax } from "../charts.js";

// Just enough of the DOM's SVG elements: names, attributes, children, text.
const doc = {
  createElementNS(ns, name) {
    return {
      ns,
      name,
      attrs: {},
      children: [],
      textContent: "",
      setAttribute(key, value) {
        this.attrs[key] = value;
      },
      appendChild(child) {
        this.children.push(child);
        return child;
      },
    };
  },
};

const all = (node, name) => node.children.filter((child) => child.name === name);

test("the axis ends at a round number at or above the largest value", () => {
  assert.equal(niceMax(0), 1);
  assert.equal(niceMax(4), 5);
  assert.equal(niceMax(7), 10);
  assert.equal(niceMax(10), 10);
  assert.equal(niceMax(130), 200);
  assert.equal(niceMax(0.3), 0.5);
});

test("a bar a day and a series, as tall as its value, with its numbers in its title", () => {
  const svg = barChart(doc, {
    labels: ["2026-01-05", "2026-01-06", "2026-01-07"],
    series: [
      { name: "Conversations", values: [4, 2, 0], className: "conversations" },
      { name: "Missed", values: [1, 1, null], className: "missed" },
    ],
  });
  assert.equal(svg.ns, "http://www.w3.org/2000/svg");
  assert.equal(svg.attrs.role, "img");
  const bars = all(svg, "rect");
  assert.equal(bars.length, 5); // the null is no bar
  assert.deepEqual(bars.map((bar) => bar.attrs["data-value"]), ["4", "2", "0", "1", "1"]);
  // The axis goes to 5: 4 is four fifths of the 182-pixel plot, 2 is half of that.
  assert.equal(bars[0].attrs.height, (182 * 0.8).toFixed(1));
  assert.equal(Number(bars[1].attrs.height) * 2, Number(bars[0].attrs.height));
  assert.equal(bars[2].attrs.height, "0.0");
  assert.equal(bars[3].attrs.class, "chart-bar missed");
  assert.equal(all(bars[0], "title")[0].textContent, "2026-01-05, Conversations: 4");
  const ticks = all(svg, "text").map((text) => text.textContent);
  assert.deepEqual(ticks, ["0", "2.5", "5", "2026-01-05", "2026-01-06", "2026-01-07"]);
});

test("a line breaks where a day has no value", () => {
  const svg = lineChart(doc, {
    labels: ["a", "b", "c", "d", "e"],
    series: [{ name: "Median", values: [10, 20, null, 5, 6] }],
    format: (v) => `${v} s`,
  });
  const lines = all(svg, "polyline");
  assert.equal(lines.length, 2);
  assert.equal(lines[0].attrs.points.split(" ").length, 2);
  assert.equal(all(svg, "circle").length, 4);
  assert.equal(all(all(svg, "circle")[1], "title")[0].textContent, "b, Median: 20 s");
});

test("many days: about a dozen labels along the bottom", () => {
  const labels = Array.from({ length: 31 }, (_, i) => `d${i + 1}`);
  const svg = barChart(doc, { labels, series: [{ name: "n", values: labels.map(() => 1) }] });
  const bottom = all(svg, "text").filter((text) => text.attrs["text-anchor"] === "middle");
  assert.deepEqual(bottom.map((text) => text.textContent), ["d1", "d4", "d7", "d10", "d13", "d16", "d19", "d22", "d25", "d28", "d31"]);
});

test("a chart of hours writes what the page says under the slots it picks", () => {
  const labels = ["2026-01-05 00:00", "2026-01-05 01:00", "2026-01-06 00:00", "2026-01-06 01:00"];
  const svg = lineChart(doc, {
    labels,
    series: [{ name: "Visitors online", values: [3, null, 0, 2] }],
    tick: (label) => (label.endsWith(" 00:00") ? label.slice(0, 10) : null),
  });
  const bottom = all(svg, "text").filter((text) => text.attrs["text-anchor"] === "middle");
  assert.deepEqual(bottom.map((text) => text.textContent), ["2026-01-05", "2026-01-06"]);
  // The points keep their whole label; the hour no count was taken breaks the line.
  assert.equal(all(all(svg, "circle")[1], "title")[0].textContent, "2026-01-06 00:00, Visitors online: 0");
  assert.equal(all(svg, "polyline").length, 1);
});

test("a week of hours gets small dots", () => {
  const labels = Array.from({ length: 168 }, (_, i) => `h${i}`);
  const svg = lineChart(doc, { labels, series: [{ name: "n", values: labels.map(() => 1) }] });
  assert.equal(all(svg, "circle")[0].attrs.r, "1.5");
  const few = lineChart(doc, { labels: ["a", "b"], series: [{ name: "n", values: [1, 2] }] });
  assert.equal(all(few, "circle")[0].attrs.r, "3");
});
