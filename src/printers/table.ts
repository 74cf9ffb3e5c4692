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

/** Numbers rounded to one decimal, shown without it when it is 0 (10.999 is "11"); missing cells as "–". */
export function formatCell(cell: Cell): string {
  if (cell === null) return "–";
  if (typeof cell === "number") {
    const rounded = Math.round(cell * 10) / 10;
    return Number.isInteger(rounded) ? String(rounded) : rounded.toFixed(1);
  }
  return cell;
}
