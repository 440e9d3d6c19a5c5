import assert from "node:assert/strict";
import { run } from "./_run.ts";

for (const mode of ["processes", "in-process"] as const) {
  Deno.test(`the benchmark measures a point (${mode}) and writes its CSV, summary and plots`, async () => {
    const out = await Deno.makeTempDir({ prefix: "mixnet-bench-test-" });
    try {
      const args = ["--clients", "2", "--sizes", "100", "--repeat", "1", "--out", out];
      const bench = await run(
        "tasks/bench.ts",
        mode === "in-process" ? [...args, "--in-process"] : args,
      );
      assert.equal(bench.code, 0, bench.stdout + bench.stderr);
      const files = [...Deno.readDirSync(out)].map((e) => e.name.replace(/^\d{4}-\d\d-\d\d-/, ""));
      assert.deepEqual(files.sort(), [
        "full-by-clients.svg",
        "full-by-size.svg",
        "full-summary.csv",
        "full.csv",
      ]);
      const csv = Deno.readTextFileSync(
        `${out}/${[...Deno.readDirSync(out)].find((e) => e.name.endsWith("-full.csv"))!.name}`,
      );
      const [header, row] = csv.trim().split("\n");
      assert.equal(header, "num_clients,message_size,repeat,prepare_s,mix_latency_s,e2e_s");
      const [clients, size, repeat, prepare, mix, e2e] = row.split(",").map(Number);
      assert.deepEqual([clients, size, repeat], [2, 100, 1]);
      // Each figure is a real duration, and they nest: the mixes take part of the end-to-end time.
      assert.ok(prepare > 0 && mix > 0 && e2e > mix, row);
      assert.match(bench.stdout, /\| 2 \| 100 \| /);
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  });
}
