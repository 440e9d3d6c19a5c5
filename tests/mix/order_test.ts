import assert from "node:assert/strict";
import { createTestNetwork } from "../_testkit/network.ts";
import { waitUntil } from "../_testkit/ports.ts";

Deno.test("a mix's output order is a fresh uniform permutation of its input order", async () => {
  // One mix is first and last: packets enter in a known order and leave into one mailbox.
  const net = await createTestNetwork({
    mixes: 1,
    clients: 4,
    roundDuration: 0.05,
    roundTimeout: 2,
  });
  try {
    await net.startAllMixes();
    const start = await net.start();
    const n = 4;
    const rounds = 40;
    const counts = Array.from({ length: n * n }, () => 0);
    let unchanged = 0;
    let round = Math.floor((Date.now() - start.epoch_ms) / 50) + 1;
    for (let r = 0; r < rounds; r++, round++) {
      await waitUntil(() => Date.now() >= start.epoch_ms + round * 50, 5000, "round start", 5);
      for (let i = 0; i < n; i++) {
        await net.send(`client_${i + 1}`, round, net.onion("client_1", `${i}`));
      }
      let got: string[] = [];
      await waitUntil(
        async () => {
          got = got.concat(net.open("client_1", await net.poll("client_1")));
          return got.length === n;
        },
        5000,
        `round ${round}`,
      );
      got.forEach((text, position) => counts[Number(text) * n + position]++);
      if (got.join() === "0,1,2,3") unchanged++;
    }
    const expected = rounds / n;
    const chi = counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
    // 9 degrees of freedom: the 0.9999 quantile is about 33.7.
    assert.ok(chi < 33.7, `positions not uniform: chi-square ${chi}, counts ${counts}`);
    assert.ok(unchanged < rounds / 4, `input order kept in ${unchanged} of ${rounds} rounds`);
  } finally {
    await net.close();
  }
});
