"""Speed and memory on the default corpus: prints a Markdown table and writes JSON.

    python benchmarks/bench.py            # or: make bench

What it measures (each in a fresh process, so imports and model loading count where they should):

* build: the index from scratch (empty index folder), wall time and peak RSS;
* cold start: process start → first answer with the index already built;
* warm latency: ``retrieve()`` and ``answer()`` p50/p95 over the evaluation questions, after one
  warm-up call, each call with an empty query-embedding cache, and the peak RSS of that process.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "evals" / "questions.jsonl"

CHILD = r"""
import json, os, resource, sys, time
t0 = float(sys.argv[2])
mode = sys.argv[1]
from assistant import Assistant
bot = Assistant()
out = {}
if mode == "build":
    t = time.perf_counter()
    report = bot.index(force=True)
    out["build_s"] = time.perf_counter() - t
    out["passages"] = report.passages
elif mode == "cold":
    bot.answer("How much has Japan invested in the economy of Kazakhstan?")
    out["first_answer_s"] = time.time() - t0
else:
    qs = [json.loads(l)["question"] for l in open(sys.argv[3], encoding="utf-8")]
    bot.answer(qs[0]); bot.retrieve(qs[0])
    r, a = [], []
    for q in qs:
        bot.embedder.clear_query_cache()  # each call pays for its own query embedding
        t = time.perf_counter(); bot.retrieve(q, k=5); r.append(time.perf_counter() - t)
        bot.embedder.clear_query_cache()
        t = time.perf_counter(); bot.answer(q); a.append(time.perf_counter() - t)
    out["retrieve"] = r
    out["answer"] = a
out["model"] = bot.embedder.info.describe()
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("RESULT " + json.dumps(out))
"""


def child(mode: str, env: dict[str, str]) -> dict:
    start = time.time()
    proc = subprocess.run([sys.executable, "-c", CHILD, mode, str(start), str(QUESTIONS)],
                          capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    if proc.returncode or line is None:
        sys.exit(f"benchmark child {mode!r} failed:\n{proc.stderr[-2000:]}")
    data = json.loads(line[len("RESULT "):])
    data["wall_s"] = time.time() - start
    return data


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "ASSISTANT_INDEX_DIR": str(Path(tmp) / "index")}
        env.setdefault("ASSISTANT_CORPUS_DIR", str(ROOT / "corpus"))
        build = child("build", env)
        cold = child("cold", env)
        warm = child("warm", env)
    ms = lambda xs, q: 1000 * pct(xs, q)  # noqa: E731
    results = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "model": warm["model"],
        "passages": build["passages"],
        "build_index_s": round(build["build_s"], 2),
        "build_process_wall_s": round(build["wall_s"], 2),
        "build_peak_rss_mb": round(build["peak_rss_mb"]),
        "start_to_first_answer_s": round(cold["first_answer_s"], 2),
        "retrieve_p50_ms": round(ms(warm["retrieve"], 0.5), 1),
        "retrieve_p95_ms": round(ms(warm["retrieve"], 0.95), 1),
        "answer_p50_ms": round(ms(warm["answer"], 0.5), 1),
        "answer_p95_ms": round(ms(warm["answer"], 0.95), 1),
        "answer_mean_ms": round(1000 * statistics.mean(warm["answer"]), 1),
        "queries": len(warm["answer"]),
        "warm_peak_rss_mb": round(warm["peak_rss_mb"]),
    }
    out = ROOT / "benchmarks" / "results.json"
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"Model: {results['model']}\nMachine: {results['machine']}; {results['passages']} passages\n")
    print("| measure | value | target |\n|---|---|---|")
    build = f"{results['build_index_s']} s (process {results['build_process_wall_s']} s)"
    print(f"| build index from scratch | {build} | ≤ 30 s |")
    print(f"| process start → first answer (index built) | {results['start_to_first_answer_s']} s | ≤ 8 s |")
    retrieve = f"{results['retrieve_p50_ms']} / {results['retrieve_p95_ms']} ms"
    print(f"| retrieve() p50 / p95, warm | {retrieve} | p50 ≤ 20 ms |")
    print(f"| answer() p50 / p95, warm | {results['answer_p50_ms']} / {results['answer_p95_ms']} ms | p50 ≤ 60 ms |")
    print(f"| peak RSS: build / serving | {results['build_peak_rss_mb']} / {results['warm_peak_rss_mb']} MB | |")
    print(f"\n({results['queries']} questions from {QUESTIONS.relative_to(ROOT)}; written to {out.relative_to(ROOT)})")


if __name__ == "__main__":
    main()
