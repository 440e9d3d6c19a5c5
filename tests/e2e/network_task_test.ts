import assert from "node:assert/strict";
import { loadConfig } from "../../src/config/mod.ts";
import { parseLogLine } from "../../src/log.ts";
import { denoCommand, deriveConfig, generateKeys, startNetwork } from "../../tasks/launch/mod.ts";
import { isListening, waitUntil } from "../_testkit/ports.ts";
import { collect, run, spawn, TASK_PERMISSIONS } from "./_run.ts";

/** The entries of folder `dir`, sorted. */
async function list(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

/** Runs `body` with a private TMPDIR, so that only the task's own temp folders appear in it. */
async function withTmpdir(body: (tmp: string) => Promise<void>): Promise<void> {
  const tmp = await Deno.makeTempDir({ prefix: "mixnet-test-tmpdir-" });
  try {
    await body(tmp);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

Deno.test("a derived network that cannot start removes its temp folder and the secret keys in it, unless --keep", async () => {
  await withTmpdir(async (tmp) => {
    const network = (...args: string[]) =>
      run("tasks/network.ts", args, TASK_PERMISSIONS, { TMPDIR: tmp });
    const invalid = await network("--base-port", "70000");
    assert.equal(invalid.code, 2, invalid.stdout);
    assert.match(
      invalid.stderr,
      /--base-port: expected a whole number >= 1 and <= 65535, got "70000"/,
    );
    assert.deepEqual(await list(tmp), []);
    // A port that passes the flag but not the config: the mixes' ports run past 65535.
    const past = await network("--base-port", "65534");
    assert.equal(past.code, 1, past.stdout);
    assert.match(past.stderr, /mix_servers\[2\]\.address: port must be 1 to 65535, got 65536/);
    assert.deepEqual(await list(tmp), []);

    // By the time a taken port is found, the run's keys exist.
    const squatter = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = String((squatter.addr as Deno.NetAddr).port);
    try {
      const taken = await network("--clients", "2", "--base-port", port);
      assert.equal(taken.code, 1, taken.stdout);
      assert.match(taken.stdout, /network: created keys for mix_1, mix_2, mix_3, client_1/);
      assert.match(taken.stderr, new RegExp(`Port ${port} of mix_1 .* is already in use`));
      assert.deepEqual(await list(tmp), []);

      const kept = await network("--clients", "2", "--base-port", port, "--keep");
      assert.equal(kept.code, 1, kept.stdout);
      const [dir, ...more] = await list(tmp);
      assert.match(dir, /^mixnet-network-/);
      assert.deepEqual(more, []);
      assert.match(kept.stdout, new RegExp(`network: kept ${tmp}/${dir} \\(--keep\\)`));
      assert.ok((await Deno.stat(`${tmp}/${dir}/secret/mix_1.secret`)).isFile);
    } finally {
      squatter.close();
    }
  });
});

Deno.test("a derived network started through npx says how to send through npx, and removes its temp folder when stopped with Ctrl-C", async () => {
  await withTmpdir(async (tmp) => {
    const child = spawn("tasks/network.ts", [
      "--clients",
      "2",
      "--round-duration",
      "0.3",
      "--log-format",
      "json",
    ], {
      TMPDIR: tmp,
      // What npx sets in the processes it starts.
      npm_lifecycle_event: "npx",
      npm_command: "exec",
    });
    const out: string[] = [];
    const reading = Promise.all([collect(child.stdout, out), collect(child.stderr, out)]);
    const records = () =>
      out.join("").split("\n").map(parseLogLine).filter((r) => r?.node === "network");
    const event = (message: string) => records().find((r) => r!.message === message);
    try {
      await waitUntil(() => event("ready") !== undefined, 60_000, "the network");
      const [dir] = await list(tmp);
      assert.equal(event("derived config")?.config, `${tmp}/${dir}/config.yaml`);
      assert.equal(
        event("ready")?.try,
        `npx --yes deno@${Deno.version.deno} task send --from client_1 --to client_2 ` +
          `--message hello --config ${tmp}/${dir}/config.yaml`,
      );
      assert.ok((await Deno.stat(`${tmp}/${dir}/secret/client_1.secret`)).isFile);
      child.kill("SIGINT");
      assert.equal((await child.status).code, 0, out.join(""));
      await reading;
      assert.ok(event("stopped"), out.join(""));
      assert.deepEqual(await list(tmp), []);
    } finally {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already exited.
      }
      await child.status;
      await reading;
    }
  });
});

Deno.test("a start interrupted by a signal stops the nodes started so far and rejects", async () => {
  const configPath = await deriveConfig("config/config.yaml", { clients: 2 });
  const dir = configPath.slice(0, configPath.lastIndexOf("/"));
  try {
    const config = await loadConfig(configPath);
    await generateKeys(config);
    const interrupt = new AbortController();
    const seen: string[] = [];
    await assert.rejects(
      startNetwork(configPath, {
        // The first line of any mix comes before every mix is ready, so before any client starts.
        onLine: (id) => (seen.push(id), interrupt.abort()),
        signal: interrupt.signal,
      }),
      /Start interrupted: stopped every node/,
    );
    assert.ok(seen.every((id) => id.startsWith("mix_")), seen.join(", "));
    for (const node of [...config.mixServers, ...config.clients]) {
      const port = Number(node.address.split(":")[1]);
      assert.equal(await isListening(port), false, `${node.id} still listens on ${port}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hints name deno as the user started it: from PATH, or through npx", () => {
  const env = (vars: Record<string, string>) => ({ get: (name: string) => vars[name] });
  assert.equal(denoCommand(env({}), "2.9.6"), "deno");
  assert.equal(denoCommand(env({ npm_lifecycle_event: "", npm_command: "" }), "2.9.6"), "deno");
  assert.equal(
    denoCommand(env({ npm_lifecycle_event: "npx", npm_command: "exec" }), "2.9.6"),
    "npx --yes deno@2.9.6",
  );
  assert.equal(denoCommand(env({ npm_command: "exec" }), "2.9.6"), "npx --yes deno@2.9.6");
});
