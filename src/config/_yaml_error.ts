/** Where a YAML syntax error is, and what it is, in one clean line. */
import { type Document, isCollection, isScalar, isSeq, visit } from "yaml";

/**
 * The first YAML error, at the line where its cause is: a quote or bracket that is never
 * closed is reported where it opens, not at the end of the file where the parser gave up.
 */
export function describeYamlError(path: string, text: string, document: Document.Parsed): string {
  const error = document.errors[0];
  const reason = error.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
  const opener = unclosedAt(document, error.pos[0]);
  if (opener) {
    const before = text.slice(0, opener.start);
    const line = before.split("\n").length;
    const col = opener.start - before.lastIndexOf("\n");
    return `${path}:${line}: not valid YAML: ${opener.what} that opens at column ${col} is ` +
      `never closed (${reason})`;
  }
  const at = error.linePos?.[0];
  return `${path}${at ? `:${at.line}` : ""}: not valid YAML: ${reason}${
    at ? ` (column ${at.col})` : ""
  }`;
}

/** The innermost quoted string or flow collection that the parse was cut short at `offset`. */
function unclosedAt(
  document: Document.Parsed,
  offset: number,
): { start: number; what: string } | undefined {
  let found: { start: number; what: string } | undefined;
  visit(document, (_key, node) => {
    const range = (node as { range?: [number, number, number] } | null)?.range;
    if (!range || range[0] >= offset || range[2] !== offset) return;
    let what: string | undefined;
    if (isScalar(node) && (node.type === "QUOTE_DOUBLE" || node.type === "QUOTE_SINGLE")) {
      what = `the ${node.type === "QUOTE_DOUBLE" ? "double" : "single"}-quoted string`;
    } else if (isCollection(node) && node.flow) {
      what = isSeq(node) ? 'the list "["' : 'the mapping "{"';
    }
    if (what && (!found || range[0] > found.start)) found = { start: range[0], what };
  });
  return found;
}
