// Small SVG charts for the owners' reports (issue 25): grouped bars and lines over a row of
// labels (days), drawn with the DOM's own SVG elements: no library, no build step.
//
//   barChart(document, { labels, series: [{ name, values, className }] })   an <svg> element
//   lineChart(document, { labels, series })                                 the same, as lines
//
// A value of null is a gap (no bar, the line broken). Each bar and point carries a <title>
// ("2026-01-05, Conversations: 4"); the page's table is the accessible form of the numbers.
// `tick(label, i)` (optional) says what to write under slot i, or null for nothing: by default
// its label, for about a dozen slots spread along the bottom.

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 640;
const HEIGHT = 220;
const PAD = { top: 10, right: 10, bottom: 28, left: 44 };

// The top of the axis: the smallest 1, 2 or 5 times a power of ten at or above the largest value.
export function niceMax(max) {
  if (!(max > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 5, 10]) if (step * power >= max) return step * power;
  return 10 * power;
}

function el(doc, name, attrs = {}, text = null) {
  const node = doc.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== null) node.textContent = text;
  return node;
}

// The frame both charts share: the <svg>, its scale, the axis lines and labels.
function frame(doc, { labels, series, format = String, tick = null }) {
  const values = series.flatMap((s) => s.values).filter((v) => v !== null && v !== undefined);
  const top = niceMax(Math.max(0, ...values));
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const svg = el(doc, "svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: "chart", role: "img" });
  const y = (v) => PAD.top + plotH - (v / top) * plotH;
  for (const tick of [0, top / 2, top]) {
    svg.appendChild(el(doc, "line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(tick), y2: y(tick), class: "grid" }));
    svg.appendChild(el(doc, "text", { x: PAD.left - 6, y: y(tick) + 4, class: "tick", "text-anchor": "end" }, format(tick)));
  }
  const slot = labels.length ? plotW / labels.length : plotW;
  // At most about a dozen labels along the bottom, so they do not run into each other.
  const every = Math.max(1, Math.ceil(labels.length / 12));
  const under = tick || ((label, i) => (i % every ? null : label));
  labels.forEach((label, i) => {
    const text = under(label, i);
    if (text === null || text === undefined) return;
    const x = PAD.left + slot * (i + 0.5);
    svg.appendChild(el(doc, "text", { x, y: HEIGHT - 8, class: "tick", "text-anchor": "middle" }, text));
  });
  return { svg, y, slot, plotH, format };
}

export function barChart(doc, options) {
  const { labels, series } = options;
  const { svg, y, slot, format } = frame(doc, options);
  const width = (slot * 0.8) / Math.max(1, series.length);
  series.forEach((s, k) => {
    s.values.forEach((value, i) => {
      if (value === null || value === undefined) return;
      const x = PAD.left + slot * i + slot * 0.1 + width * k;
      const rect = el(doc, "rect", {
        x: x.toFixed(1),
        y: y(value).toFixed(1),
        width: width.toFixed(1),
        height: (y(0) - y(value)).toFixed(1),
        class: `chart-bar ${s.className || ""}`.trim(),
        "data-value": value,
      });
      rect.appendChild(el(doc, "title", {}, `${labels[i]}, ${s.name}: ${format(value)}`));
      svg.appendChild(rect);
    });
  });
  return svg;
}

export function lineChart(doc, options) {
  const { labels, series } = options;
  const { svg, y, slot, format } = frame(doc, options);
  // Many points (a week's hours) get small dots, so the line still shows between them.
  const radius = labels.length > 48 ? 1.5 : 3;
  series.forEach((s) => {
    let points = [];
    const flush = () => {
      if (points.length > 1) svg.appendChild(el(doc, "polyline", { points: points.join(" "), class: `line ${s.className || ""}`.trim() }));
      points = [];
    };
    s.values.forEach((value, i) => {
      if (value === null || value === undefined) return flush();
      const x = PAD.left + slot * (i + 0.5);
      points.push(`${x.toFixed(1)},${y(value).toFixed(1)}`);
      const dot = el(doc, "circle", { cx: x.toFixed(1), cy: y(value).toFixed(1), r: radius, class: `point ${s.className || ""}`.trim(), "data-value": value });
      dot.appendChild(el(doc, "title", {}, `${labels[i]}, ${s.name}: ${format(value)}`));
      svg.appendChild(dot);
    });
    flush();
  });
  return svg;
}
