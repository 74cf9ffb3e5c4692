/** A printer-neutral table: every output format (terminal, markdown, CSV, JSON) renders this. */
export type Cell = string | number | null;

export interface Table {
  title: string;
  head: string[];
  rows: Cell[][];
  /** Lines printed under the table (deviations, skipped items). */
  notes?: string[];
}

export const OUTPUT_FORMATS = ["terminal", "markdown", "csv", "json"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** Numbers with one decimal, missing cells as "–". */
export function formatCell(cell: Cell): string {
  if (cell === null) return "–";
  if (typeof cell === "number") return Number.isInteger(cell) ? String(cell) : cell.toFixed(1);
  return cell;
}
