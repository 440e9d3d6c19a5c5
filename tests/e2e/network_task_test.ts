import assert from "node:assert/strict";
import { loadConfig } from "../../src/config/mod.ts";
import { startNetwork } from "../../tasks/_network.ts";
import { denoCommand } from "../../tasks/_deno_command.ts";
import { deriveConfig, generateKeys } from "../../tasks/_network_config.ts";
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
    assert.equal(invalid.code, 1, invalid.stdout);
    assert.match(invalid.stderr, /mix_servers\[0\]\.address: port must be 1 to 65535, got 70000/);
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
    const child = spawn("tasks/network.ts", ["--clients", "2", "--round-duration", "0.3"], {
      TMPDIR: tmp,
      // What npx sets in the processes it starts.
      npm_lifecycle_event: "npx",
      npm_command: "exec",
    });
    const out: string[] = [];
    const reading = Promise.all([collect(child.stdout, out), collect(child.stderr, out)]);
    try {
      await waitUntil(() => out.join("").includes("all 5 nodes ready"), 60_000, "the network");
      const [dir] = await list(tmp);
      assert.match(out.join(""), new RegExp(`derived config ${tmp}/${dir}/config\\.yaml`));
      assert.ok(
        out.join("").includes(
          `Try: npx --yes deno@${Deno.version.deno} task send --from client_1 --to client_2 ` +
            `--message hello --config ${tmp}/${dir}/config.yaml. Ctrl-C stops.`,
        ),
        out.join(""),
      );
      assert.ok((await Deno.stat(`${tmp}/${dir}/secret/client_1.secret`)).isFile);
      child.kill("SIGINT");
      assert.equal((await child.status).code, 0, out.join(""));
      await reading;
      assert.match(out.join(""), /network: stopped\n/);
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
