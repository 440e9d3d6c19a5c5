/**
 * The command that runs Deno the way the user started a task, for the hints tasks print.
 *
 * @module
 */

/**
 * `npx --yes deno@<version>` when npx started this process (the README's path for a machine
 * with only Node.js, where `deno` is usually not on the user's PATH), else `deno`. npx (`npm
 * exec`) marks what it runs with `npm_lifecycle_event=npx` and `npm_command=exec`; the binary's
 * own path cannot tell, since a `deno` on PATH may be a link into npx's cache.
 */
export function denoCommand(
  env: Pick<Deno.Env, "get">,
  version: string = Deno.version.deno,
): string {
  const viaNpx = env.get("npm_lifecycle_event") === "npx" || env.get("npm_command") === "exec";
  return viaNpx ? `npx --yes deno@${version}` : "deno";
}
