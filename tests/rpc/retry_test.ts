import assert from "node:assert/strict";
import { createLogger, RateLimitedLog } from "../../src/log.ts";
import { MixnetError } from "../../src/errors.ts";
import {
  BACKOFF,
  backoffDelay,
  grpc,
  logRetry,
  retry,
  type RetryFailure,
  RpcError,
  Stopped,
} from "../../src/rpc/mod.ts";

const down = () =>
  new RpcError("mix_2", "ForwardBatch", grpc.status.UNAVAILABLE, "connect ECONNREFUSED");
const denied = () =>
  new RpcError("mix_2", "ForwardBatch", grpc.status.PERMISSION_DENIED, "its MAC does not verify");

Deno.test("backoff grows from a fast first retry to its cap", () => {
  const waits = Array.from({ length: 8 }, (_, i) => backoffDelay(BACKOFF.transient, i + 1));
  assert.deepEqual(waits, [50, 100, 200, 400, 800, 1000, 1000, 1000]);
  assert.ok(BACKOFF.permanent.initialMs >= 1000);
  assert.ok(BACKOFF.permanent.maxMs > BACKOFF.transient.maxMs);
});

Deno.test("transient failures are retried until the operation succeeds, each reported", async () => {
  const failures: RetryFailure[] = [];
  const value = await retry((attempt) => {
    if (attempt < 4) return Promise.reject(down());
    return Promise.resolve(`done at ${attempt}`);
  }, { onFailure: (f) => failures.push(f), random: () => 0.5 });
  assert.equal(value, "done at 4");
  assert.deepEqual(failures.map((f) => [f.attempt, f.kind, f.retryInMs]), [
    [1, "transient", 50],
    [2, "transient", 100],
    [3, "transient", 200],
  ]);
});

Deno.test("a permanent failure is thrown at once when asked, and never retried at the fast rate", async () => {
  const failures: RetryFailure[] = [];
  await assert.rejects(
    retry(() => Promise.reject(denied()), {
      permanent: "throw",
      onFailure: (f) => failures.push(f),
    }),
    /PERMISSION_DENIED/,
  );
  assert.deepEqual(failures.map((f) => [f.attempt, f.kind, f.retryInMs]), [[
    1,
    "permanent",
    undefined,
  ]]);
  // Retried, it waits the slow schedule: seconds, not milliseconds.
  const slow: RetryFailure[] = [];
  const stop = new AbortController();
  const running = retry(() => Promise.reject(denied()), {
    signal: stop.signal,
    onFailure: (f) => (slow.push(f), stop.abort()),
  });
  await assert.rejects(running, Stopped);
  assert.ok(slow[0].retryInMs! >= BACKOFF.permanent.initialMs * (1 - BACKOFF.permanent.jitter));
});

Deno.test("no attempt starts after the deadline: the last failure is thrown", async () => {
  let attempts = 0;
  const started = Date.now();
  await assert.rejects(
    retry(() => (attempts++, Promise.reject(down())), { deadlineMs: Date.now() + 300 }),
    /UNAVAILABLE/,
  );
  assert.ok(attempts >= 2 && attempts <= 6, `${attempts} attempts`);
  // Well before the 2 s a permanent failure would wait, and about the deadline.
  assert.ok(Date.now() - started < 1500);
});

Deno.test("stopping ends the wait at once and rejects with Stopped", async () => {
  const stop = new AbortController();
  const running = retry(() => Promise.reject(denied()), { signal: stop.signal });
  const started = Date.now();
  setTimeout(() => stop.abort(), 50);
  await assert.rejects(running, Stopped);
  // Well before the slow schedule's first wait of 2 s.
  assert.ok(Date.now() - started < 1500);
});

Deno.test("a stopped signal prevents every attempt, or only the retries when the first is always made", async () => {
  const stopped = AbortSignal.abort();
  let attempts = 0;
  const succeed = () => Promise.resolve(++attempts);
  await assert.rejects(retry(succeed, { signal: stopped }), Stopped);
  assert.equal(attempts, 0);
  assert.equal(await retry(succeed, { signal: stopped, firstAttemptWhenStopped: true }), 1);
  const fail = () => Promise.reject(new Error(`attempt ${++attempts}`));
  await assert.rejects(retry(fail, { signal: stopped, firstAttemptWhenStopped: true }), Stopped);
  assert.equal(attempts, 2, "one more attempt, not retried");
});

Deno.test("retries are logged rate-limited: transient as warnings, refusals as errors naming the peer and reason", () => {
  const lines: string[] = [];
  let now = 0;
  const log = new RateLimitedLog(createLogger({ name: "mix_1", write: (l) => lines.push(l) }), {
    intervalMs: 5000,
    now: () => now,
  });
  for (let attempt = 1; attempt <= 4; attempt++) {
    logRetry(log, "forward", { error: down(), attempt, kind: "transient", retryInMs: 100 }, {
      round: 7,
    });
    now += 2000;
  }
  logRetry(log, "forward", { error: denied(), attempt: 5, kind: "permanent", retryInMs: 2000 }, {
    round: 7,
  });
  logRetry(log, "round processing", {
    error: new MixnetError("Cannot write x", { status: "failed-precondition" }),
    attempt: 1,
    kind: "permanent",
    retryInMs: undefined,
  });
  assert.equal(lines.length, 4, lines.join("\n"));
  assert.match(lines[0], /WARN {2}mix_1 forward failed, retrying round=7 attempt=1 retry_ms=100 /);
  assert.match(lines[1], /forward failed, retrying round=7 attempt=4 .* suppressed=2$/);
  assert.match(
    lines[2],
    /ERROR mix_1 forward refused, retrying slowly round=7 attempt=5 retry_ms=2000 error="ForwardBatch on mix_2 failed: PERMISSION_DENIED: its MAC does not verify"/,
  );
  assert.match(lines[3], /ERROR mix_1 round processing failed attempt=1 error="Cannot write x"/);
});

Deno.test("a wait after a transient failure ends once the peer's channel is back; a refusal's wait does not", async () => {
  let attempts = 0;
  const started = Date.now();
  await retry((attempt) => {
    attempts = attempt;
    return attempt < 6 ? Promise.reject(down()) : Promise.resolve();
  }, { reconnected: () => Promise.resolve() });
  assert.equal(attempts, 6);
  // Without it the waits alone take 50 + 100 + 200 + 400 + 800 ms.
  assert.ok(Date.now() - started < 1000, `${Date.now() - started} ms`);

  const stop = new AbortController();
  let refused = 0;
  const running = retry(() => (refused++, Promise.reject(denied())), {
    signal: stop.signal,
    reconnected: () => Promise.resolve(),
  });
  setTimeout(() => stop.abort(), 300);
  await assert.rejects(running, Stopped);
  assert.equal(refused, 1);
});
