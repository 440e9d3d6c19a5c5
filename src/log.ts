/**
 * Structured, levelled logs: one line per event to stderr, `logfmt`-style text by default or
 * JSON lines. Never pass keys or plaintext as fields.
 *
 * @module
 */

/** Severity of a log line. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Extra key-value context of a line. */
export type LogFields = Record<string, string | number | boolean | undefined | null>;

/** A logger bound to a node name. */
export interface Logger {
  /** Detail for debugging. */
  debug(message: string, fields?: LogFields): void;
  /** Normal operation. */
  info(message: string, fields?: LogFields): void;
  /** Something went wrong and was handled. */
  warn(message: string, fields?: LogFields): void;
  /** Something failed. */
  error(message: string, fields?: LogFields): void;
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** The node's id, first field of every line. */
  readonly name: string;
  /** Lowest level written; default `info`. */
  readonly level?: LogLevel;
  /** `text` (default) or `json`. */
  readonly format?: "text" | "json";
  /** Where lines go; default stderr. */
  readonly write?: (line: string) => void;
}

/** One line of a JSON log, as {@link parseLogLine} reads it back. */
export interface LogRecord {
  readonly time: string;
  readonly level: LogLevel;
  readonly node: string;
  readonly message: string;
  readonly [field: string]: unknown;
}

const encoder = new TextEncoder();
const RECORD_KEYS = new Set(["time", "level", "node", "message"]);

/** Creates a logger. */
export function createLogger(options: LoggerOptions): Logger {
  const min = ORDER[options.level ?? "info"];
  const write = options.write ??
    ((line: string) => Deno.stderr.writeSync(encoder.encode(line + "\n")));
  const emit = (level: LogLevel, message: string, fields: LogFields = {}) => {
    if (ORDER[level] < min) return;
    const record = {
      time: new Date().toISOString(),
      level,
      node: options.name,
      message,
      ...fields,
    };
    write(options.format === "json" ? JSON.stringify(record) : formatRecord(record));
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
  };
}

/** A logger that writes nothing (tests that assert on other output). */
export const silentLogger: Logger = createLogger({ name: "", level: "error", write: () => {} });

/** A log record as a text line: time, level, node, message, then `key=value` fields. */
export function formatRecord(record: LogRecord): string {
  const extra = Object.entries(record)
    .filter(([key, value]) => !RECORD_KEYS.has(key) && value !== undefined && value !== null)
    .map(([key, value]) => `${key}=${formatValue(value)}`)
    .join(" ");
  return `${record.time} ${record.level.toUpperCase().padEnd(5)} ${record.node} ${record.message}${
    extra ? " " + extra : ""
  }`;
}

/** Reads a line of a JSON log back, or undefined when the line is not one (plain output). */
export function parseLogLine(line: string): LogRecord | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const value = JSON.parse(line);
    const ok = typeof value === "object" && value !== null && typeof value.message === "string" &&
      typeof value.node === "string" && typeof value.level === "string" &&
      typeof value.time === "string";
    return ok ? value as LogRecord : undefined;
  } catch {
    return undefined;
  }
}

function formatValue(value: unknown): string {
  const text = typeof value === "object" ? JSON.stringify(value) : String(value);
  return /[\s"=]/.test(text) ? JSON.stringify(text) : text;
}

/** Options of {@link RateLimitedLog}. */
export interface RateLimitedLogOptions {
  /** Least time between two lines of one kind, in milliseconds; default 10 s. */
  readonly intervalMs?: number;
  /** The clock, in milliseconds (tests pass their own). */
  readonly now?: () => number;
}

/**
 * Lines about events that repeat at a rate others set, such as refused calls or a peer that
 * keeps failing: the first of a kind (its message) is written at once, later ones at most once
 * per interval with the number held back since the previous line as `suppressed`, so a flood
 * cannot fill the log and a lasting fault is still seen.
 */
export class RateLimitedLog {
  readonly #logger: Logger;
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #kinds = new Map<string, { lastMs: number; suppressed: number }>();

  /** Writes through `logger`. */
  constructor(logger: Logger, options: RateLimitedLogOptions = {}) {
    this.#logger = logger;
    this.#intervalMs = options.intervalMs ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /** Writes a warning unless one with the same message was written less than an interval ago. */
  warn(message: string, fields: LogFields = {}): void {
    this.#write("warn", message, fields);
  }

  /** Writes an error unless one with the same message was written less than an interval ago. */
  error(message: string, fields: LogFields = {}): void {
    this.#write("error", message, fields);
  }

  #write(level: "warn" | "error", message: string, fields: LogFields): void {
    const now = this.#now();
    const kind = this.#kinds.get(message);
    if (kind && now - kind.lastMs < this.#intervalMs) {
      kind.suppressed++;
      return;
    }
    this.#logger[level](
      message,
      kind?.suppressed ? { ...fields, suppressed: kind.suppressed } : fields,
    );
    this.#kinds.set(message, { lastMs: now, suppressed: 0 });
  }
}
