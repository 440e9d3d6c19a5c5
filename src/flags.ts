/**
 * Command-line flags of every entry script and task, parsed and validated once: each flag's
 * text goes through its zod schema, and a mistake is a {@link UsageError} that names the flag
 * and the value given (`--workers: expected a whole number >= 1, got "x"`).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { z } from "zod";

/** A mistake on the command line: printed with the usage, exit code 2. */
export class UsageError extends Error {
  /** Creates the error; the message says what is wrong. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** A flag that takes a value, validated and converted by `schema`. */
export interface ValueFlag<T> {
  readonly kind: "value";
  readonly schema: z.ZodType<T, string>;
  readonly short?: string;
}

/** A flag without a value: true when given. */
export interface SwitchFlag {
  readonly kind: "switch";
  readonly short?: string;
}

/** A flag of either kind. */
export type Flag = ValueFlag<unknown> | SwitchFlag;

/** The value a flag gives: its schema's output, or true for a switch. */
export type FlagValue<F> = F extends ValueFlag<infer T> ? T : boolean;

/** Parsed flags: each one given, by name, and the positional arguments. */
export interface ParsedFlags<F extends Record<string, Flag>> {
  readonly values: { readonly [K in keyof F]?: FlagValue<F[K]> };
  readonly positionals: readonly string[];
}

const WHOLE = /^[+-]?\d[\d_]*$/;
const DECIMAL = /^[+-]?(\d[\d_]*\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

function value<T>(schema: z.ZodType<T, string>, short?: string): ValueFlag<T> {
  return { kind: "value", schema, short };
}

function whole(text: string): number {
  return Number(text.replaceAll("_", ""));
}

/** Builders of the flags the scripts use. */
export const flag = {
  /** Any non-empty text. */
  text: (short?: string): ValueFlag<string> =>
    value(z.string().min(1, { message: "expected a value" }), short),
  /** Any text, the empty one included (a message). */
  string: (short?: string): ValueFlag<string> => value(z.string(), short),
  /** A whole number within bounds (`_` may group digits). */
  int: (bounds: { min?: number; max?: number } = {}): ValueFlag<number> => {
    const { min = -Infinity, max = Infinity } = bounds;
    return value(
      z.string().regex(WHOLE, { message: describeRange("a whole number", min, max) })
        .transform(whole)
        .refine((n) => n >= min && n <= max, {
          message: describeRange("a whole number", min, max),
        }),
    );
  },
  /** A number within bounds; `exclusiveMin` refuses the minimum itself. */
  number: (
    bounds: { min?: number; max?: number; exclusiveMin?: boolean } = {},
  ): ValueFlag<number> => {
    const { min = -Infinity, max = Infinity, exclusiveMin = false } = bounds;
    const expected = describeRange("a number", min, max, exclusiveMin);
    return value(
      z.string().trim().regex(DECIMAL, { message: expected })
        .transform((text) => Number(text.replaceAll("_", "")))
        .refine((n) => (exclusiveMin ? n > min : n >= min) && n <= max, { message: expected }),
    );
  },
  /** One of `choices`. */
  choice: <const T extends string>(choices: readonly T[]): ValueFlag<T> =>
    value(
      z.string().refine((text): text is T => (choices as readonly string[]).includes(text), {
        message: `expected one of ${choices.join(", ")}`,
      }) as unknown as z.ZodType<T, string>,
    ),
  /** A comma-separated list of whole numbers within bounds (`_` may group digits). */
  intList: (bounds: { min?: number; max?: number } = {}): ValueFlag<number[]> => {
    const { min = -Infinity, max = Infinity } = bounds;
    const expected = `expected a comma-separated list of ${
      describeRange("whole numbers", min, max).replace(/^expected /, "")
    }`;
    return value(
      z.string().refine(
        (text) => text.split(",").every((part) => WHOLE.test(part.trim())),
        { message: expected },
      ).transform((text) => text.split(",").map((part) => whole(part.trim())))
        .refine((list) => list.every((n) => n >= min && n <= max), { message: expected }),
    );
  },
  /** A switch. */
  switch: (short?: string): SwitchFlag => ({ kind: "switch", short }),
};

function describeRange(what: string, min: number, max: number, exclusiveMin = false): string {
  const lower = Number.isFinite(min) ? `${exclusiveMin ? ">" : ">="} ${min}` : "";
  const upper = Number.isFinite(max) ? `<= ${max}` : "";
  const range = [lower, upper].filter(Boolean).join(" and ");
  return `expected ${what}${range ? " " + range : ""}`;
}

/**
 * Parses `args` against `flags`: unknown flags, missing values, repeated flags and values
 * their schema refuses are usage errors; positionals only where `positionals` allows them.
 *
 * @throws {UsageError} naming the flag and the value given.
 */
export function parseFlags<F extends Record<string, Flag>>(
  args: readonly string[],
  flags: F,
  options: { positionals?: boolean } = {},
): ParsedFlags<F> {
  const spec = Object.fromEntries(
    Object.entries(flags).map(([name, f]) => [
      name,
      {
        type: f.kind === "switch" ? "boolean" : "string",
        multiple: true,
        ...(f.short ? { short: f.short } : {}),
      },
    ]),
  ) as Record<string, { type: "string" | "boolean"; multiple: true; short?: string }>;
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      options: spec,
      strict: true,
      allowPositionals: options.positionals ?? false,
    });
  } catch (error) {
    throw new UsageError(describeParseError(error as Error, args));
  }
  const values: Record<string, unknown> = {};
  for (const [name, given] of Object.entries(parsed.values)) {
    const list = given as (string | boolean)[];
    if (list.length > 1) {
      throw new UsageError(`--${name}: given ${list.length} times, expected once`);
    }
    const f = flags[name];
    if (f.kind === "switch") {
      values[name] = true;
      continue;
    }
    const text = String(list[0]);
    const result = f.schema.safeParse(text);
    if (!result.success) {
      throw new UsageError(
        `--${name}: ${result.error.issues[0].message}, got ${JSON.stringify(text)}`,
      );
    }
    values[name] = result.data;
  }
  return { values: values as ParsedFlags<F>["values"], positionals: parsed.positionals };
}

/** node:util's parse errors, in this module's words. */
function describeParseError(error: Error, args: readonly string[]): string {
  const message = error.message;
  const ambiguous = /Option '(?:-\w, )?(--[\w-]+)' argument is ambiguous/.exec(message);
  if (ambiguous) {
    const name = ambiguous[1];
    const next = args[args.indexOf(name) + 1];
    return `${name}: got ${JSON.stringify(next)}, which looks like a flag; if it is the value, ` +
      `write ${name}=${next}`;
  }
  const unknown = /Unknown option '([^']+)'/.exec(message);
  if (unknown) return `Unknown flag ${unknown[1]}`;
  const missing = /Option '(?:-\w, )?(--[\w-]+)(?: <value>)?' argument missing/.exec(message);
  if (missing) return `${missing[1]}: expected a value`;
  const positional = /Unexpected argument '([^']+)'/.exec(message);
  if (positional) return `Unexpected argument ${JSON.stringify(positional[1])}`;
  const boolean = /Option '(?:-\w, )?(--[\w-]+)' does not take an argument/.exec(message);
  if (boolean) return `${boolean[1]}: takes no value`;
  return message;
}
