/**
 * The environment every child process is started with, chosen rather than inherited: what Deno
 * needs to find its cache and the npm registry, temp folders, locale and colour settings, and
 * nothing else of the user's shell. In particular no `LD_*` or `DYLD_*` variable: Deno refuses
 * to start a child with one unless the parent holds every run permission (`--allow-run=deno` is
 * not enough), so a user's `LD_LIBRARY_PATH` (common under conda, on GPU and HPC machines)
 * would otherwise fail every node; and no `MIX_ID`, `CLIENT_ID` or `CONFIG_PATH`, which a node
 * reads as defaults of the flags it is given anyway.
 *
 * @module
 */

/** Variables passed on by name. */
const NAMES = new Set([
  "PATH",
  "HOME",
  "USER",
  "TMPDIR",
  "TMP",
  "TEMP",
  "LANG",
  "LC_ALL",
  "LC_CTYPE",
  "TZ",
  "TERM",
  "NO_COLOR",
  "FORCE_COLOR",
  "XDG_CACHE_HOME",
  "SSL_CERT_FILE",
  "SSL_CERT_DIR",
  // deno compile's local runtime (tasks/compile.ts).
  "DENORT_BIN",
]);

/** Variables passed on by prefix or pattern: Deno's own, npm's registry settings, proxies. */
const PATTERNS = [/^DENO_/, /^NPM_CONFIG_/i, /^(HTTPS?|NO|ALL)_PROXY$/i];

/** Whether variable `name` of this process is passed on to children. */
export function passedOn(name: string): boolean {
  return NAMES.has(name) || PATTERNS.some((pattern) => pattern.test(name));
}

/**
 * The environment of a child: the variables of `env` (this process's by default) that
 * {@link passedOn} keeps, then `extra`. Spawn with `clearEnv: true`.
 */
export function childEnv(
  extra: Readonly<Record<string, string>> = {},
  env: Readonly<Record<string, string>> = Deno.env.toObject(),
): Record<string, string> {
  const kept = Object.entries(env).filter(([name]) => passedOn(name));
  return { ...Object.fromEntries(kept), ...extra };
}
