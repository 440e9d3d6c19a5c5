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

Deno.test("the capacity mode probes a tiny setting and writes its probes, summary and machine rates", async () => {
  const out = await Deno.makeTempDir({ prefix: "mixnet-bench-test-" });
  try {
    const args = ["--capacity", "--sizes", "1024", "--seconds", "2", "--clients", "2"];
    const bench = await run(
      "tasks/bench.ts",
      [...args, "--round", "0.2", "--probes", "2", "--out", out],
    );
    assert.equal(bench.code, 0, bench.stdout + bench.stderr);
    const names = [...Deno.readDirSync(out)].map((e) => e.name).sort();
    assert.deepEqual(names.map((n) => n.replace(/^\d{4}-\d\d-\d\d-/, "")), [
      "capacity-summary.csv",
      "capacity.csv",
    ]);
    const read = (suffix: string) => {
      const [header, ...rows] = Deno.readTextFileSync(
        `${out}/${names.find((n) => n.endsWith(suffix))}`,
      )
        .trim().split("\n");
      const columns = header.split(",");
      return rows.map((row) => Object.fromEntries(row.split(",").map((v, i) => [columns[i], v])));
    };

    // Every probe: the load it offered follows from its setting; its verdict matches its reasons.
    const probes = read("-capacity.csv");
    assert.ok(probes.length >= 1 && probes.length <= 2, JSON.stringify(probes));
    for (const p of probes) {
      assert.equal(p.payload_size, "1024");
      assert.equal(p.clients, "2");
      assert.equal(p.stage, "screen");
      const round = Number(p.round_s);
      assert.ok(round === 0.2 || round === 0.1 || round === 0.4, p.round_s);
      assert.equal(Number(p.offered_mb_s), Number((2 * 1024 / round / 1e6).toPrecision(4)));
      assert.ok(["true", "false"].includes(p.sustained));
      assert.equal(p.sustained === "true", p.reason === "", JSON.stringify(p));
      for (const reason of p.reason.split("+").filter(Boolean)) {
        assert.ok(["paused", "latency", "short"].includes(reason), reason);
      }
      assert.ok(Number(p.rounds) >= 1 && Number(p.paused) >= 0, JSON.stringify(p));
      assert.deepEqual([p.mixes, p.fetch_size], ["3", "2"]);
    }

    // The summary: a sustained load is one a probe sustained; the machine's rates are rates.
    const [summary] = read("-capacity-summary.csv");
    assert.equal(summary.payload_size, "1024");
    assert.equal(Number(summary.probes), probes.length);
    if (summary.sustained_mb_s !== "") {
      const held = probes.find((p) => p.sustained === "true" && p.round_s === summary.round_s);
      assert.equal(held?.offered_mb_s, summary.sustained_mb_s);
      assert.ok(Number(summary.p50_latency_s) <= Number(summary.p99_latency_s));
    } else {
      assert.notEqual(summary.failing_reason, "", JSON.stringify(summary));
    }
    for (const rate of ["seal", "open", "sha256", "random", "tcp", "tcp_cpu", "bound"]) {
      assert.ok(Number(summary[`${rate}_mb_s`]) > 0, `${rate}: ${summary[`${rate}_mb_s`]}`);
    }
    assert.match(bench.stdout, /\| 1,024 B \| 2 \| /);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
