import assert from "node:assert/strict";
import { MixnetError } from "../../src/errors.ts";
import { silentLogger } from "../../src/log.ts";
import { Metrics } from "../../src/metrics.ts";
import { PeerMac } from "../../src/crypto/mod.ts";
import { Forwarder } from "../../src/mix/forwarder.ts";
import type { RoundRecord } from "../../src/mix/mod.ts";
import type { MixStore } from "../../src/mix/store.ts";
import type { MixServerCalls } from "../../src/rpc/mod.ts";
import { waitUntil } from "../_testkit/ports.ts";

/**
 * A forwarder over an outbox of `rounds` whose `forwarded` fails `failures` times (a full
 * disk), and a next mix that acknowledges each call when the test lets it.
 */
function forwarder(rounds: number[], failures = 0) {
  const outbox = [...rounds];
  const sent: number[] = [];
  const acknowledgements: (() => void)[] = [];
  let failuresLeft = failures;
  const store = {
    oldestOutgoing: () =>
      outbox.length
        ? { round: outbox[0], chunks: [{ packed: new Uint8Array(4), packetBytes: 4 }] }
        : undefined,
    forwarded: (round: number) => {
      if (failuresLeft-- > 0) {
        throw new MixnetError("Cannot write mix.sqlite: database or disk is full", {
          status: "resource-exhausted",
        });
      }
      outbox.splice(outbox.indexOf(round), 1);
    },
  } as unknown as MixStore;
  const stub = {
    forwardBatch: (chunks: { round: number }[]) => {
      sent.push(chunks[0].round);
      return new Promise((resolve) => acknowledgements.push(() => resolve({ rounds_waiting: 0 })));
    },
    reconnected: () => Promise.resolve(),
  } as unknown as MixServerCalls;
  const metrics = new Metrics<RoundRecord>("mix_1", undefined, silentLogger);
  const node = new Forwarder({
    id: "mix_1",
    nextId: "mix_2",
    store,
    stub,
    mac: { sign: () => new Uint8Array(32) } as unknown as PeerMac,
    nextPublicKey: () => Promise.resolve(new Uint8Array(32)),
    metrics,
    logger: silentLogger,
    timeoutMs: 10_000,
  });
  const acknowledge = async () => {
    await waitUntil(() => acknowledgements.length > 0, 5_000, "a call in flight");
    acknowledgements.shift()!();
  };
  return { node, outbox, sent, metrics, acknowledge };
}

Deno.test("a round acknowledged while the forwarder stops leaves the outbox", async () => {
  const { node, outbox, sent, acknowledge } = forwarder([7]);
  await waitUntil(() => sent.length === 1, 5_000, "the round sent");
  const stopping = node.stop();
  await acknowledge();
  await stopping;
  assert.deepEqual(outbox, []);
  assert.deepEqual(sent, [7]);
});

Deno.test("an acknowledged round whose removal fails (a full disk) is removed again later, never sent again", async () => {
  const { node, outbox, sent, metrics, acknowledge } = forwarder([7, 8], 2);
  await acknowledge();
  await waitUntil(() => outbox[0] === 8, 10_000, "round 7 out of the outbox");
  assert.equal(metrics.counters["forward.outbox_retries"], 2);
  await acknowledge();
  await waitUntil(() => outbox.length === 0, 5_000, "round 8 out of the outbox");
  await node.stop();
  assert.deepEqual(sent, [7, 8]);
});

Deno.test("a forwarder stopped while a removal keeps failing stops, the round left in the outbox", async () => {
  const { node, outbox, sent, metrics, acknowledge } = forwarder([7], Infinity);
  await acknowledge();
  await waitUntil(
    () => (metrics.counters["forward.outbox_retries"] ?? 0) >= 2,
    10_000,
    "failed removals",
  );
  await node.stop();
  assert.deepEqual(outbox, [7]);
  assert.deepEqual(sent, [7]);
});
