/**
 * Role entry scripts run as subprocesses: spawn with the narrow permissions each role needs,
 * capture log lines, wait for readiness, stop gracefully. Shared by the network, demo and bench
 * tasks and by the end-to-end tests.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { withNetPermission } from "./_permissions.ts";

const SRC = fileURLToPath(new URL("../src/", import.meta.url));

/**
 * Permissions a node process gets: its files, loopback, its environment flags, and loading the
 * native libsodium addon of the default crypto backend (see src/crypto/native.ts). A node
 * spawned here gets, instead of loopback, the hosts its config names (see _permissions.ts).
 */
export const NODE_PERMISSIONS: readonly string[] = [
  "--allow-read",
  "--allow-write",
  "--allow-net=127.0.0.1",
  "--allow-env",
  "--allow-ffi",
  "--allow-sys",
];

/** The two roles a node process plays. */
export type Role = "mix" | "client";

/** Options of {@link NodeProcess}. */
export interface NodeProcessOptions {
  /** Extra flags for the entry script (e.g. `--metrics-file`). */
  readonly args?: readonly string[];
  /** Called with every log line as it arrives. */
  readonly onLine?: (line: string) => void;
}

/** A mix or client running as a subprocess, its log lines captured. */
export class NodeProcess {
  /** The node's id. */
  readonly id: string;
  /** The role it plays. */
  readonly role: Role;
  /** The subprocess. */
  readonly child: Deno.ChildProcess;
  /** Every log line so far. */
  readonly lines: string[] = [];
  /** Resolves with the exit status, once all output is captured. */
  readonly status: Promise<Deno.CommandStatus>;
  readonly #waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  readonly #onLine: ((line: string) => void) | undefined;

  /**
   * Spawns `src/<role>.ts --id <id> --config <configPath>`. The binary is `deno` from PATH:
   * the one `--allow-run=deno` grants (under npx, npx's own).
   */
  constructor(role: Role, id: string, configPath: string, options: NodeProcessOptions = {}) {
    this.id = id;
    this.role = role;
    this.#onLine = options.onLine;
    this.child = new Deno.Command("deno", {
      args: [
        "run",
        ...withNetPermission(NODE_PERMISSIONS, configPath, { role, id }),
        `${SRC}${role}.ts`,
        "--id",
        id,
        "--config",
        configPath,
        ...(options.args ?? []),
      ],
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    }).spawn();
    // Resolves once the output is read too, so the last lines (the error) are in `lines`.
    this.status = Promise.all([
      this.child.status,
      this.#read(this.child.stdout),
      this.#read(this.child.stderr),
    ]).then(([status]) => status);
  }

  /** The process id. */
  get pid(): number {
    return this.child.pid;
  }

  async #read(stream: ReadableStream<Uint8Array>): Promise<void> {
    let buffer = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let newline;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        this.#line(buffer.slice(0, newline));
        buffer = buffer.slice(newline + 1);
      }
    }
    if (buffer) this.#line(buffer);
  }

  #line(line: string): void {
    this.lines.push(line);
    this.#onLine?.(line);
    for (const waiter of [...this.#waiters]) {
      if (waiter.pattern.test(line)) {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  }

  /**
   * Resolves with the first log line (past or future) matching `pattern`.
   *
   * @throws {Error} when the process exits first or `timeoutMs` passes, with its output.
   */
  waitForLine(pattern: RegExp, timeoutMs = 30_000): Promise<string> {
    const seen = this.lines.find((l) => pattern.test(l));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const tail = () => this.lines.slice(-20).join("\n");
      const timer = setTimeout(() => {
        reject(
          new Error(`${this.id}: no line matching ${pattern} within ${timeoutMs} ms:\n${tail()}`),
        );
      }, timeoutMs);
      this.status.then((s) => {
        clearTimeout(timer);
        reject(new Error(`${this.id} exited with code ${s.code} before it was ready:\n${tail()}`));
      });
      this.#waiters.push({
        pattern,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
    });
  }

  /** Waits for the node's `ready` log line. */
  ready(timeoutMs = 60_000): Promise<string> {
    return this.waitForLine(/ ready( |$)|"message":"ready"/, timeoutMs);
  }

  /** Sends `signal` (if still running) and waits for the exit; SIGKILL after `graceMs`. */
  async kill(signal: Deno.Signal = "SIGTERM", graceMs = 15_000): Promise<Deno.CommandStatus> {
    try {
      this.child.kill(signal);
    } catch {
      // Already exited.
    }
    const timer = setTimeout(() => {
      try {
        this.child.kill("SIGKILL");
      } catch {
        // Already exited.
      }
    }, graceMs);
    try {
      return await this.status;
    } finally {
      clearTimeout(timer);
    }
  }
}
