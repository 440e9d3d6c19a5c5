import assert from "node:assert/strict";
import { escapeText, formatMessage } from "../../src/cli/output.ts";

Deno.test("escaped text shows control characters, line breaks and backslashes and acts on none", () => {
  assert.equal(escapeText("nul\x01ctl\x1b[31mRED"), "nul\\x01ctl\\x1b[31mRED");
  assert.equal(escapeText("line1\nline2\r\n\tend"), "line1\\nline2\\r\\n\\tend");
  assert.equal(escapeText("a\\nb"), "a\\\\nb");
  assert.equal(escapeText("\x00\x7f\x9b31m"), "\\x00\\x7f\\x9b31m");
  assert.equal(escapeText("abc\u202eevil\u2066x\u2028y"), "abc\\u{202e}evil\\u{2066}x\\u{2028}y");
});

Deno.test("escaped text leaves printable non-ASCII text as it is", () => {
  for (const text of ["héllo wörld", "日本語のテキスト", "emoji 👋🏽 and 👨‍👩‍👧", "Ωμέγα ✓ €"]) {
    assert.equal(escapeText(text), text);
  }
});

Deno.test("every message becomes one line, and different messages different lines", () => {
  const messages = ["a\nb", "a\\nb", "a", "", "\\", "\x1b", "\\x1b"];
  const lines = messages.map((m) => formatMessage(m, "text"));
  assert.ok(lines.every((line) => !/[\n\r]/.test(line)));
  assert.equal(new Set(lines).size, messages.length);
});

Deno.test("json lines parse back to the message and carry no acting character", () => {
  const messages = [
    "nul\x01ctl\x1b[31mRED",
    "line1\nline2",
    "\x9b2J\u202eevil",
    "héllo 👋",
    '"quoted"',
  ];
  for (const message of messages) {
    const line = formatMessage(message, "json");
    assert.deepEqual(JSON.parse(line), { message });
    assert.doesNotMatch(line, /[\p{Cc}\u202e]/u, line);
  }
  assert.equal(formatMessage("\x1b\x9b", "json"), '{"message":"\\u001b\\u009b"}');
});

Deno.test("raw leaves the message as it is", () => {
  assert.equal(formatMessage("a\x1b[31mb\n", "raw"), "a\x1b[31mb\n");
});
