import assert from "node:assert/strict";
import { loadConfig } from "../../src/config/mod.ts";
import { deriveConfig } from "../../tasks/_network_config.ts";
import { isListening, waitUntil } from "../_testkit/ports.ts";
import { CLI_PERMISSIONS, collect, run, spawn } from "./_run.ts";

Deno.test("a user starts the network, sends a message, receives it exactly once, and stops it with Ctrl-C", async () => {
  const configPath = await deriveConfig("config/config.yaml", { roundDuration: 0.3 });
  const dir = configPath.slice(0, configPath.lastIndexOf("/"));
  const config = await loadConfig(configPath);
  const network = spawn("tasks/network.ts", ["--config", configPath]);
  const out: string[] = [];
  const reading = Promise.all([collect(network.stdout, out), collect(network.stderr, out)]);
  try {
    await waitUntil(
      () => out.join("").includes("all 7 nodes ready"),
      60_000,
      "the network to be ready",
    );
    const sent = await run("src/cli.ts", [
      "send",
      "--from",
      "client_1",
      "--to",
      "client_2",
      "--message",
      "hello over three mixes",
      "--config",
      configPath,
    ], CLI_PERMISSIONS);
    assert.equal(sent.code, 0, sent.stderr);
    assert.match(sent.stdout, /^queued for round \d+ \(prepared in [\d.]+ ms\)\n$/);
    const received: string[] = [];
    await waitUntil(
      async () => {
        const polled = await run("src/cli.ts", [
          "poll",
          "--client",
          "client_2",
          "--config",
          configPath,
        ], CLI_PERMISSIONS);
        assert.equal(polled.code, 0, polled.stderr);
        received.push(...polled.stdout.split("\n").filter((l) => l));
        return received.length > 0;
      },
      20_000,
      "the message at client_2",
      200,
    );
    await new Promise((r) => setTimeout(r, 1000));
    const again = await run(
      "src/cli.ts",
      ["poll", "--client", "client_2", "--config", configPath],
      CLI_PERMISSIONS,
    );
    received.push(...again.stdout.split("\n").filter((l) => l));
    assert.deepEqual(received, ["hello over three mixes"]);

    network.kill("SIGINT");
    const status = await network.status;
    await reading;
    const text = out.join("");
    assert.equal(status.code, 0, text);
    for (const node of [...config.mixServers, ...config.clients]) {
      assert.match(
        text,
        new RegExp(`${node.id} +\\| .* ${node.id} stopped`),
        `${node.id} did not stop:\n${text}`,
      );
      const port = Number(node.address.split(":")[1]);
      assert.equal(await isListening(port), false, `port ${port} of ${node.id} still bound`);
    }
    assert.match(text, /network: stopped\n/);
  } finally {
    try {
      network.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await network.status;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

/** The pids node `id` announced in its "ready" lines, oldest first. */
function readyPids(text: string, id: string): number[] {
  const ready = new RegExp(`^${id} +\\| .* ${id} ready .*pid=(\\d+)`, "gm");
  return [...text.matchAll(ready)].map((m) => Number(m[1]));
}

Deno.test("with --restart, a mix killed with SIGKILL is started again and the network keeps delivering", async () => {
  const configPath = await deriveConfig("config/config.yaml", { roundDuration: 0.3 });
  const dir = configPath.slice(0, configPath.lastIndexOf("/"));
  const network = spawn("tasks/network.ts", ["--config", configPath, "--restart"]);
  const out: string[] = [];
  const reading = Promise.all([collect(network.stdout, out), collect(network.stderr, out)]);
  const text = () => out.join("");
  try {
    await waitUntil(() => text().includes("all 7 nodes ready"), 60_000, "the network to be ready");
    const [pid] = readyPids(text(), "mix_2");
    assert.ok(pid, `mix_2 announced no pid:\n${text()}`);
    // `kill` rather than Deno.kill, which needs every run permission.
    const killed = await new Deno.Command("kill", { args: ["-KILL", String(pid)] }).output();
    assert.ok(killed.success, new TextDecoder().decode(killed.stderr));
    await waitUntil(
      () => readyPids(text(), "mix_2").length === 2,
      30_000,
      "mix_2 restarted and ready again",
    );
    assert.match(text(), /mix_2 +\| restarting \(--restart\)/);
    const sent = await run("src/cli.ts", [
      "send",
      "--from",
      "client_3",
      "--to",
      "client_4",
      "--message",
      "after the restart",
      "--config",
      configPath,
    ], CLI_PERMISSIONS);
    assert.equal(sent.code, 0, sent.stderr);
    const received: string[] = [];
    await waitUntil(
      async () => {
        const polled = await run(
          "src/cli.ts",
          ["poll", "--client", "client_4", "--config", configPath],
          CLI_PERMISSIONS,
        );
        received.push(...polled.stdout.split("\n").filter((l) => l));
        return received.length > 0;
      },
      20_000,
      "the message at client_4",
      200,
    );
    assert.deepEqual(received, ["after the restart"]);
    network.kill("SIGINT");
    assert.equal((await network.status).code, 0, text());
    await reading;
    assert.match(text(), /mix_2 +\| exited unexpectedly with code/);
    assert.match(text(), /network: stopped\n/);
  } finally {
    try {
      network.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await network.status;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("the demo sends, receives and reports the delivery time", async () => {
  const demo = await run("tasks/demo.ts", []);
  assert.equal(demo.code, 0, demo.stdout + demo.stderr);
  assert.match(
    demo.stdout,
    /client_2 received "Hello from client_1, through three mixes!" after [\d.]+ s/,
  );
  assert.match(demo.stdout, /network stopped/);
});
