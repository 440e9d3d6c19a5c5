/**
 * A mix or a client run as a subprocess, as the network, demo and bench tasks and the tests run
 * them: the narrow permissions its role needs, an explicit environment, JSON log lines read back
 * as records (readiness and status are events, not patterns over text), a graceful stop.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { formatRecord, type LogRecord, parseLogLine } from "../../src/log.ts";
import { childEnv } from "./environment.ts";
import { withNetPermission } from "./permissions.ts";

const SRC = fileURLToPath(new URL("../../src/", import.meta.url));

/**
 * Permissions a node process gets: its files, loopback, its environment flags, and loading the
 * native libsodium addon of the default crypto backend (see src/crypto/native.ts). A node
 * spawned here gets, instead of loopback, the hosts its config names (see permissions.ts).
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

/** Which log records {@link NodeProcess.waitFor} waits for: a message, or a predicate. */
export type RecordMatch = string | ((record: LogRecord) => boolean);

/** Options of {@link NodeProcess}. */
export interface NodeProcessOptions {
  /** Extra flags for the entry script (e.g. `--metrics-file`, `--log-level debug`). */
  readonly args?: readonly string[];
  /**
   * Called with every line as it arrives: its text (a record formatted as the text log would
   * show it) and the record, or undefined for a line that is not one (a fatal error).
   */
  readonly onLine?: (text: string, record: LogRecord | undefined) => void;
}

/** A mix or client running as a subprocess, its log captured as records. */
export class NodeProcess {
  /** The node's id. */
  readonly id: string;
  /** The role it plays. */
  readonly role: Role;
  /** The subprocess. */
  readonly child: Deno.ChildProcess;
  /** Every line so far, as the process wrote it. */
  readonly lines: string[] = [];
  /** Every log record so far. */
  readonly records: LogRecord[] = [];
  /** Resolves with the exit status, once all output is captured. */
  readonly status: Promise<Deno.CommandStatus>;
  readonly #waiters = new Waiters<LogRecord>();
  readonly #onLine: NodeProcessOptions["onLine"];

  /**
   * Spawns `src/<role>.ts --id <id> --config <configPath> --log-format json`. The binary is
   * `deno` from PATH: the one `--allow-run=deno` grants (under npx, npx's own).
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
        "--log-format",
        "json",
        ...(options.args ?? []),
      ],
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
      clearEnv: true,
      env: childEnv(),
    }).spawn();
    // Resolves once the output is read too, so the last lines (the error) are in `lines`.
    this.status = Promise.all([
      this.child.status,
      readLines(this.child.stdout, (line) => this.#line(line)),
      readLines(this.child.stderr, (line) => this.#line(line)),
    ]).then(([status]) => status);
  }

  /** The process id. */
  get pid(): number {
    return this.child.pid;
  }

  /** The last `count` lines as text, for error messages. */
  tail(count = 20): string {
    return this.lines.slice(-count).map((line) => {
      const record = parseLogLine(line);
      return record ? formatRecord(record) : line;
    }).join("\n");
  }

  #line(line: string): void {
    this.lines.push(line);
    const record = parseLogLine(line);
    this.#onLine?.(record ? formatRecord(record) : line, record);
    if (!record) return;
    this.records.push(record);
    this.#waiters.offer(record);
  }

  /**
   * Resolves with the first log record (past or future) with message `match`, or for which
   * `match` holds.
   *
   * @throws {Error} when the process exits first or `timeoutMs` passes, with its last lines.
   */
  waitFor(match: RecordMatch, timeoutMs = 30_000): Promise<LogRecord> {
    const test = typeof match === "string" ? (r: LogRecord) => r.message === match : match;
    const what = typeof match === "string" ? JSON.stringify(match) : "the record waited for";
    return this.#waiters.wait(this.records, test, this.status, timeoutMs, {
      timeout: () => new Error(`${this.id}: no ${what} within ${timeoutMs} ms:\n${this.tail()}`),
      exit: (s) =>
        new Error(`${this.id} exited with code ${s.code} before ${what}:\n${this.tail()}`),
    });
  }

  /** Waits for the node's `ready` record. */
  ready(timeoutMs = 60_000): Promise<LogRecord> {
    return this.waitFor("ready", timeoutMs);
  }

  /** Sends `signal` (if still running) and waits for the exit; SIGKILL after `graceMs`. */
  kill(signal: Deno.Signal = "SIGTERM", graceMs = 15_000): Promise<Deno.CommandStatus> {
    return stopChild(this.child, this.status, signal, graceMs);
  }
}

/**
 * Who waits for what a process writes (its lines or records): each waiter is given the first
 * item, written or to come, that passes its test, or fails when the process exits first or time
 * runs out.
 */
export class Waiters<T> {
  readonly #waiting: { test: (item: T) => boolean; resolve: (item: T) => void }[] = [];

  /** Hands a new `item` to every waiter it satisfies. */
  offer(item: T): void {
    for (const waiter of [...this.#waiting]) {
      if (waiter.test(item)) {
        this.#waiting.splice(this.#waiting.indexOf(waiter), 1);
        waiter.resolve(item);
      }
    }
  }

  /**
   * The first item of `written`, or offered later, that passes `test`.
   *
   * @throws {Error} `fail.timeout()` after `timeoutMs`, `fail.exit(status)` when `exited` settles
   * first.
   */
  wait(
    written: readonly T[],
    test: (item: T) => boolean,
    exited: Promise<Deno.CommandStatus>,
    timeoutMs: number,
    fail: { timeout: () => Error; exit: (status: Deno.CommandStatus) => Error },
  ): Promise<T> {
    const seen = written.find(test);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiting.splice(this.#waiting.indexOf(waiter), 1);
      };
      const timer = setTimeout(() => {
        done();
        reject(fail.timeout());
      }, timeoutMs);
      const waiter = {
        test,
        resolve: (item: T) => {
          clearTimeout(timer);
          resolve(item);
        },
      };
      this.#waiting.push(waiter);
      exited.then((status) => {
        if (!this.#waiting.includes(waiter)) return;
        done();
        reject(fail.exit(status));
      });
    });
  }
}

/** Calls `onLine` with each line of `stream` (the last one even without a newline). */
export async function readLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  let buffer = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let newline;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      onLine(buffer.slice(0, newline));
      buffer = buffer.slice(newline + 1);
    }
  }
  if (buffer) onLine(buffer);
}

/**
 * Starts `deno run` with `args` (permissions, script, its arguments) in the environment of
 * {@link childEnv}, and resolves with the process and the first line it prints: a server saying
 * that it listens, or where. The rest of its output is left unread; its stderr is this one's.
 *
 * @throws {Error} when it exits before printing a whole line.
 */
export async function startDenoServer(
  args: readonly string[],
): Promise<{ child: Deno.ChildProcess; firstLine: string }> {
  const child = new Deno.Command("deno", {
    args: ["run", ...args],
    stdout: "piped",
    stderr: "inherit",
    clearEnv: true,
    env: childEnv(),
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) {
      throw new Error(`deno run ${args.join(" ")} exited before it printed a line: ${text}`);
    }
    text += value;
  }
  reader.releaseLock();
  return { child, firstLine: text.slice(0, text.indexOf("\n")) };
}

/**
 * Sends `signal` to `child` (if still running) and waits for `status`, its exit; SIGKILL after
 * `graceMs`.
 */
export async function stopChild(
  child: Deno.ChildProcess,
  status: Promise<Deno.CommandStatus>,
  signal: Deno.Signal,
  graceMs: number,
): Promise<Deno.CommandStatus> {
  const kill = (signal: Deno.Signal) => {
    try {
      child.kill(signal);
    } catch {
      // Already exited.
    }
  };
  kill(signal);
  const timer = setTimeout(() => kill("SIGKILL"), graceMs);
  try {
    return await status;
  } finally {
    clearTimeout(timer);
  }
}
