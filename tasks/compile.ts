/**
 * `deno task compile`: standalone binaries of the two roles and the user CLI in `dist/`, with
 * their permissions baked in. `deno compile` downloads a runtime (denort) unless `DENORT_BIN`
 * names a local one; where the download is impossible this says so in one line.
 *
 * @module
 */
import { errorMessage } from "../src/errors.ts";
import { flag, parseFlags, UsageError } from "../src/flags.ts";
import { childEnv, NODE_PERMISSIONS } from "./launch/mod.ts";

const USAGE = "Usage: deno task compile (no flags; DENORT_BIN names a local runtime)";

/** What is compiled: output name, entry script, permissions, extra files. */
export const TARGETS = [
  {
    name: "mixnet-mix",
    entry: "src/mix.ts",
    permissions: NODE_PERMISSIONS,
    include: ["protos/mixnet.proto", "src/mix/peel_worker.ts", "src/sqlite_checkpoint.ts"],
  },
  {
    name: "mixnet-client",
    entry: "src/client.ts",
    permissions: NODE_PERMISSIONS,
    include: ["protos/mixnet.proto"],
  },
  {
    name: "mixnet-cli",
    entry: "src/cli.ts",
    permissions: ["--allow-read", "--allow-net=127.0.0.1", "--allow-env", "--allow-sys"],
    include: ["protos/mixnet.proto"],
  },
] as const;

/** The `deno compile` arguments of one target. */
export function compileArgs(target: typeof TARGETS[number], outDir = "dist"): string[] {
  return [
    "compile",
    "--no-check",
    "--output",
    `${outDir}/${target.name}`,
    ...target.permissions,
    ...target.include.flatMap((file) => ["--include", file]),
    target.entry,
  ];
}

/** Whether `deno compile` failed because it could not download its runtime. */
export function isRuntimeDownloadFailure(stderr: string): boolean {
  return /denort|dl\.deno\.land/i.test(stderr) &&
    /error sending request|dns error|connect|download/i.test(stderr);
}

async function main(): Promise<number> {
  if (parseFlags(Deno.args, { help: flag.switch("h") }).values.help) {
    console.log(USAGE);
    return 0;
  }
  await Deno.mkdir("dist", { recursive: true });
  for (const target of TARGETS) {
    const output = await new Deno.Command("deno", {
      args: compileArgs(target),
      stdout: "piped",
      stderr: "piped",
      clearEnv: true,
      env: childEnv(),
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    if (!output.success) {
      if (isRuntimeDownloadFailure(stderr)) {
        console.error(
          "compile: deno compile cannot download its runtime (denort) from this machine, which reaches only " +
            "the npm and Debian registries; set DENORT_BIN to a local denort binary of Deno " +
            `${Deno.version.deno} and run again`,
        );
      } else {
        console.error(`compile: ${target.name} failed:\n${stderr.trim()}`);
      }
      return 1;
    }
    console.log(`compile: dist/${target.name} (${target.entry}, ${target.permissions.join(" ")})`);
  }
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main());
  } catch (error) {
    console.error(`compile: ${errorMessage(error)}`);
    if (error instanceof UsageError) console.error(USAGE);
    Deno.exit(error instanceof UsageError ? 2 : 1);
  }
}
