import { renderCsv } from "./csv.js";
import { renderJson } from "./json.js";
import { renderMarkdown } from "./markdown.js";
import type { OutputFormat, Table } from "./table.js";
import { renderTerminal } from "./terminal.js";

export function render(tables: readonly Table[], format: OutputFormat): string {
  switch (format) {
    case "terminal":
      return renderTerminal(tables);
    case "markdown":
      return renderMarkdown(tables);
    case "csv":
      return renderCsv(tables);
    case "json":
      return renderJson(tables);
  }
}
