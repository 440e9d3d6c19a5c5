/**
 * How `poll` prints messages. A message is whatever its sender chose, so by default nothing in it
 * may act on the terminal and each message is exactly one line: control characters, the
 * characters that reorder text (bidi controls) or break lines, and the backslash are escaped
 * visibly (`\x1b`, `\n`, `\\`, `\u{202e}`); every other character, non-ASCII text included,
 * prints as itself. `json` writes one JSON object per line, `{"message": "..."}`, with the same
 * characters escaped as `\uXXXX`; `raw` writes each message as it is, then a newline.
 *
 * @module
 */

/** The formats of `poll`. */
export const POLL_FORMATS = ["text", "json", "raw"] as const;

/** One of {@link POLL_FORMATS}. */
export type PollFormat = typeof POLL_FORMATS[number];

/**
 * Characters a terminal may act on, or that change how the line around them reads: C0 and C1
 * controls and DEL, the bidi marks, embeddings, overrides and isolates, and the Unicode line and
 * paragraph separators.
 */
const ACTING = "\\p{Cc}\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069\\u2028\\u2029";
const TEXT_ESCAPED = new RegExp(`[\\\\${ACTING}]`, "gu");
const JSON_ESCAPED = new RegExp(`[${ACTING}]`, "gu");
const NAMED: Readonly<Record<string, string>> = {
  "\\": "\\\\",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
};

/** Escapes `text` into one line that shows every character and acts on none. */
export function escapeText(text: string): string {
  return text.replace(TEXT_ESCAPED, (char) => {
    const named = NAMED[char];
    if (named) return named;
    const code = char.codePointAt(0)!;
    return code < 0x100
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u{${code.toString(16).padStart(4, "0")}}`;
  });
}

/** One line of `poll` output (without its newline) for `message` in `format`. */
export function formatMessage(message: string, format: PollFormat): string {
  if (format === "raw") return message;
  if (format === "text") return escapeText(message);
  return JSON.stringify({ message }).replace(
    JSON_ESCAPED,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
