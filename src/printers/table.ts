/** A printer-neutral table: every output format (terminal, markdown, CSV, JSON) renders this. */
export type Cell = string | number | null;

export interface Table {
  title: string;
  head: string[];
  rows: Cell[][];
  /** Lines printed under the table (deviations, skipped items). */
  notes?: string[];
  /** Decimals shown per column by the terminal and markdown printers (default 1); CSV and JSON keep full values. */
  decimals?: (number | undefined)[];
}

export const OUTPUT_FORMATS = ["terminal", "markdown", "csv", "json"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/**
 * Numbers rounded to `decimals` places (default one), shown as an integer when the rounded value is one
 * (10.999 is "11"); missing cells as "–".
 */
export function formatCell(cell: Cell, decimals = 1): string {
  if (cell === null) return "–";
  if (typeof cell === "number") {
    const scale = 10 ** decimals;
    const rounded = Math.round(cell * scale) / scale;
    return Number.isInteger(rounded) ? String(rounded) : rounded.toFixed(decimals);
  }
  return cell;
}

/** A row's cells as text, with the table's per-column decimals. */
export function formatRow(table: Table, row: readonly Cell[]): string[] {
  return row.map((cell, column) => formatCell(cell, table.decimals?.[column]));
}
