import assert from "node:assert/strict";
import { createTestNetwork } from "../_testkit/network.ts";
import { waitUntil } from "../_testkit/ports.ts";
import { createLogger, type LogLevel } from "../../src/log.ts";

Deno.test("what a client logs at info and above, and records in its metrics, says nothing of whom it writes to nor of what a round's packet carried", async () => {
  const net = await createTestNetwork({
    clients: 3,
    roundDuration: 0.2,
    roundTimeout: 0.1,
    extra: { loop_every: 2 },
  });
  const lines: { id: string; level: LogLevel; line: string }[] = [];
  try {
    await net.startAllMixes();
    await Promise.all(net.config.clients.map((c) =>
      net.startClient(c.id, {
        logger: createLogger({
          name: c.id,
          level: "debug",
          write: (line) =>
            lines.push({
              id: c.id,
              level: line.split(" ")[1].trim().toLowerCase() as LogLevel,
              line,
            }),
        }),
      })
    ));
    const to = net.config.clients[2];
    for (let i = 0; i < 3; i++) {
      await net.client("client_1").prepareMessage({
        message: `secret #${i}`,
        recipient_pubkey: net.keyFile(to.id),
        recipient_addr: to.address,
      });
    }
    assert.equal((await net.messagesOf(to.id, 3)).length, 3);
    await waitUntil(
      () =>
        net.config.clients.every((c) =>
          (net.clients.get(c.id)!.metrics.counters["loops.returned"] ?? 0) >= 1
        ),
      15_000,
      "a loop back at every client",
    );
    // The debug log does say what each round carried: the capture works.
    const debug = lines.filter((l) => l.level === "debug").map((l) => l.line).join("\n");
    assert.match(debug, / message sent round=\d+/);
    assert.match(debug, / loop sent round=\d+/);
    assert.match(debug, / dummy sent round=\d+/);
    // Nothing at info or above does.
    for (const { id, line } of lines.filter((l) => l.level !== "debug")) {
      for (const other of net.config.clients.filter((c) => c.id !== id)) {
        assert.ok(!line.includes(other.id), `${id} names ${other.id}: ${line}`);
        assert.ok(!line.includes(other.address), `${id} names ${other.address}: ${line}`);
      }
      assert.doesNotMatch(line, /secret|dummy|kind=| message | sent round|to=/, line);
    }
    for (const c of net.config.clients) {
      const metrics = net.clients.get(c.id)!.metrics;
      for (const record of metrics.recent) {
        assert.deepEqual(
          Object.keys(record).filter((k) => !["event", "round", /_ms$/].some((p) => k.match(p))),
          [],
          `${c.id} records ${JSON.stringify(record)}`,
        );
      }
      assert.deepEqual(
        Object.keys(metrics.counters).filter((k) => /message|dummy|received/.test(k)),
        [],
      );
    }
  } finally {
    await net.close();
  }
});
