import { stringify } from "csv-stringify/sync";
import type { Table } from "./table.js";

/**
 * All tables as one CSV table: a `table` column names the table a row belongs to, then the union of the tables'
 * columns in the order they first appear, each row's values under its own columns and empty elsewhere, so that
 * the file loads as one rectangular table. Numbers stay unrounded.
 */
export function renderCsv(tables: readonly Table[]): string {
  const columns: string[] = [];
  for (const table of tables) for (const name of table.head) if (!columns.includes(name)) columns.push(name);
  const records: (string | number | null)[][] = [["table", ...columns]];
  for (const table of tables) {
    const at = table.head.map((name) => columns.indexOf(name));
    for (const row of table.rows) {
      const cells = new Array<string | number | null>(columns.length).fill(null);
      row.forEach((cell, index) => (cells[at[index]!] = cell));
      records.push([table.title, ...cells]);
    }
  }
  return stringify(records, { cast: { number: (value) => String(value) } });
}
