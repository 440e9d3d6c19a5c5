/**
 * The test suite: `deno test` once per folder of tests/ (and once for the files at its top),
 * after one type check of all of it, each in a process of its own.
 *
 *   deno task test [FOLDER…]      # e.g. deno task test mix adversary
 *
 * Deno 2.9.6 itself sometimes dies of SIGSEGV in native code while a suite runs (seen about once
 * in three full runs on this project's 2-core machines, the same instruction every time, after
 * tests that kill and restart peers); a single `deno test` process would take every later test
 * down with it. Here a process that dies of a signal is said so and run once more; a test that
 * fails is never run again, and the exit status is non-zero if any folder failed.
 *
 * @module
 */
import { join } from "node:path";
import { childEnv } from "./launch/mod.ts";

/** What the tests may do: spawn nodes and the tools of the disk and namespace tests. */
const PERMISSIONS = [
  "--allow-read",
  "--allow-write",
  "--allow-net=127.0.0.1",
  "--allow-env",
  "--allow-ffi",
  "--allow-run=deno,kill,mount,umount,ip",
  "--allow-sys=hostname,osRelease,cpus,loadavg,networkInterfaces",
];

const TESTS = "tests";

/** The folders of tests/ with tests in them (not the kit or data), and the top-level files. */
function shards(only: readonly string[]): string[][] {
  const folders: string[][] = [];
  const files: string[] = [];
  for (const entry of [...Deno.readDirSync(TESTS)].sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.isDirectory && !entry.name.startsWith("_") && entry.name !== "testdata") {
      folders.push([join(TESTS, entry.name)]);
    } else if (entry.isFile && entry.name.endsWith("_test.ts")) {
      files.push(join(TESTS, entry.name));
    }
  }
  const all = files.length > 0 ? [...folders, files] : folders;
  if (only.length === 0) return all;
  const wanted = only.map((name) => join(TESTS, name.replace(/^tests\//, "")));
  const unknown = wanted.filter((w) => !all.some((s) => s.includes(w)));
  if (unknown.length > 0) {
    throw new Error(`No such test folder: ${unknown.join(", ")} (under ${TESTS}/)`);
  }
  return all.filter((s) => s.some((path) => wanted.includes(path)));
}

async function run(args: string[]): Promise<Deno.CommandStatus> {
  // The user's environment as tests see it, less what Deno refuses to pass to a child (LD_*),
  // plus the suite's own knobs (MIXNET_FAULT_SEED…).
  const env = childEnv(
    Object.fromEntries(
      Object.entries(Deno.env.toObject()).filter(([name]) => name.startsWith("MIXNET_")),
    ),
  );
  return await new Deno.Command("deno", { args, clearEnv: true, env }).spawn().status;
}

/**
 * Runs every shard's tests with `run`, each once more if its process died of a signal; returns
 * the shards that failed (named with the signal where one ended them).
 */
export async function runSuite(
  targets: readonly string[][],
  run: (args: string[]) => Promise<Pick<Deno.CommandStatus, "success" | "signal">>,
  say: (line: string) => void = console.error,
): Promise<string[]> {
  const failed: string[] = [];
  for (const shard of targets) {
    const name = shard.length === 1 ? shard[0] : `${TESTS}/*_test.ts`;
    const args = ["test", ...PERMISSIONS, "--no-check", ...shard];
    let status = await run(args);
    if (status.signal !== null) {
      say(
        `${name}: deno died of ${status.signal} (a crash of Deno itself, not a test failure); running ${name} once more`,
      );
      status = await run(args);
    }
    if (!status.success) failed.push(status.signal ? `${name} (${status.signal})` : name);
  }
  return failed;
}

if (import.meta.main) {
  let targets: string[][];
  try {
    targets = shards(Deno.args);
  } catch (error) {
    console.error((error as Error).message);
    Deno.exit(2);
  }
  const checked = await run(["check", ...targets.flat()]);
  if (!checked.success) Deno.exit(checked.code || 1);
  const failed = await runSuite(targets, run, (line) => console.error(`\n${line}\n`));
  if (failed.length > 0) {
    console.error(`\nFailed: ${failed.join(", ")}`);
    Deno.exit(1);
  }
}
