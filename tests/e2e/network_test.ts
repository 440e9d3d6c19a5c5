import assert from "node:assert/strict";
import { loadConfig } from "../../src/config/mod.ts";
import { type LogRecord, parseLogLine } from "../../src/log.ts";
import { childEnv, deriveConfig, readLines } from "../../tasks/launch/mod.ts";
import { isListening, waitUntil } from "../_testkit/ports.ts";
import { CLI_PERMISSIONS, run, spawn } from "./_run.ts";

/**
 * `deno task network --log-format json` on a fresh copy of the shipped config (rounds of
 * 0.3 s), as a script runs it: every line it prints is a log record, the nodes' own and its
 * own (node "network").
 */
class NetworkTask {
  readonly configPath: string;
  readonly records: LogRecord[] = [];
  readonly #child: Deno.ChildProcess;
  readonly #other: string[] = [];
  readonly #reading: Promise<unknown>;

  private constructor(configPath: string, args: string[]) {
    this.configPath = configPath;
    this.#child = spawn("tasks/network.ts", [
      "--config",
      configPath,
      "--log-format",
      "json",
      ...args,
    ]);
    this.#reading = Promise.all(
      [this.#child.stdout, this.#child.stderr].map((stream) =>
        readLines(stream, (line) => this.#line(line))
      ),
    );
  }

  #line(line: string): void {
    const record = parseLogLine(line);
    if (record) this.records.push(record);
    else this.#other.push(line);
  }

  /** Starts the task and waits for its "ready" record. */
  static async start(args: string[] = []): Promise<NetworkTask> {
    const task = new NetworkTask(
      await deriveConfig("config/config.yaml", { roundDuration: 0.3 }),
      args,
    );
    await task.waitFor((r) => r.node === "network" && r.message === "ready", "the network ready");
    return task;
  }

  /** Everything the task printed so far, for failure messages. */
  get text(): string {
    return [...this.records.map((r) => JSON.stringify(r)), ...this.#other].join("\n");
  }

  /** The records of node `node` with message `message`. */
  find(node: string, message: string): LogRecord[] {
    return this.records.filter((r) => r.node === node && r.message === message);
  }

  /** Waits until a record for which `match` holds has been printed. */
  async waitFor(match: (r: LogRecord) => boolean, what: string): Promise<LogRecord> {
    await waitUntil(() => this.records.some(match), 60_000, what);
    return this.records.find(match)!;
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
    await this.#reading;
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

  /**
   * Everything `to` receives until a marker `from` sends after the first message arrives: the
   * marker leaves in a later round, so whatever was to come before it (a duplicate) has come.
   */
  async receive(from: string, to: string): Promise<string[]> {
    const received: string[] = [];
    const until = async (done: () => boolean, what: string) =>
      await waitUntil(
        async () => (received.push(...await this.poll(to)), done()),
        30_000,
        what,
        200,
      );
    await until(() => received.length > 0, `a message at ${to}`);
    const marker = `marker ${crypto.randomUUID()}`;
    await this.send(from, to, marker);
    await until(() => received.includes(marker), `the marker at ${to}`);
    assert.equal(received.at(-1), marker, received.join("\n"));
    return received.slice(0, -1);
  }
}

/** The pids node `id` announced in its "ready" records, oldest first. */
function readyPids(task: NetworkTask, id: string): number[] {
  return task.find(id, "ready").map((r) => Number(r.pid));
}

Deno.test("a user starts the network, sends a message, receives it exactly once, and stops it with Ctrl-C", async () => {
  const network = await NetworkTask.start();
  try {
    const config = await loadConfig(network.configPath);
    assert.match(
      await network.send("client_1", "client_2", "hello over three mixes"),
      /^queued for round \d+ \(prepared in [\d.]+ ms\)\n$/,
    );
    assert.deepEqual(await network.receive("client_1", "client_2"), ["hello over three mixes"]);

    const status = await network.interrupt();
    assert.equal(status.code, 0, network.text);
    for (const node of [...config.mixServers, ...config.clients]) {
      assert.equal(network.find(node.id, "stopped").length, 1, `${node.id} did not stop`);
      const port = Number(node.address.split(":")[1]);
      assert.equal(await isListening(port), false, `port ${port} of ${node.id} still bound`);
    }
    assert.equal(network.find("network", "stopped").length, 1, network.text);
  } finally {
    await network.dispose();
  }
});

Deno.test("with --restart, a mix killed with SIGKILL is started again and the network keeps delivering", async () => {
  const network = await NetworkTask.start(["--restart"]);
  try {
    const [pid] = readyPids(network, "mix_2");
    assert.ok(pid, `mix_2 announced no pid:\n${network.text}`);
    // `kill` rather than Deno.kill, which needs every run permission.
    const killed = await new Deno.Command("kill", {
      args: ["-KILL", String(pid)],
      clearEnv: true,
      env: childEnv(),
    }).output();
    assert.ok(killed.success, new TextDecoder().decode(killed.stderr));
    await network.waitFor(
      (r) => r.node === "mix_2" && r.message === "ready" && r.pid !== pid,
      "mix_2 restarted and ready again",
    );
    const [exited] = network.find("network", "node exited");
    assert.equal(exited?.id, "mix_2", network.text);
    assert.equal(network.find("network", "restarting")[0]?.id, "mix_2");
    await network.send("client_3", "client_4", "after the restart");
    assert.deepEqual(await network.receive("client_3", "client_4"), ["after the restart"]);
    assert.equal((await network.interrupt()).code, 0, network.text);
    assert.equal(network.find("network", "stopped").length, 1, network.text);
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
