import assert from "node:assert/strict";
import { runSuite } from "../../tasks/test.ts";

Deno.test("the suite runs a folder again only when deno itself died of a signal, never after a failed test", async () => {
  const outcomes = new Map<string, { success: boolean; signal: Deno.Signal | null }[]>([
    ["tests/a", [{ success: true, signal: null }]],
    ["tests/b", [{ success: false, signal: "SIGSEGV" }, { success: true, signal: null }]],
    ["tests/c", [{ success: false, signal: null }]],
    ["tests/d", [{ success: false, signal: "SIGSEGV" }, { success: false, signal: "SIGSEGV" }]],
  ]);
  const runs: string[] = [];
  const said: string[] = [];
  const failed = await runSuite(
    [["tests/a"], ["tests/b"], ["tests/c"], ["tests/d"]],
    (args) => {
      const shard = args[args.length - 1];
      runs.push(shard);
      assert.deepEqual(args.slice(0, 1), ["test"]);
      assert.ok(args.includes("--no-check"));
      return Promise.resolve(outcomes.get(shard)!.shift()!);
    },
    (line) => said.push(line),
  );
  assert.deepEqual(runs, ["tests/a", "tests/b", "tests/b", "tests/c", "tests/d", "tests/d"]);
  assert.deepEqual(failed, ["tests/c", "tests/d (SIGSEGV)"]);
  assert.equal(said.length, 2);
  assert.match(said[0], /tests\/b: deno died of SIGSEGV .* running tests\/b once more/);
});
