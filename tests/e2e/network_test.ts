import assert from "node:assert/strict";
import { loadConfig } from "../../src/config/mod.ts";
import { deriveConfig } from "../../tasks/_network_config.ts";
import { isListening, waitUntil } from "../_testkit/ports.ts";
import { CLI_PERMISSIONS, collect, run, spawn } from "./_run.ts";

/** `deno task network` on a fresh copy of the shipped config (rounds of 0.3 s), as a user runs it. */
class NetworkTask {
  readonly configPath: string;
  readonly #child: Deno.ChildProcess;
  readonly #out: string[] = [];
  readonly #reading: Promise<unknown>;

  private constructor(configPath: string, args: string[]) {
    this.configPath = configPath;
    this.#child = spawn("tasks/network.ts", ["--config", configPath, ...args]);
    this.#reading = Promise.all([
      collect(this.#child.stdout, this.#out),
      collect(this.#child.stderr, this.#out),
    ]);
  }

  /** Starts the task and waits until every node is ready. */
  static async start(args: string[] = []): Promise<NetworkTask> {
    const task = new NetworkTask(
      await deriveConfig("config/config.yaml", { roundDuration: 0.3 }),
      args,
    );
    await waitUntil(() => task.text.includes("all 7 nodes ready"), 60_000, "the network ready");
    return task;
  }

  /** Everything the task printed so far. */
  get text(): string {
    return this.#out.join("");
  }

  /** Ctrl-C: the task's exit status, once all its output is read. */
  async interrupt(): Promise<Deno.CommandStatus> {
    this.#child.kill("SIGINT");
    const status = await this.#child.status;
    await this.#reading;
    return status;
  }

  /**
   * Stops the task if it still runs (Ctrl-C, so it stops its nodes; SIGKILL after 15 s) and
   * removes its config folder.
   */
  async dispose(): Promise<void> {
    try {
      this.#child.kill("SIGINT");
    } catch {
      // Already exited.
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) => (timer = setTimeout(resolve, 15_000, "late")));
    if (await Promise.race([this.#child.status, late]) === "late") this.#child.kill("SIGKILL");
    clearTimeout(timer);
    await this.#child.status;
    const dir = this.configPath.slice(0, this.configPath.lastIndexOf("/"));
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }

  /** `deno task send`, which must succeed. */
  async send(from: string, to: string, message: string): Promise<string> {
    const sent = await run(
      "src/cli.ts",
      ["send", "--from", from, "--to", to, "--message", message, "--config", this.configPath],
      CLI_PERMISSIONS,
    );
    assert.equal(sent.code, 0, sent.stderr);
    return sent.stdout;
  }

  /** `deno task poll` once: the messages it printed. */
  async poll(client: string): Promise<string[]> {
    const polled = await run(
      "src/cli.ts",
      ["poll", "--client", client, "--config", this.configPath],
      CLI_PERMISSIONS,
    );
    assert.equal(polled.code, 0, polled.stderr);
    return polled.stdout.split("\n").filter((l) => l);
  }

  /** Polls until a message arrives, then once more a second later (to catch a duplicate). */
  async receive(client: string): Promise<string[]> {
    const received: string[] = [];
    await waitUntil(
      async () => (received.push(...await this.poll(client)), received.length > 0),
      20_000,
      `a message at ${client}`,
      200,
    );
    await new Promise((r) => setTimeout(r, 1000));
    received.push(...await this.poll(client));
    return received;
  }
}

/** The pids node `id` announced in its "ready" lines, oldest first. */
function readyPids(text: string, id: string): number[] {
  const ready = new RegExp(`^${id} +\\| .* ${id} ready .*pid=(\\d+)`, "gm");
  return [...text.matchAll(ready)].map((m) => Number(m[1]));
}

Deno.test("a user starts the network, sends a message, receives it exactly once, and stops it with Ctrl-C", async () => {
  const network = await NetworkTask.start();
  try {
    const config = await loadConfig(network.configPath);
    assert.match(
      await network.send("client_1", "client_2", "hello over three mixes"),
      /^queued for round \d+ \(prepared in [\d.]+ ms\)\n$/,
    );
    assert.deepEqual(await network.receive("client_2"), ["hello over three mixes"]);

    const status = await network.interrupt();
    assert.equal(status.code, 0, network.text);
    for (const node of [...config.mixServers, ...config.clients]) {
      assert.match(
        network.text,
        new RegExp(`${node.id} +\\| .* ${node.id} stopped`),
        `${node.id} did not stop:\n${network.text}`,
      );
      const port = Number(node.address.split(":")[1]);
      assert.equal(await isListening(port), false, `port ${port} of ${node.id} still bound`);
    }
    assert.match(network.text, /network: stopped\n/);
  } finally {
    await network.dispose();
  }
});

Deno.test("with --restart, a mix killed with SIGKILL is started again and the network keeps delivering", async () => {
  const network = await NetworkTask.start(["--restart"]);
  try {
    const [pid] = readyPids(network.text, "mix_2");
    assert.ok(pid, `mix_2 announced no pid:\n${network.text}`);
    // `kill` rather than Deno.kill, which needs every run permission.
    const killed = await new Deno.Command("kill", { args: ["-KILL", String(pid)] }).output();
    assert.ok(killed.success, new TextDecoder().decode(killed.stderr));
    await waitUntil(
      () => readyPids(network.text, "mix_2").length === 2,
      30_000,
      "mix_2 restarted and ready again",
    );
    assert.match(network.text, /mix_2 +\| exited unexpectedly with code/);
    assert.match(network.text, /mix_2 +\| restarting \(--restart\)/);
    await network.send("client_3", "client_4", "after the restart");
    assert.deepEqual(await network.receive("client_4"), ["after the restart"]);
    assert.equal((await network.interrupt()).code, 0, network.text);
    assert.match(network.text, /network: stopped\n/);
  } finally {
    await network.dispose();
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
