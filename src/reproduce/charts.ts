/**
 * The report's figures as SVG, drawn by Vega-Lite specifications rendered in Node (vega's headless view: no
 * browser, no canvas; text widths are estimated).
 */
import { compile, type TopLevelSpec } from "vega-lite";
import { parse, View } from "vega";

async function render(spec: TopLevelSpec): Promise<string> {
  const view = new View(parse(compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export interface HeatCell {
  panel: string;
  length: string;
  depth: string;
  accuracy: number;
}

/** Passkey accuracy by length (x) and depth (y), one panel per policy and cache. */
export function accuracyHeatMap(title: string, cells: readonly HeatCell[], lengths: readonly string[], depths: readonly string[]): Promise<string> {
  return render({
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: { text: title, anchor: "start" },
    data: { values: cells as HeatCell[] },
    facet: { field: "panel", type: "nominal", title: null, sort: [...new Set(cells.map((cell) => cell.panel))], header: { labelFontSize: 12, labelLimit: 360 } },
    columns: 3,
    spec: {
      width: Math.max(120, 40 * lengths.length),
      height: Math.max(100, 28 * depths.length),
      layer: [
        {
          mark: "rect",
          encoding: {
            x: { field: "length", type: "ordinal", sort: [...lengths], title: "haystack length (tokens)" },
            y: { field: "depth", type: "ordinal", sort: [...depths].reverse(), title: "key depth bin" },
            color: { field: "accuracy", type: "quantitative", scale: { domain: [0, 100], scheme: "viridis" }, title: "accuracy %" },
          },
        },
        {
          mark: { type: "text", fontSize: 11 },
          encoding: {
            x: { field: "length", type: "ordinal", sort: [...lengths] },
            y: { field: "depth", type: "ordinal", sort: [...depths].reverse() },
            text: { field: "accuracy", type: "quantitative", format: ".0f" },
            color: { condition: { test: "datum.accuracy > 60", value: "black" }, value: "white" },
          },
        },
      ],
    },
  });
}

export interface CurvePoint {
  series: string;
  position: number;
  perplexity: number;
}

/** Perplexity (log scale) against the position in the book, one line per policy and cache. */
export function perplexityCurves(title: string, points: readonly CurvePoint[]): Promise<string> {
  return render({
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: { text: title, anchor: "start" },
    width: 640,
    height: 320,
    data: { values: points as CurvePoint[] },
    mark: { type: "line", strokeWidth: 1.5 },
    encoding: {
      x: { field: "position", type: "quantitative", title: "position in the book (tokens)" },
      y: { field: "perplexity", type: "quantitative", scale: { type: "log", nice: false, padding: 8 }, title: "perplexity (log scale)" },
      color: { field: "series", type: "nominal", title: "policy · cache", legend: { orient: "bottom", columns: 2, labelLimit: 400 } },
      strokeDash: { field: "series", type: "nominal", title: "policy · cache" },
    },
  });
}
