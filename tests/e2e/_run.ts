/** Runs the tasks' scripts as a user would (same permissions as deno.json), capturing output. */
import { fileURLToPath } from "node:url";
import { childEnv } from "../../tasks/launch/mod.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Permissions of the orchestrating tasks (network, demo). */
export const TASK_PERMISSIONS = [
  "--allow-read",
  "--allow-write",
  "--allow-net=127.0.0.1",
  "--allow-env",
  "--allow-ffi",
  "--allow-run=deno",
  "--allow-sys",
];

/** Permissions of the user CLI (send, poll). */
export const CLI_PERMISSIONS = [
  "--allow-read",
  "--allow-net=127.0.0.1",
  "--allow-env",
  "--allow-sys",
];

/**
 * Runs `deno run <permissions> <script> <args>` from the repo root to completion, in the
 * environment every child gets (tasks/launch/environment.ts) with `env` added.
 */
export async function run(
  script: string,
  args: string[],
  permissions = TASK_PERMISSIONS,
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command("deno", {
    args: ["run", ...permissions, script, ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    clearEnv: true,
    env: childEnv({ NO_COLOR: "1", ...env }),
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/**
 * Spawns a long-running task script from the repo root, its stdout and stderr piped, in the
 * environment every child gets with `env` added.
 */
export function spawn(
  script: string,
  args: string[],
  env: Record<string, string> = {},
): Deno.ChildProcess {
  return new Deno.Command("deno", {
    args: ["run", ...TASK_PERMISSIONS, script, ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    clearEnv: true,
    env: childEnv({ NO_COLOR: "1", ...env }),
  }).spawn();
}

/** Collects a stream's text into `into` as it arrives; resolves when the stream ends. */
export async function collect(stream: ReadableStream<Uint8Array>, into: string[]): Promise<void> {
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) into.push(chunk);
}
