import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { createSealedBox } from "../../src/crypto/mod.ts";
import { MixnetError } from "../../src/errors.ts";
import { silentLogger } from "../../src/log.ts";
import { Metrics } from "../../src/metrics.ts";
import { MixStore, type RoundRecord } from "../../src/mix/mod.ts";
import { Peeler } from "../../src/mix/peeler.ts";
import { RoundProcessor } from "../../src/mix/processor.ts";
import { type MixStoreOptions, type RoundOutcome } from "../../src/mix/store.ts";
import { buildOnion, PayloadKind } from "../../src/onion/mod.ts";
import { packChunks, unpack } from "../../src/rpc/mod.ts";
import { waitUntil } from "../_testkit/ports.ts";

/** A store whose disk is full for the first `failures` commits. */
class FullDiskStore extends MixStore {
  failures: number;
  readonly committed: number[] = [];
  constructor(path: string, failures: number) {
    super(path, "key");
    this.failures = failures;
  }
  override commitRound(outcome: RoundOutcome): number {
    if (this.failures-- > 0) {
      throw new MixnetError("Cannot write mix.sqlite: database or disk is full", {
        status: "resource-exhausted",
      });
    }
    const dropped = super.commitRound(outcome);
    this.committed.push(outcome.round);
    return dropped;
  }
}

/** A last mix's processor over `store` (in `dir`), and onions addressed through it to one client. */
async function lastMix(
  store: (dir: string) => MixStore,
  fn: (mix: {
    store: MixStore;
    processor: RoundProcessor;
    metrics: Metrics<RoundRecord>;
    onion: (message: string) => Uint8Array;
  }) => Promise<void>,
) {
  const dir = await Deno.makeTempDir({ prefix: "mixnet-processor-" });
  const box = await createSealedBox("native");
  const mix = box.generateKeyPair();
  const recipient = box.generateKeyPair();
  const opened = store(dir);
  const peeler = new Peeler({ box, keyPair: mix, payloadSize: 64, layers: 1, workers: 2 });
  const metrics = new Metrics<RoundRecord>("mix");
  const processor = new RoundProcessor({
    store: opened,
    peeler,
    nextMixAddress: undefined,
    clients: new Map([["127.0.0.1:9", "client"]]),
    metrics,
    logger: silentLogger,
  });
  const onion = (message: string) =>
    buildOnion(box, {
      message: new TextEncoder().encode(message),
      kind: PayloadKind.message,
      recipient: { address: "127.0.0.1:9", publicKey: recipient.publicKey },
      route: [{ address: "127.0.0.1:1", publicKey: mix.publicKey }],
      payloadSize: 64,
    });
  try {
    await peeler.ready;
    await fn({ store: opened, processor, metrics, onion });
  } finally {
    await processor.stop();
    await peeler.close();
    await opened.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a round whose commit fails is retried until it commits, and later rounds wait behind it", async () => {
  let full: FullDiskStore;
  await lastMix((dir) => full = new FullDiskStore(join(dir, "mix.sqlite"), 2), async (mix) => {
    const { processor, metrics, onion } = mix;
    for (const round of [1, 2]) {
      full.addAllToInbox([{
        round,
        slot: "client",
        packet: onion(`round ${round}`),
        arrivedMs: Date.now(),
      }]);
      processor.enqueue(round);
    }
    await waitUntil(() => full.committed.length === 2, 10_000, "both rounds committed");
    assert.deepEqual(full.committed, [1, 2]);
    assert.equal(metrics.counters["rounds.retried"], 2);
    assert.deepEqual(metrics.recent.map((r) => r.round), [1, 2]);
    assert.equal(full.mailboxSize("127.0.0.1:9"), 2);
    assert.deepEqual(full.inboxRounds(), []);
  });
});

Deno.test("a round received in chunks counts as received only once whole, across a restart", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mixnet-store-" });
  const path = join(dir, "mix.sqlite");
  const packet = (n: number) => new Uint8Array(8).fill(n);
  const chunk = (...ns: number[]) => packChunks(ns.map(packet))[0];
  try {
    let store = new MixStore(path, "key");
    assert.equal(store.receiveChunk(7, 1, 2, chunk(3, 4), 1), "partial");
    assert.deepEqual(store.receivedRounds(), []);
    await store.close();
    store = new MixStore(path, "key");
    assert.deepEqual(store.receivedRounds(), []);
    assert.equal(store.receiveChunk(7, 1, 2, chunk(3, 4), 2), "duplicate");
    assert.equal(store.receiveChunk(7, 0, 2, chunk(1, 2), 3), "stored");
    assert.equal(store.receiveChunk(7, 0, 2, chunk(1, 2), 4), "duplicate");
    assert.deepEqual(store.receivedRounds(), [7]);
    const stored = store.inbox(7).packets.map((p) => p[0]).sort();
    assert.deepEqual(stored, [1, 2, 3, 4]);
    assert.equal(store.inboxCount(7), 4);
    const outgoing = [5, 6, 7].map(packet);
    store.commitRound({ round: 7, tags: [], outgoing });
    const kept = store.oldestOutgoing()!;
    assert.equal(kept.round, 7);
    assert.deepEqual(kept.chunks.flatMap(unpack), outgoing);
    store.forwarded(7);
    assert.deepEqual(store.receivedRounds(), []);
    assert.equal(store.receiveChunk(7, 0, 2, chunk(1), 5), "duplicate");
    await store.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a middle mix's file has large pages for its chunks; one storing single small packets keeps small ones", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mixnet-store-" });
  const pageSize = async (name: string, options: MixStoreOptions) => {
    const path = join(dir, `${name}.sqlite`);
    await new MixStore(path, "key", options).close();
    const db = new DatabaseSync(path);
    try {
      return Number(db.prepare("PRAGMA page_size").get()!.page_size);
    } finally {
      db.close();
    }
  };
  try {
    assert.equal(await pageSize("middle", { packetBytes: 1200, singlePackets: false }), 65536);
    assert.equal(await pageSize("end", { packetBytes: 1200 }), 4096);
    assert.equal(await pageSize("end-large", { packetBytes: 1_000_000 }), 65536);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("client packets gathered while their round is open are peeled a job at a time, the rest when it closes, each once", async () => {
  await lastMix((dir) => new MixStore(join(dir, "mix.sqlite"), "key"), async (mix) => {
    const { store, processor, metrics, onion } = mix;
    const round = 4;
    // 30 packets of a few hundred bytes: two jobs' worth of a dozen or so, and a remainder.
    const packets = Array.from({ length: 30 }, (_, i) => onion(`packet ${i}`));
    for (let from = 0; from < packets.length; from += 10) {
      const group = packets.slice(from, from + 10);
      store.addAllToInbox(
        group.map((packet, i) => ({
          round,
          slot: `client_${from + i}`,
          packet: packet.slice(),
          arrivedMs: Date.now(),
        })),
      );
      processor.gather(round, group, Date.now());
    }
    processor.enqueue(round);
    await waitUntil(() => store.inboxRounds().length === 0, 10_000, "the round committed");
    assert.equal(metrics.counters["rounds.peeled_on_arrival"], 1);
    const record = metrics.recent.find((r) => r.event === "round" && r.round === round)!;
    assert.equal(record.batch_in, 30);
    assert.equal(record.batch_out, 30);
    assert.equal(store.mailboxSize("127.0.0.1:9"), 30);
  });
});
