#!/bin/bash
# The original benchmark's grid, run point by point alternately by the original implementation and
# by mixnet on the same machine, so both see the same load; one JSON line per run.
#
#   bench/side_by_side.sh POINT_SH [REPEAT] > side-by-side.jsonl
#   SIZES="10 1000000" CLIENTS="2 10" bench/side_by_side.sh POINT_SH 1   # part of the grid
#
# POINT_SH runs one point of the original ("point.sh CLIENTS SIZE" printing its driver's JSON line,
# as ../shared/original/point.sh does). Each mixnet point is `deno task bench` in a fresh network.
set -euo pipefail
POINT=${1:?usage: side_by_side.sh POINT_SH [REPEAT]}
REPEAT=${2:-3}
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for rep in $(seq 1 "$REPEAT"); do
  for size in ${SIZES:-10 100 1000 10000 100000 1000000}; do
    for clients in ${CLIENTS:-2 4 6 8 10}; do
      echo "{\"implementation\":\"original\",\"repeat\":$rep,\"result\":$("$POINT" "$clients" "$size" | tail -1)}"
      rm -rf "${out:?}"/*
      deno task bench --clients "$clients" --sizes "$size" --repeat 1 --name point --out "$out" \
        >/dev/null 2>&1 || true
      row=$(tail -n +2 "$out"/*-point.csv 2>/dev/null | head -1)
      echo "{\"implementation\":\"mixnet\",\"repeat\":$rep,\"clients\":$clients,\"size\":$size,\"csv\":\"$row\"}"
    done
  done
done
