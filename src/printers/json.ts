import type { Table } from "./table.js";

/** Tables as JSON objects keyed by column name, for scripts. */
export function renderJson(tables: readonly Table[]): string {
  const rendered = tables.map((table) => ({
    title: table.title,
    rows: table.rows.map((row) => Object.fromEntries(table.head.map((name, column) => [name, row[column] ?? null]))),
    ...(table.notes?.length ? { notes: table.notes } : {}),
  }));
  return `${JSON.stringify(rendered, null, 2)}\n`;
}
