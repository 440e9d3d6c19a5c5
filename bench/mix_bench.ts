/**
 * A round of 100 and of 1,000 packets of 1 KiB through three real mixes on loopback: peel,
 * dedupe, shuffle, forward, store. The benchmark plays the mix before them (a four-mix
 * cascade whose first mix is this process), so each iteration is one authenticated batch in
 * and one round stored at the last mix.
 */
import { stringify } from "yaml";
import { loadConfig } from "../src/config/mod.ts";
import {
  batchProof,
  createSealedBox,
  ensureKeyPair,
  type KeyPair,
  PeerMac,
} from "../src/crypto/mod.ts";
import { silentLogger } from "../src/log.ts";
import { type MixNode, startMix } from "../src/mix/mod.ts";
import { buildOnion, PayloadKind, peelLayer } from "../src/onion/mod.ts";
import { maxMessageBytes, MixServerStub, packChunks } from "../src/rpc/mod.ts";

const dir = await Deno.makeTempDir({ prefix: "mixnet-mix-bench-" });
const ports = Array.from({ length: 4 }, () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
});
await Deno.writeTextFile(
  `${dir}/config.yaml`,
  stringify({
    messages_per_round: 1,
    round_duration: 1,
    dummy_payload: "d",
    payload_size: 1024,
    min_batch: 0,
    mix_servers: ports.map((p, i) => ({ id: `mix_${i}`, address: `127.0.0.1:${p}` })),
    clients: Array.from(
      { length: 1000 },
      (_, i) => ({ id: `c${i}`, address: `127.0.0.1:${20000 + i}` }),
    ),
  }),
);
const config = await loadConfig(`${dir}/config.yaml`);
const box = await createSealedBox();
const keys = new Map<string, KeyPair>();
for (const node of [...config.mixServers, config.clients[0]]) {
  keys.set(
    node.id,
    (await ensureKeyPair(box, { configDir: dir, keysDir: `${dir}/secret` }, node.id)).pair,
  );
}
const mixes: MixNode[] = [];
for (const id of ["mix_3", "mix_2", "mix_1"]) {
  mixes.push(await startMix({ config, id, box, keyPair: keys.get(id)!, logger: silentLogger }));
}
const last = mixes[0];
const route = config.mixServers.map((m) => ({
  address: m.address,
  publicKey: keys.get(m.id)!.publicKey,
}));
const recipient = { address: config.clients[0].address, publicKey: keys.get("c0")!.publicKey };
const stub = new MixServerStub(config.mixServers[1].address, {
  maxMessageBytes: maxMessageBytes(config),
});
const asMix0 = new PeerMac(box, keys.get("mix_0")!);
let round = 0;

function layerFor(): Uint8Array {
  const onion = buildOnion(box, {
    message: new Uint8Array(1024),
    kind: PayloadKind.message,
    recipient,
    route,
    payloadSize: 1024,
  });
  return peelLayer(box, onion, keys.get("mix_0")!, { payloadSize: 1024, layers: 4 }).inner.slice();
}

for (const size of [100, 1000]) {
  Deno.bench(
    `round of ${size} x 1 KiB through 3 mixes`,
    { group: "round", n: 5, warmup: 1 },
    async (b) => {
      const packets = Array.from({ length: size }, layerFor);
      const r = round++;
      b.start();
      const chunks = packChunks(packets);
      for (const [chunk, { packed, packetBytes }] of chunks.entries()) {
        const request = {
          round: r,
          packets: [],
          packed,
          packet_bytes: packetBytes,
          mix_id: "mix_0",
          mac: new Uint8Array(),
          chunk,
          chunks: chunks.length,
        };
        request.mac = asMix0.sign(keys.get("mix_1")!.publicKey, ...batchProof(request));
        await stub.forwardBatch(request);
      }
      while (!last.metrics.recent.some((x) => x.event === "round" && x.round === r)) {
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      b.end();
    },
  );
}

globalThis.addEventListener("unload", () => {
  stub.close();
  for (const mix of mixes.reverse()) mix.stop();
  Deno.removeSync(dir, { recursive: true });
});
