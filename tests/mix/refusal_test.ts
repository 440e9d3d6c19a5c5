import assert from "node:assert/strict";
import { createTestNetwork } from "../_testkit/network.ts";
import { waitUntil } from "../_testkit/ports.ts";
import { publicKeyPath } from "../../src/crypto/mod.ts";
import { createLogger } from "../../src/log.ts";

Deno.test("a next mix that refuses the batches: logged as an error naming it and its reason, counted, retried slowly, and healed once the cause is fixed", async () => {
  const net = await createTestNetwork({ clients: 2, roundDuration: 0.2, roundTimeout: 0.1 });
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    name: "mix_1",
    format: "json",
    write: (line) => lines.push(JSON.parse(line)),
  });
  // mix_2 reads mix_1's key from a file an operator got wrong.
  const keyFile = publicKeyPath(net.dir, "mix_1");
  const published = await Deno.readFile(keyFile);
  await Deno.writeTextFile(
    keyFile,
    btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32)))) + "\n",
  );
  try {
    await net.startMix("mix_3");
    await net.startMix("mix_2");
    const mix1 = await net.startMix("mix_1", { logger });
    const start = await net.start();
    const round = Math.floor((Date.now() - start.epoch_ms) / 200) + 1;
    await net.send("client_1", round, net.onion("client_2", "held until the key is fixed"));
    const refused = () => lines.filter((l) => l.message === "forward refused, retrying slowly");
    await waitUntil(() => refused().length >= 1, 10_000, "the refusal logged");
    const [line] = refused();
    assert.equal(line.level, "error");
    assert.equal(line.next, "mix_2");
    assert.match(
      String(line.error),
      /ForwardBatch on mix_2 \(127\.0\.0\.1:\d+\) failed: PERMISSION_DENIED: .*its MAC does not verify/,
    );
    assert.ok(Number(line.retry_ms) >= 1000, `retried after ${line.retry_ms} ms`);
    assert.ok(mix1.metrics.counters["forward.refused"] >= 1);
    assert.ok(lines.every((l) => l.message !== "forward failed, retrying"), "logged as transient");

    await Deno.writeFile(keyFile, published);
    let got: string[] = [];
    await waitUntil(
      async () => {
        got = got.concat(net.open("client_2", await net.poll("client_2")));
        return got.length > 0;
      },
      40_000,
      "the held message",
      200,
    );
    assert.deepEqual(got, ["held until the key is fixed"]);
    assert.ok(lines.some((l) => l.message === "next mix is back"));
  } finally {
    await Deno.writeFile(keyFile, published);
    await net.close();
  }
});
