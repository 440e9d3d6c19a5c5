import assert from "node:assert/strict";
import { createLogger, RateLimitedLog } from "../src/log.ts";

Deno.test("a rate-limited warning is written at once, then once per interval with the count held back", () => {
  const lines: string[] = [];
  let now = 1_000;
  const log = new RateLimitedLog(createLogger({ name: "client_1", write: (l) => lines.push(l) }), {
    intervalMs: 10_000,
    now: () => now,
  });
  log.warn("refused a call", { peer: "127.0.0.1:40000" });
  for (let i = 0; i < 5; i++) {
    now += 1_000;
    log.warn("refused a call", { peer: "127.0.0.1:40001" });
  }
  log.warn("another kind", { peer: "127.0.0.1:40002" });
  now = 11_000;
  log.warn("refused a call", { peer: "127.0.0.1:40003" });
  now = 12_000;
  log.warn("refused a call", { peer: "127.0.0.1:40004" });
  assert.equal(lines.length, 3, lines.join("\n"));
  assert.match(lines[0], / WARN {2}client_1 refused a call peer=127\.0\.0\.1:40000$/);
  assert.match(lines[1], / WARN {2}client_1 another kind peer=127\.0\.0\.1:40002$/);
  assert.match(lines[2], / WARN {2}client_1 refused a call peer=127\.0\.0\.1:40003 suppressed=5$/);
});
