/**
 * A mix's data_dir on a small tmpfs: filled up under traffic (the first mix and the last), and
 * read-only at start.
 * Mounting needs root (CAP_SYS_ADMIN); where the test cannot mount it says so and is ignored.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createTestNetwork, type TestNetwork } from "../_testkit/network.ts";
import { waitUntil } from "../_testkit/ports.ts";
import { childEnv, NodeProcess } from "../../tasks/launch/mod.ts";
import { closeProxied, type ProxiedMix, relocateMix, startProxiedMix } from "../_testkit/proxy.ts";
import { MixStore } from "../../src/mix/mod.ts";

function run(...args: string[]): { ok: boolean; stderr: string } {
  const out = new Deno.Command(args[0], {
    args: args.slice(1),
    stderr: "piped",
    clearEnv: true,
    env: childEnv(),
  }).outputSync();
  return { ok: out.success, stderr: new TextDecoder().decode(out.stderr).trim() };
}

/** Mounts a tmpfs of `size` at a new directory under `parent`. */
function mountTmpfs(parent: string, size: string): string {
  const dir = join(parent, "tmpfs");
  Deno.mkdirSync(dir, { recursive: true });
  const mounted = run("mount", "-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir);
  if (!mounted.ok) throw new Error(`mount failed: ${mounted.stderr}`);
  return dir;
}

function unmount(dir: string): void {
  run("umount", dir);
}

const cannotMount = (() => {
  const probe = Deno.makeTempDirSync({ prefix: "mixnet-mount-" });
  try {
    unmount(mountTmpfs(probe, "64k"));
    return undefined;
  } catch (error) {
    return (error as Error).message;
  } finally {
    Deno.removeSync(probe, { recursive: true });
  }
})();
if (cannotMount) console.warn(`disk tests ignored: they mount a tmpfs (${cannotMount})`);

/** Writes until the file system is full; returns the filler file. */
function fill(dir: string): string {
  const path = join(dir, "filler");
  const file = Deno.openSync(path, { write: true, create: true });
  const block = new Uint8Array(16 * 1024);
  try {
    for (;;) file.writeSync(block);
  } catch (error) {
    if (!/No space left on device/.test((error as Error).message)) throw error;
  } finally {
    file.close();
  }
  return path;
}

/**
 * client_1 sends "before the disk fills" to client_2 and it arrives; `send` sends more, and
 * `deliveredOnceAfter` removes the filler and checks that the messages sent `during` the full
 * disk arrive after it, in order, each once.
 */
async function firstDelivery(net: TestNetwork) {
  const send = async (message: string) =>
    await net.client("client_1").prepareMessage({
      message,
      recipient_pubkey: net.keyFile("client_2"),
      recipient_addr: net.config.clients[1].address,
    });
  const received: string[] = [];
  const poll = async () => {
    received.push(...(await net.client("client_2").pollMessages()).messages);
  };
  await send("before the disk fills");
  await waitUntil(async () => (await poll(), received.length === 1), 10_000, "a delivery");
  const deliveredOnceAfter = async (filler: string, during: readonly string[]) => {
    Deno.removeSync(filler);
    await waitUntil(
      async () => (await poll(), received.length >= 1 + during.length),
      30_000,
      "every message after space is back",
      200,
    );
    // Nothing more: a marker client_1 queues after them arrives next.
    received.push(...await net.messagesUntilMarker("client_2", "client_1"));
    assert.deepEqual(received, ["before the disk fills", ...during]);
  };
  return { send, deliveredOnceAfter };
}

Deno.test({
  name:
    "a last mix whose data_dir is full refuses batches with the file named, acknowledges nothing it did not store, and delivers every message once when space is back",
  ignore: cannotMount !== undefined,
  async fn() {
    const net = await createTestNetwork({ clients: 3, roundDuration: 0.3, roundTimeout: 0.15 });
    const disk = mountTmpfs(net.dir, "4m");
    const answers: { round: number; error?: string; code?: number }[] = [];
    const hops: ProxiedMix[] = [];
    try {
      hops.push(
        await startProxiedMix(net, "mix_3", {
          settings: { data_dir: disk },
          hook: async (method, request, relay) => {
            if (method !== "ForwardBatch") return relay(request);
            const round = (request as { round: number }).round;
            try {
              const answer = await relay(request);
              answers.push({ round });
              return answer;
            } catch (error) {
              answers.push({ round, error: (error as Error).message });
              throw error;
            }
          },
        }),
      );
      await net.startMix("mix_2");
      await net.startMix("mix_1");
      await Promise.all(net.config.clients.map((c) => net.startClient(c.id)));
      const { send, deliveredOnceAfter } = await firstDelivery(net);

      const filler = fill(disk);
      const refusedFrom = answers.length;
      const refused = () => answers.slice(refusedFrom).filter((a) => a.error);
      // Messages the first mix acknowledges while the last mix cannot store anything.
      const during = Array.from({ length: 5 }, (_, i) => `while the disk is full #${i}`);
      for (const message of during) await send(message);
      await waitUntil(
        () => net.clients.get("client_1")!.queueLength() === 0,
        10_000,
        "mix_1 acknowledged all",
      );
      await waitUntil(() => refused().length >= 3, 15_000, "three refused batches");
      for (const { error } of refused()) {
        assert.match(
          error!,
          new RegExp(`Cannot write ${disk}/mix_3\\.sqlite: database or disk is full`),
        );
      }
      const mix3 = hops[0].node.metrics.counters;

      await deliveredOnceAfter(filler, during);
      console.log(
        `${refused().length} batches refused while the disk was full (${
          mix3["rounds.retried"] ?? 0
        } rounds retried at mix_3), ${during.length} messages acknowledged meanwhile, all delivered once`,
      );
    } finally {
      await closeProxied(net, hops);
      unmount(disk);
    }
  },
});

Deno.test({
  name:
    "a first mix whose data_dir is full refuses the clients' packets it cannot store, naming the file, and delivers every message once when space is back",
  ignore: cannotMount !== undefined,
  async fn() {
    const net = await createTestNetwork({ clients: 3, roundDuration: 0.3, roundTimeout: 0.15 });
    const disk = mountTmpfs(net.dir, "4m");
    const refusals: string[] = [];
    const hops: ProxiedMix[] = [];
    try {
      await net.startMix("mix_3");
      await net.startMix("mix_2");
      hops.push(
        await startProxiedMix(net, "mix_1", {
          settings: { data_dir: disk },
          hook: async (method, request, relay) => {
            try {
              return await relay(request);
            } catch (error) {
              if (method === "ForwardMessage") refusals.push((error as Error).message);
              throw error;
            }
          },
        }),
      );
      await Promise.all(net.config.clients.map((c) => net.startClient(c.id)));
      const { send, deliveredOnceAfter } = await firstDelivery(net);

      const filler = fill(disk);
      const refusedFrom = refusals.length;
      // Some packets may still fit in the log's pages already on disk: those are stored and
      // acknowledged; the rest are refused until space is back.
      const during = Array.from({ length: 3 }, (_, i) => `while the disk is full #${i}`);
      for (const message of during) await send(message);
      await waitUntil(() => refusals.length - refusedFrom >= 6, 15_000, "six refused packets");
      for (const refusal of refusals.slice(refusedFrom)) {
        assert.match(
          refusal,
          new RegExp(`Cannot write ${disk}/mix_1\\.sqlite: database or disk is full`),
        );
      }

      await deliveredOnceAfter(filler, during);
      console.log(
        `${
          refusals.length - refusedFrom
        } client packets refused while mix_1's disk was full; ${during.length} messages delivered once after`,
      );
    } finally {
      await closeProxied(net, hops);
      unmount(disk);
    }
  },
});

Deno.test({
  name: "a mix whose data_dir is read-only refuses to start and names the file",
  ignore: cannotMount !== undefined,
  async fn() {
    const net = await createTestNetwork({ clients: 2 });
    const disk = mountTmpfs(net.dir, "4m");
    const relocated = await relocateMix(net, "mix_3", { data_dir: disk });
    try {
      // A database from an earlier run, then the file system turns read-only.
      await new MixStore(join(disk, "mix_3.sqlite"), "key").close();
      const remounted = run("mount", "-o", "remount,ro", disk);
      assert.ok(remounted.ok, remounted.stderr);
      const mix = new NodeProcess("mix", "mix_3", relocated.path);
      assert.equal((await mix.status).code, 1);
      assert.match(
        mix.lines.join("\n"),
        new RegExp(
          `Cannot open database ${disk}/mix_3\\.sqlite: (unable to open database file|attempt to write a readonly database) \\(is data_dir writable, with free space\\?\\)`,
        ),
      );
    } finally {
      unmount(disk);
      await net.close();
    }
  },
});
