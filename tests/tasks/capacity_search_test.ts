import assert from "node:assert/strict";
import { nextRound, RESOLUTION, searchCapacity } from "../../tasks/_bench/capacity.ts";
import type { ProbeResult, ProbeSpec } from "../../tasks/_bench/capacity_probe.ts";

const OPTIONS = {
  clients: 10,
  payloadSize: 100_000,
  startRoundS: 0.1,
  minRoundS: 0.01,
  maxRoundS: 10,
  seconds: 60,
  probes: 12,
};

/** A network that sustains every round of at least `shortestS` (`fullS` over a long probe). */
function network(shortestS: number, fullS = shortestS) {
  const runs: ProbeSpec[] = [];
  const probe = (spec: ProbeSpec): Promise<ProbeResult> => {
    runs.push(spec);
    const sustained = spec.roundS >= (spec.seconds > 10 ? fullS : shortestS);
    return Promise.resolve(result(spec, sustained));
  };
  return { runs, probe };
}

function result(spec: ProbeSpec, sustained: boolean): ProbeResult {
  const offered = (spec.clients * spec.payloadSize) / spec.roundS / 1e6;
  return {
    payload_size: spec.payloadSize,
    clients: spec.clients,
    mixes: 3,
    fetch_size: 2,
    round_s: spec.roundS,
    offered_mb_s: offered,
    carried_mb_s: sustained ? offered : offered / 2,
    window_s: spec.seconds,
    rounds: Math.floor(spec.seconds / spec.roundS),
    paused: sustained ? 0 : 3,
    missing_packets: 0,
    undelivered: 0,
    p50_latency_s: spec.roundS / 2,
    p99_latency_s: sustained ? spec.roundS : 3 * spec.roundS,
    max_latency_s: 3 * spec.roundS,
    period_s: spec.roundS,
    machine_busy: 1,
    load_1m: 1,
    sustained,
    reason: sustained ? "" : "paused",
  };
}

Deno.test("searchCapacity narrows to the shortest sustained round and confirms it at full length", async () => {
  const { runs, probe } = network(0.3);
  const found = await searchCapacity(OPTIONS, probe);
  assert.ok(found.sustained && found.failing);
  assert.equal(found.sustained.stage, "confirm");
  assert.equal(found.sustained.window_s, 60);
  assert.ok(found.sustained.round_s >= 0.3);
  assert.ok(found.failing.round_s < 0.3);
  assert.ok(found.sustained.round_s / found.failing.round_s <= RESOLUTION);
  // Screening probes are short; only the confirmation runs the full length.
  assert.deepEqual(runs.map((r) => r.seconds).filter((s) => s === 60), [60]);
  assert.ok(runs.length <= OPTIONS.probes);
});

Deno.test("searchCapacity steps back to a longer round when the full run fails the shortest", async () => {
  const { probe } = network(0.3, 0.5);
  const found = await searchCapacity(OPTIONS, probe);
  assert.ok(found.sustained && found.failing);
  assert.ok(found.sustained.round_s >= 0.5);
  // The failure reported is the full-length one just below, not a screening one.
  assert.equal(found.failing.stage, "confirm");
  assert.ok(found.failing.round_s < found.sustained.round_s);
});

Deno.test("searchCapacity stops at the round duration's bounds", async () => {
  const fast = await searchCapacity(OPTIONS, network(0.001).probe);
  assert.equal(fast.sustained?.round_s, OPTIONS.minRoundS);
  assert.equal(fast.failing, undefined);

  const slow = await searchCapacity(OPTIONS, network(100).probe);
  assert.equal(slow.sustained, undefined);
  assert.equal(slow.failing?.round_s, OPTIONS.maxRoundS);
});

Deno.test("searchCapacity keeps to its probe budget", async () => {
  // One probe screens, the other confirms.
  const quick = network(0.05);
  const found = await searchCapacity({ ...OPTIONS, probes: 2 }, quick.probe);
  assert.equal(quick.runs.length, 2);
  assert.equal(found.sustained?.round_s, OPTIONS.startRoundS);
  // The one left for a confirmation is not spent on screening when nothing was sustained yet.
  const slow = network(0.3);
  await searchCapacity({ ...OPTIONS, probes: 2 }, slow.probe);
  assert.ok(slow.runs.length <= 2);
  // A single probe screens: too short to stand as the full run's answer.
  const one = await searchCapacity({ ...OPTIONS, probes: 1 }, network(0.05).probe);
  assert.equal(one.probes.length, 1);
  assert.equal(one.sustained, undefined);
  const many = network(0.3, 0.5);
  await searchCapacity({ ...OPTIONS, probes: 7 }, many.probe);
  assert.equal(many.runs.length, 7);
});

Deno.test("searchCapacity screens at full length when the run is short, and confirms nothing twice", async () => {
  const { runs, probe } = network(0.3);
  const found = await searchCapacity({ ...OPTIONS, seconds: 5 }, probe);
  assert.ok(runs.every((r) => r.seconds === 5));
  assert.equal(found.sustained?.stage, "screen");
  assert.equal(new Set(runs.map((r) => r.roundS)).size, runs.length);
});

Deno.test("nextRound halves, doubles, bisects and stops", () => {
  assert.equal(nextRound(undefined, undefined, 0.1, 0.01, 10), 0.1);
  assert.equal(nextRound(0.1, undefined, 0.1, 0.01, 10), 0.05);
  assert.equal(nextRound(undefined, 0.1, 0.1, 0.01, 10), 0.2);
  assert.equal(nextRound(0.2, 0.1, 0.1, 0.01, 10), 0.141);
  assert.equal(nextRound(0.12, 0.1, 0.1, 0.01, 10), undefined);
  assert.equal(nextRound(0.01, undefined, 0.1, 0.01, 10), undefined);
  assert.equal(nextRound(undefined, 10, 0.1, 0.01, 10), undefined);
  assert.equal(nextRound(0.015, undefined, 0.1, 0.01, 10), 0.01);
});
