import assert from "node:assert/strict";
import { join } from "node:path";
import { createTestNetwork } from "../_testkit/network.ts";
import { waitUntil } from "../_testkit/ports.ts";
import { closeProxied, type ProxiedMix, startProxiedMix } from "../_testkit/proxy.ts";
import {
  innermostSize,
  openPayload,
  packetSize,
  PayloadKind,
  peelLayer,
} from "../../src/onion/mod.ts";
import {
  batchPackets,
  type ForwardBatchRequest,
  type ForwardMessageRequest,
  type PollMessagesResponse,
} from "../../src/rpc/mod.ts";

const ROUNDS = 20;
const CLIENTS = 4;
/** The 0.9999 quantile of chi-square with (4 - 1)² = 9 degrees of freedom. */
const CHI2_9_Q9999 = 33.72;

function key(bytes: Uint8Array): string {
  return Array.from(bytes.subarray(0, 48), (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("on every hop all packets have one length, real or dummy, and each mix's output order is independent of its input order", async () => {
  const payloadSize = 64;
  const net = await createTestNetwork({
    clients: CLIENTS,
    roundDuration: 0.3,
    roundTimeout: 0.2,
    payloadSize,
  });
  const outputDir = join(net.dir, "delivered");
  // What crosses each hop, recorded by a proxy in front of each mix: client → mix_1 (hop 0),
  // mix_1 → mix_2 (hop 1), mix_2 → mix_3 (hop 2), mix_3 → clients' polls (hop 3).
  const arrivals: { round: number; payload: Uint8Array }[] = [];
  const intoMix2: ForwardBatchRequest[] = [];
  const intoMix3: ForwardBatchRequest[] = [];
  const polled: Uint8Array[] = [];
  const hops: ProxiedMix[] = [];
  try {
    hops.push(
      await startProxiedMix(net, "mix_3", {
        outputDir,
        hook: async (method, request, relay) => {
          if (method === "ForwardBatch") intoMix3.push(request as ForwardBatchRequest);
          const response = await relay(request);
          if (method === "PollMessages") {
            polled.push(...(response as PollMessagesResponse).payloads);
          }
          return response;
        },
      }),
    );
    hops.push(
      await startProxiedMix(net, "mix_2", {
        hook: (method, request, relay) => {
          if (method === "ForwardBatch") intoMix2.push(request as ForwardBatchRequest);
          return relay(request);
        },
      }),
    );
    hops.push(
      await startProxiedMix(net, "mix_1", {
        hook: async (method, request, relay) => {
          const response = await relay(request);
          if (method === "ForwardMessage") {
            const { round, payload } = request as ForwardMessageRequest;
            arrivals.push({ round, payload });
          }
          return response;
        },
      }),
    );
    await Promise.all(net.config.clients.map((c) => net.startClient(c.id)));
    // Real messages of many lengths from two clients, dummies from the others (and from these
    // two once their queues are empty).
    const sent = new Map<string, string[]>([["client_2", []], ["client_4", []]]);
    for (let i = 0; i < 12; i++) {
      const [from, to] = i % 3 === 2 ? ["client_3", "client_4"] : ["client_1", "client_2"];
      const message = "m".repeat(1 + (i * 23) % payloadSize).slice(0, payloadSize - 3) + i;
      sent.get(to)!.push(message);
      await net.client(from).prepareMessage({
        message,
        recipient_pubkey: net.keyFile(to),
        recipient_addr: net.config.clients.find((c) => c.id === to)!.address,
      });
    }
    const mix3 = hops[0].node;
    await waitUntil(() => arrivals.length > 0, 10_000, "the first packet");
    const first = arrivals[0].round + 1;
    const last = first + ROUNDS - 1;
    await waitUntil(
      () => mix3.metrics.recent.some((r) => r.event === "round" && r.round >= last + 1),
      30_000,
      `round ${last} at mix_3`,
      50,
    );
    const received = new Map<string, string[]>([["client_2", []], ["client_4", []]]);
    await waitUntil(
      async () => {
        for (const [id, list] of received) {
          list.push(...(await net.client(id).pollMessages()).messages);
        }
        return [...sent].every(([id, texts]) => received.get(id)!.length >= texts.length);
      },
      15_000,
      "every message",
      200,
    );
    for (const [id, texts] of sent) assert.deepEqual(received.get(id), texts);

    const batchOf = (list: ForwardBatchRequest[], round: number) =>
      list.filter((b) => b.round === round).flatMap(batchPackets);
    const delivered = new Map<number, { index: number; packet: Uint8Array; owner: string }[]>();
    for (const { id } of net.config.clients) {
      for (const entry of Deno.readDirSync(join(outputDir, id))) {
        const [, round, index] = /^round-(\d+)-(\d+)\.bin$/.exec(entry.name)!.map(Number);
        const packet = await Deno.readFile(join(outputDir, id, entry.name));
        delivered.set(round, [...(delivered.get(round) ?? []), { index, packet, owner: id }]);
      }
    }
    // Sizes: one length per hop, whatever the message, its kind or its recipient.
    const lengths = [new Set<number>(), new Set<number>(), new Set<number>(), new Set<number>()];
    for (let round = first; round <= last; round++) {
      const hops = [
        arrivals.filter((a) => a.round === round).map((a) => a.payload),
        batchOf(intoMix2, round),
        batchOf(intoMix3, round),
        (delivered.get(round) ?? []).map((d) => d.packet),
      ];
      hops.forEach((packets, hop) => packets.forEach((p) => lengths[hop].add(p.length)));
    }
    polled.forEach((p) => lengths[3].add(p.length));
    assert.deepEqual(lengths.map((set) => [...set]), [
      [packetSize(payloadSize, 3)],
      [packetSize(payloadSize, 2)],
      [packetSize(payloadSize, 1)],
      [innermostSize(payloadSize)],
    ]);
    // The traffic really was mixed: messages of several lengths, loops and dummies; and no
    // dummy ever reached a mailbox (they end at the sink).
    const kinds = { message: 0, loop: 0, dummy: 0, sunk: 0 };
    const messageLengths = new Set<number>();
    for (let round = first; round <= last; round++) {
      for (const d of delivered.get(round) ?? []) {
        const payload = openPayload(net.box, d.packet, net.keys.get(d.owner)!, payloadSize);
        if (payload.kind === PayloadKind.dummy) kinds.dummy++;
        else if (payload.kind === PayloadKind.loop) kinds.loop++;
        else {
          kinds.message++;
          messageLengths.add(payload.message.length);
        }
      }
      const atMix3 = mix3.metrics.recent.find((r) => r.event === "round" && r.round === round);
      kinds.sunk += atMix3?.cover ?? 0;
    }
    assert.ok(kinds.message >= 10 && kinds.sunk >= 40 && kinds.dummy === 0, JSON.stringify(kinds));
    assert.ok(messageLengths.size >= 5, `message lengths ${[...messageLengths]}`);

    // Order: follow each packet through mix_1 and mix_2 (the test holds every key) and count
    // input position against output position over every full batch of the 20 rounds. (mix_3's
    // output is not a batch on a link: it keeps real packets in mailboxes and drops the rest.)
    const counts = Array.from({ length: CLIENTS * CLIENTS }, () => 0);
    let permutations = 0;
    for (let round = first; round <= last; round++) {
      const inputs = [
        arrivals.filter((a) => a.round === round).map((a) => a.payload),
        batchOf(intoMix2, round),
        batchOf(intoMix3, round),
      ];
      const outputs = [batchOf(intoMix2, round), batchOf(intoMix3, round)];
      for (let mix = 0; mix < 2; mix++) {
        const position = new Map(outputs[mix].map((p, i) => [key(p), i]));
        const mixKey = net.keys.get(`mix_${mix + 1}`)!;
        const moved = inputs[mix].map((packet) =>
          position.get(
            key(peelLayer(net.box, packet, mixKey, { payloadSize, layers: 3 - mix }).inner),
          )
        );
        // A batch with a missing client or cover packets is not a permutation of 4.
        if (inputs[mix].length !== CLIENTS || outputs[mix].length !== CLIENTS) continue;
        assert.ok(
          moved.every((p) => p !== undefined),
          `round ${round} mix_${mix + 1} lost a packet`,
        );
        moved.forEach((to, from) => counts[from * CLIENTS + to!]++);
        permutations++;
      }
    }
    assert.ok(permutations >= 30, `only ${permutations} full batches in ${ROUNDS} rounds`);
    const expectedCount = permutations / CLIENTS;
    const chi = counts.reduce((s, c) => s + (c - expectedCount) ** 2 / expectedCount, 0);
    console.log(
      `${permutations} batches followed through a mix; position counts ${counts}; chi-square ${
        chi.toFixed(1)
      } (threshold ${CHI2_9_Q9999})`,
    );
    assert.ok(chi < CHI2_9_Q9999, `output position depends on input position: chi-square ${chi}`);
  } finally {
    await closeProxied(net, hops);
  }
});
