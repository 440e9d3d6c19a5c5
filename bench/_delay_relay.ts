/**
 * A TCP relay that holds every chunk `delayMs` before passing it on, in both directions and in
 * order: a link of that one-way delay where the kernel has no netem.
 *
 *   deno run --allow-net relay.ts LISTEN_HOST:PORT TARGET_HOST:PORT DELAY_MS
 */

/** Copies `from` to `to`, each chunk written `delayMs` after it was read. */
async function pipe(from: Deno.Conn, to: Deno.Conn, delayMs: number): Promise<void> {
  const queue: { at: number; bytes: Uint8Array }[] = [];
  let done = false;
  let wake: () => void = () => {};
  const writer = (async () => {
    for (;;) {
      const next = queue.shift();
      if (!next) {
        if (done) return;
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      const wait = next.at - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      await to.write(next.bytes).catch(() => {});
    }
  })();
  try {
    for await (const chunk of from.readable) {
      queue.push({ at: performance.now() + delayMs, bytes: chunk });
      wake();
    }
  } catch {
    // The other side went away.
  }
  done = true;
  wake();
  await writer;
  try {
    await to.closeWrite();
  } catch {
    // Already closed.
  }
}

if (import.meta.main) {
  const [listen, target, delay] = Deno.args;
  const split = (a: string) => ({
    hostname: a.slice(0, a.lastIndexOf(":")),
    port: Number(a.slice(a.lastIndexOf(":") + 1)),
  });
  const listener = Deno.listen(split(listen));
  console.log(`relay ${listen} -> ${target} delay=${delay}ms ready`);
  for await (const inbound of listener) {
    inbound.setNoDelay(true);
    Deno.connect(split(target)).then((outbound) => {
      outbound.setNoDelay(true);
      Promise.all([
        pipe(inbound, outbound, Number(delay)),
        pipe(outbound, inbound, Number(delay)),
      ]).finally(() => {
        try {
          inbound.close();
        } catch { /* closed */ }
        try {
          outbound.close();
        } catch { /* closed */ }
      });
    }, () => inbound.close());
  }
}
