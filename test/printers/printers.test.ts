import assert from "node:assert/strict";
import { test } from "node:test";
import { render } from "../../src/printers/index.js";
import { formatCell, formatRow, type Table } from "../../src/printers/table.js";

const tables: Table[] = [
  { title: "accuracy — full", head: ["length", "cache", "d≤0.5", "avg"], rows: [["4K", "full cache", 100, 87.5], ["32K", "a|b", null, 12.25]], notes: ["a note"] },
  { title: "by length", head: ["policy", "4K"], rows: [["full", 93.75]] },
];

test("terminal tables align columns and right-align numbers", () => {
  const lines = render(tables, "terminal").split("\n");
  assert.equal(lines[0], "accuracy — full");
  assert.equal(lines[1], "length  cache       d≤0.5   avg");
  assert.equal(lines[3], "4K      full cache    100  87.5");
  assert.equal(lines[4], "32K     a|b             –  12.3");
  assert.equal(lines[5], "  a note");
});

test("markdown tables escape pipes, right-align numeric columns and list notes", () => {
  const text = render(tables, "markdown");
  assert.match(text, /^### accuracy — full\n\n\| length \| cache \| d≤0\.5 \| avg \|\n\| --- \| --- \| ---: \| ---: \|\n\| 4K \| full cache \| 100 \| 87\.5 \|\n\| 32K \| a\\\|b \| – \| 12\.3 \|\n\n- a note\n/);
});

test("CSV is one rectangular table: a table column, the union of the columns, full precision, empty cells for missing values", () => {
  const lines = render(tables, "csv").trim().split("\n");
  assert.deepEqual(lines, [
    "table,length,cache,d≤0.5,avg,policy,4K",
    "accuracy — full,4K,full cache,100,87.5,,",
    "accuracy — full,32K,a|b,,12.25,,",
    "by length,,,,,full,93.75",
  ]);
});

test("JSON rows are keyed by column name", () => {
  const parsed = JSON.parse(render(tables, "json")) as { title: string; rows: Record<string, unknown>[]; notes?: string[] }[];
  assert.equal(parsed.length, 2);
  assert.deepEqual(parsed[0]!.rows[1], { length: "32K", cache: "a|b", "d≤0.5": null, avg: 12.25 });
  assert.deepEqual(parsed[0]!.notes, ["a note"]);
});

test("table cells round to one decimal and drop a decimal that rounds to 0", () => {
  assert.deepEqual(
    [100, 35, 39.75, 39.8, 10.999999999999998, 11.04, 0.05, null, "4K"].map((cell) => formatCell(cell)),
    ["100", "35", "39.8", "39.8", "11", "11", "0.1", "–", "4K"],
  );
});

test("a table can ask for more decimals per column; CSV keeps full precision regardless", () => {
  const table: Table = { title: "t", head: ["policy", "perplexity"], rows: [["a", 60.441], ["b", 60.4849], ["c", 59.999]], decimals: [undefined, 2] };
  assert.deepEqual(formatRow(table, table.rows[0]!), ["a", "60.44"]);
  assert.match(render([table], "terminal"), /60\.48\n.*60\n?$/s);
  assert.match(render([table], "markdown"), /\| a \| 60\.44 \|/);
  assert.match(render([table], "csv"), /b,60\.4849/);
});
