import { formatRow, type Table } from "./table.js";

export function renderMarkdown(tables: readonly Table[]): string {
  return tables.map(renderOne).join("\n");
}

function renderOne(table: Table): string {
  const numeric = table.head.map((_, column) => table.rows.every((row) => typeof row[column] !== "string"));
  const escape = (text: string) => text.replaceAll("|", "\\|");
  const row = (cells: string[]) => `| ${cells.map(escape).join(" | ")} |`;
  const lines = [
    `### ${table.title}`,
    "",
    row(table.head),
    `|${numeric.map((isNumber) => (isNumber ? " ---: " : " --- ")).join("|")}|`,
    ...table.rows.map((cells) => row(formatRow(table, cells))),
  ];
  if (table.notes?.length) lines.push("", ...table.notes.map((note) => `- ${note}`));
  return `${lines.join("\n")}\n`;
}
