/** Role entry scripts run as real subprocesses, with their log lines captured. */
import { fileURLToPath } from "node:url";

const SRC = fileURLToPath(new URL("../../src/", import.meta.url));

/** Permissions a node subprocess gets: what the deno tasks grant. */
export const NODE_PERMISSIONS = [
  "--allow-read",
  "--allow-write",
  "--allow-net=127.0.0.1",
  "--allow-env",
  "--allow-sys",
];

/** A node running as a subprocess. */
export class NodeProcess {
  readonly id: string;
  readonly child: Deno.ChildProcess;
  readonly lines: string[] = [];
  readonly #waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  readonly status: Promise<Deno.CommandStatus>;

  constructor(
    script: "mix.ts" | "client.ts",
    id: string,
    configPath: string,
    extra: string[] = [],
  ) {
    this.id = id;
    // "deno" from PATH: the binary `--allow-run=deno` grants (under npx, npx's own).
    this.child = new Deno.Command("deno", {
      args: [
        "run",
        ...NODE_PERMISSIONS,
        `${SRC}${script}`,
        "--id",
        id,
        "--config",
        configPath,
        ...extra,
      ],
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    }).spawn();
    this.status = this.child.status;
    this.#read(this.child.stdout);
    this.#read(this.child.stderr);
  }

  async #read(stream: ReadableStream<Uint8Array>): Promise<void> {
    let buffer = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let newline;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        this.lines.push(line);
        for (const w of [...this.#waiters]) {
          if (w.pattern.test(line)) {
            this.#waiters.splice(this.#waiters.indexOf(w), 1);
            w.resolve(line);
          }
        }
      }
    }
  }

  /** Resolves with the first log line (past or future) matching `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs = 30_000): Promise<string> {
    const seen = this.lines.find((l) => pattern.test(l));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(
            `${this.id}: no line matching ${pattern} within ${timeoutMs} ms:\n${
              this.lines.join("\n")
            }`,
          ),
        );
      }, timeoutMs);
      this.status.then((s) => {
        clearTimeout(timer);
        reject(
          new Error(
            `${this.id} exited (code ${s.code}) before a line matching ${pattern}:\n${
              this.lines.join("\n")
            }`,
          ),
        );
      });
      this.#waiters.push({ pattern, resolve: (line) => (clearTimeout(timer), resolve(line)) });
    });
  }

  /** Waits for the `ready` line. */
  ready(): Promise<string> {
    return this.waitForLine(/ ready( |$)/);
  }

  /** Sends a signal (if still running) and waits for the exit. */
  async kill(signal: Deno.Signal = "SIGTERM"): Promise<Deno.CommandStatus> {
    try {
      this.child.kill(signal);
    } catch {
      // Already exited.
    }
    return await this.status;
  }
}
