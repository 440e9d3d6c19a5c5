import assert from "node:assert/strict";
import { silentLogger } from "../../src/log.ts";
import { Metrics } from "../../src/metrics.ts";
import { Pacer } from "../../src/mix/pacer.ts";
import type { RoundRecord } from "../../src/mix/mod.ts";

Deno.test("rounds pause while the cascade is more than max_backlog_rounds behind, the same for every client of a round, and run again once it catches up", () => {
  const pacer = new Pacer({
    maxBacklog: 3,
    metrics: new Metrics<RoundRecord>("mix_1"),
    logger: silentLogger,
  });
  // Nothing known of the cascade yet: nothing paused.
  assert.equal(pacer.nextRound(5, 4), 6);
  pacer.cascadeStored(10);
  assert.equal(pacer.nextRound(14, 13), 15); // 11 to 13 closed and not stored: at the limit
  assert.equal(pacer.nextRound(15, 14), 17); // one over: round 16 paused
  assert.ok(pacer.isPaused(16) && !pacer.isPaused(17));
  // No news from the cascade (a paused round forwards nothing): the backlog is the time since
  // its last stored round, paused rounds included, so the pause grows.
  assert.equal(pacer.nextRound(17, 16), 21);
  assert.ok([18, 19, 20].every((r) => pacer.isPaused(r)));
  // The same decision for every client of a round, whenever asked.
  assert.equal(pacer.nextRound(17, 20), 21);
  // The cascade caught up: rounds run again.
  pacer.cascadeStored(18);
  assert.equal(pacer.nextRound(21, 20), 22);
});
