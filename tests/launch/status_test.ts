import assert from "node:assert/strict";
import type { LogRecord } from "../../src/log.ts";
import { NetworkStatus } from "../../tasks/launch/mod.ts";

/** A record as a node logs it (observe is told which node). */
const record = (message: string, fields: Record<string, unknown> = {}): LogRecord => ({
  time: "2026-01-01T00:00:00.000Z",
  level: "info",
  node: "any",
  message,
  ...fields,
});

Deno.test("the status line shows each mix's own round, so a mix behind or stuck is visible", () => {
  const status = new NetworkStatus(["mix_1", "mix_2", "mix_3"]);
  assert.equal(
    String(status),
    "mix_1 r- 0→0 | mix_2 r- 0→0 | mix_3 r- 0→0 | dropped 0 | loops back 0/0, lost 0, last -",
  );
  assert.ok(
    status.observe("mix_1", record("round processed", { round: 41, in: 4, out: 4, dropped: 0 })),
  );
  assert.ok(
    status.observe("mix_2", record("round processed", { round: 40, in: 4, out: 4, dropped: 1 })),
  );
  assert.ok(
    status.observe("mix_3", record("round stored", { round: 12, in: 4, out: 2, dropped: 0 })),
  );
  assert.equal(
    status.observe("mix_2", record("forward failed, retrying", { round: 13, attempt: 9 })),
    false,
  );
  assert.deepEqual(status.rounds, { mix_1: 41, mix_2: 40, mix_3: 12 });
  assert.equal(
    String(status),
    "mix_1 r41 4→4 | mix_2 r40 4→4 (retrying r13) | mix_3 r12 4→2 | dropped 1 | " +
      "loops back 0/0, lost 0, last -",
  );
  status.observe("mix_2", record("next mix is back", { round: 13 }));
  status.observe(
    "client_1",
    record("loops", { sent: 3, returned: 2, lost: 0, latency_ms: 1500, alarm: false }),
  );
  status.observe(
    "client_2",
    record("loops lost: a mix may be dropping this client's packets", { lost: 1 }),
  );
  assert.equal(
    String(status),
    "mix_1 r41 4→4 | mix_2 r40 4→4 | mix_3 r12 4→2 | dropped 1 | " +
      "loops back 2/3, lost 1, last 1.50 s | ALARM client_2: loops lost",
  );
});
