import assert from "node:assert/strict";
import { createTestNetwork } from "../_testkit/network.ts";
import { waitUntil } from "../_testkit/ports.ts";
import { publicKeyPath } from "../../src/crypto/mod.ts";
import { createLogger } from "../../src/log.ts";

Deno.test("a registration the first mix refuses is logged as an error with the reason, counted, retried slowly, and heals once the cause is fixed", async () => {
  const net = await createTestNetwork({ clients: 1, roundDuration: 0.2, roundTimeout: 0.1 });
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    name: "client_1",
    format: "json",
    write: (line) => lines.push(JSON.parse(line)),
  });
  // The first mix checks client_1's proof against a key file an operator got wrong.
  const keyFile = publicKeyPath(net.dir, "client_1");
  const published = await Deno.readFile(keyFile);
  await Deno.writeTextFile(
    keyFile,
    btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32)))) + "\n",
  );
  try {
    await net.startAllMixes();
    const starting = net.startClient("client_1", { logger });
    starting.catch(() => {});
    const refused = () =>
      lines.filter((l) => l.message === "registration refused, retrying slowly");
    await waitUntil(() => refused().length >= 1, 10_000, "the refusal logged");
    const [line] = refused();
    assert.equal(line.level, "error");
    assert.equal(line.mix, "mix_1");
    assert.match(
      String(line.error),
      /Register on mix_1 failed: PERMISSION_DENIED: .*does not verify/,
    );
    assert.ok(Number(line.retry_ms) >= 1000, `retried after ${line.retry_ms} ms`);

    await Deno.writeFile(keyFile, published);
    const client = await starting;
    assert.ok(client.metrics.counters["register.refused"] >= 1);
    await net.client("client_1").prepareMessage({
      message: "registered after all",
      recipient_pubkey: net.keyFile("client_1"),
      recipient_addr: net.config.clients[0].address,
    });
    let got: string[] = [];
    await waitUntil(
      async () => {
        got = got.concat((await net.client("client_1").pollMessages()).messages);
        return got.length > 0;
      },
      10_000,
      "the message",
      100,
    );
    assert.deepEqual(got, ["registered after all"]);
  } finally {
    await Deno.writeFile(keyFile, published);
    await net.close();
  }
});
