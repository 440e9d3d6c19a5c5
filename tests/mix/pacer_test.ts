import assert from "node:assert/strict";
import { silentLogger } from "../../src/log.ts";
import { Metrics } from "../../src/metrics.ts";
import { Pacer } from "../../src/mix/pacer.ts";
import type { RoundRecord } from "../../src/mix/mod.ts";

Deno.test("rounds pause while more rounds than max_backlog_rounds are unconfirmed, and paused rounds do not count", () => {
  const pacer = new Pacer({
    maxBacklog: 3,
    metrics: new Metrics<RoundRecord>("mix_1"),
    logger: silentLogger,
  });
  // Nothing known of the cascade yet: nothing paused.
  assert.equal(pacer.nextRound(5, 4), 6);
  pacer.cascadeStored(10);
  assert.equal(pacer.nextRound(14, 13), 15); // 11, 12, 13 unconfirmed: at the limit
  assert.equal(pacer.nextRound(15, 14), 17); // 11 to 14: one over, round 16 paused
  assert.ok(pacer.isPaused(16));
  // 11 to 15 ran (16 did not): two over, 18 and 19 paused.
  assert.equal(pacer.nextRound(17, 16), 20);
  assert.ok(pacer.isPaused(18) && pacer.isPaused(19));
  // The cascade catches up to 15: the paused 16, 18 and 19 carry nothing, so only 17 is behind.
  pacer.cascadeStored(15);
  assert.equal(pacer.nextRound(20, 19), 21);
  // The same decision for every client of a round.
  assert.equal(pacer.nextRound(20, 20), 21);
});
