import assert from "node:assert/strict";
import { silentLogger } from "../../src/log.ts";
import { Metrics } from "../../src/metrics.ts";
import { Pacer } from "../../src/mix/pacer.ts";
import type { RoundRecord } from "../../src/mix/mod.ts";

function pacer(maxBacklog: number) {
  // Rounds waiting in the first mix, and after it as the next mix last said.
  const state = { here: 0, after: 0 };
  const metrics = new Metrics<RoundRecord>("mix_1");
  const waiting = () => state.here + state.after;
  const p = new Pacer({ maxBacklog, waiting, metrics, logger: silentLogger });
  return { pacer: p, state, metrics };
}

Deno.test("rounds pause while more than max_backlog_rounds wait in the cascade, the same for every client of a round, and run again once they drain", () => {
  const { pacer: p, state, metrics } = pacer(1);
  // Nothing waits, however many rounds are in flight: nothing paused.
  assert.equal(p.nextRound(5), 6);
  state.here = 1;
  assert.equal(p.nextRound(6), 7); // one waits here: at the limit
  state.after = 2;
  assert.equal(p.nextRound(7), 10); // three wait in all, two over: rounds 8 and 9 paused
  assert.ok(p.isPaused(8) && p.isPaused(9) && !p.isPaused(10));
  // The same decision for every client of a round, whenever asked.
  state.here = 0;
  assert.equal(p.nextRound(7), 10);
  // Paused rounds add nothing that waits: once the cascade drained, rounds run again.
  state.after = 0;
  assert.equal(p.nextRound(10), 11);
  assert.equal(metrics.counters["rounds.paused"], 2);
});

Deno.test("a pause is never longer than ten rounds, and a cascade far behind is paused again with its next round", () => {
  const { pacer: p, state } = pacer(0);
  state.here = 2;
  state.after = 40;
  assert.equal(p.nextRound(3), 14);
  assert.equal(p.nextRound(14), 25);
  assert.ok([15, 20, 24].every((r) => p.isPaused(r)));
});

Deno.test("with max_backlog_rounds 0 one waiting round pauses the next", () => {
  const { pacer: p, state } = pacer(0);
  assert.equal(p.nextRound(1), 2);
  state.after = 1;
  assert.equal(p.nextRound(2), 4);
  assert.ok(p.isPaused(3));
});
