import { stringify } from "csv-stringify/sync";
import type { Table } from "./table.js";

/** One CSV for all tables: a `table` column names the table each row belongs to; numbers stay unrounded. */
export function renderCsv(tables: readonly Table[]): string {
  const widest = Math.max(0, ...tables.map((table) => table.head.length));
  const records: (string | number | null)[][] = [];
  for (const table of tables) {
    records.push(["table", ...padded(table.head, widest)]);
    for (const row of table.rows) records.push([table.title, ...padded(row, widest)]);
  }
  return stringify(records, { cast: { number: (value) => String(value) } });
}

function padded<T>(cells: readonly T[], width: number): (T | null)[] {
  return [...cells, ...new Array<null>(width - cells.length).fill(null)];
}
