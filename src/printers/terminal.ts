import { formatRow, type Table } from "./table.js";

/** Plain aligned text with a rule under the header; numbers right-aligned. */
export function renderTerminal(tables: readonly Table[]): string {
  return tables.map(renderOne).join("\n");
}

function renderOne(table: Table): string {
  const cells = [table.head, ...table.rows.map((row) => formatRow(table, row))];
  const widths = table.head.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? "").length)));
  const numeric = table.head.map((_, column) => table.rows.every((row) => typeof row[column] !== "string"));
  const line = (row: string[]) =>
    row.map((cell, column) => (numeric[column] ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!))).join("  ").trimEnd();
  const rule = widths.map((width) => "─".repeat(width)).join("  ");
  const notes = (table.notes ?? []).map((note) => `  ${note}`);
  return [table.title, line(cells[0]!), rule, ...cells.slice(1).map(line), ...notes, ""].join("\n");
}
