/**
 * Hosts for multi-host tests, as Linux network namespaces on this machine: one namespace per
 * host, each with one address on a private subnet, all wired to a bridge that lives in a
 * namespace of its own. Nothing is added to the machine's own namespace, so no packet of the
 * test can reach any other address, and none from outside can reach the test.
 *
 * Names carry this process's id (`mxnt<pid>-…`), so a run removes what an earlier run that
 * died left behind, and every run removes its own on every way out: `close()` in `finally`, and
 * on SIGINT or SIGTERM.
 */
import { readLines, stopChild, Waiters } from "../../tasks/launch/mod.ts";

/** The subnet every host takes an address in, as `<prefix>.<n>/24`. */
const SUBNET_PREFIX = "10.77.0";
const TAG = "mxnt";

/** Runs `ip` with `args`; resolves with its output, rejects with its stderr. */
async function ip(...args: string[]): Promise<string> {
  const output = await new Deno.Command("ip", { args, stdout: "piped", stderr: "piped" })
    .output();
  const decoder = new TextDecoder();
  if (!output.success) {
    throw new Error(`ip ${args.join(" ")}: ${decoder.decode(output.stderr).trim()}`);
  }
  return decoder.decode(output.stdout);
}

function ipSync(...args: string[]): void {
  try {
    new Deno.Command("ip", { args, stdout: "null", stderr: "null" }).outputSync();
  } catch {
    // Best effort: the clean-up of a dying process.
  }
}

/**
 * Why namespaces cannot be made here (not root, no `ip`, no permission to run it), or
 * undefined when they can.
 */
export async function namespacesUnavailable(): Promise<string | undefined> {
  const probe = `${TAG}${Deno.pid}-probe`;
  try {
    await ip("netns", "add", probe);
    await ip("netns", "del", probe);
    return undefined;
  } catch (error) {
    const message = error instanceof Deno.errors.NotCapable
      ? "no permission to run ip (the test task grants --allow-run=ip)"
      : error instanceof Deno.errors.NotFound
      ? "iproute2's ip is not installed"
      : /not permitted|permission denied/i.test((error as Error).message)
      ? `it needs root (${(error as Error).message})`
      : (error as Error).message;
    return `network namespaces cannot be created here: ${message}`;
  }
}

/** Removes the namespaces of earlier runs whose process is gone. */
async function removeStale(): Promise<void> {
  const names = (await ip("netns", "list")).split("\n").map((l) => l.split(" ")[0]);
  for (const name of names) {
    const pid = new RegExp(`^${TAG}(\\d+)-`).exec(name)?.[1];
    if (!pid || Number(pid) === Deno.pid) continue;
    const alive = await Deno.stat(`/proc/${pid}`).then(() => true, () => false);
    if (!alive) await ip("netns", "del", name).catch(() => {});
  }
}

/** One host: its namespace and its address. */
export interface Host {
  /** Short name given by the test, e.g. `mix_1`. */
  readonly name: string;
  /** The namespace's name. */
  readonly namespace: string;
  /** Its IPv4 address. */
  readonly address: string;
}

/** A set of hosts on one private subnet. */
export class HostNetwork {
  readonly #hosts = new Map<string, Host>();
  readonly #switch = `${TAG}${Deno.pid}-sw`;
  #closed = false;
  readonly #onSignal = () => {
    this.closeSync();
    Deno.exit(130);
  };

  private constructor() {}

  /** Creates the switch namespace and its bridge. */
  static async create(): Promise<HostNetwork> {
    await removeStale();
    const network = new HostNetwork();
    Deno.addSignalListener("SIGINT", network.#onSignal);
    Deno.addSignalListener("SIGTERM", network.#onSignal);
    try {
      await ip("netns", "add", network.#switch);
      await ip("-n", network.#switch, "link", "add", "br0", "type", "bridge");
      await ip("-n", network.#switch, "link", "set", "br0", "up");
    } catch (error) {
      await network.close();
      throw error;
    }
    return network;
  }

  /** Adds host `name` with address `<subnet>.<octet>`, cabled to the bridge. */
  async add(name: string, octet: number): Promise<Host> {
    const namespace = `${TAG}${Deno.pid}-${name}`;
    const host = { name, namespace, address: `${SUBNET_PREFIX}.${octet}` };
    this.#hosts.set(name, host);
    const port = `p${octet}`;
    await ip("netns", "add", namespace);
    // Both ends are made inside the namespaces: nothing appears in this machine's own.
    await ip(
      "link",
      "add",
      port,
      "netns",
      this.#switch,
      "type",
      "veth",
      "peer",
      "name",
      "eth0",
      "netns",
      namespace,
    );
    await ip("-n", this.#switch, "link", "set", port, "master", "br0", "up");
    await ip("-n", namespace, "addr", "add", `${host.address}/24`, "dev", "eth0");
    await ip("-n", namespace, "link", "set", "eth0", "up");
    await ip("-n", namespace, "link", "set", "lo", "up");
    return host;
  }

  /** Host `name`. */
  host(name: string): Host {
    const host = this.#hosts.get(name);
    if (!host) throw new Error(`No host ${name} in this network`);
    return host;
  }

  /** Every namespace of this network. */
  get namespaces(): string[] {
    return [this.#switch, ...[...this.#hosts.values()].map((h) => h.namespace)];
  }

  /** Removes every namespace (and with them their links). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    Deno.removeSignalListener("SIGINT", this.#onSignal);
    Deno.removeSignalListener("SIGTERM", this.#onSignal);
    for (const namespace of this.namespaces.reverse()) {
      await ip("netns", "del", namespace).catch(() => {});
    }
  }

  /** {@link close}, synchronously, for a signal handler. */
  closeSync(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const namespace of this.namespaces.reverse()) ipSync("netns", "del", namespace);
  }
}

/** A command running in a host's namespace, its output lines captured. */
export class HostProcess {
  readonly label: string;
  readonly child: Deno.ChildProcess;
  readonly lines: string[] = [];
  readonly status: Promise<Deno.CommandStatus>;
  readonly #waiters = new Waiters<string>();

  /** Runs `command args` in `host`'s namespace with `env` added. */
  constructor(
    host: Host,
    label: string,
    command: string,
    args: string[],
    env: Record<string, string> = {},
  ) {
    this.label = label;
    this.child = new Deno.Command("ip", {
      args: ["netns", "exec", host.namespace, command, ...args],
      env: { NO_COLOR: "1", ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.status = Promise.all([
      this.child.status,
      readLines(this.child.stdout, (line) => this.#line(line)),
      readLines(this.child.stderr, (line) => this.#line(line)),
    ]).then(([status]) => status);
  }

  #line(line: string): void {
    this.lines.push(line);
    this.#waiters.offer(line);
  }

  /** The first output line matching `pattern`, past or future; rejects on exit or timeout. */
  waitForLine(pattern: RegExp, timeoutMs = 60_000): Promise<string> {
    const tail = () => this.lines.slice(-20).join("\n");
    return this.#waiters.wait(this.lines, (line) => pattern.test(line), this.status, timeoutMs, {
      timeout: () => new Error(`${this.label}: no line matching ${pattern}:\n${tail()}`),
      exit: (s) => new Error(`${this.label} exited with code ${s.code}:\n${tail()}`),
    });
  }

  /** Sends `signal` and waits for the exit; SIGKILL after `graceMs`. */
  stop(signal: Deno.Signal = "SIGTERM", graceMs = 10_000): Promise<Deno.CommandStatus> {
    return stopChild(this.child, this.status, signal, graceMs);
  }
}
