"""Speed and memory on the default corpus: prints a Markdown table and writes JSON.

    python benchmarks/bench.py            # or: make bench   (ASSISTANT_* settings apply, e.g. the stand-in)

What it measures (each in a fresh process, so imports and model loading count where they should):

* build: the index from scratch (empty index folder), wall time and peak RSS; indexing throughput
  (passages and sentences embedded per second) beside the engine's raw throughput on the same texts;
* cold start: process start → first answer with the index already built;
* warm latency over the evaluation questions, after one warm-up call, each call with an empty
  query-vector memo: the embedder's own query p50 (the floor: one forward pass), ``retrieve()`` and
  ``answer()`` p50/p95, and the serving process's peak RSS;
* concurrency: the same questions from 1 and from 4 threads at once — throughput, and CPU time per
  wall second (at most the cores, or threads are fighting over them).
"""

from __future__ import annotations

import json
import os
import platform
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
    out["texts_embedded"] = report.embedded
    r = bot.retriever()
    texts = [p.text for p in r.passages]
    texts += [p.text[a:b] for p, spans in zip(r.passages, r.index.sentences) for a, b in spans]
    t = time.perf_counter()
    bot.embedder.embed_batch(texts[:200], "passage")
    out["engine_texts_per_s"] = min(len(texts), 200) / (time.perf_counter() - t)
elif mode == "cold":
    bot.answer("How much has Japan invested in the economy of Kazakhstan?")
    out["first_answer_s"] = time.time() - t0
elif mode == "warm":
    qs = [json.loads(l)["question"] for l in open(sys.argv[3], encoding="utf-8")]
    bot.answer(qs[0]); bot.retrieve(qs[0])
    e, r, a = [], [], []
    for q in qs:
        bot.embedder.clear_query_cache()
        t = time.perf_counter(); bot.embedder.embed_queries([q]); e.append(time.perf_counter() - t)
        bot.embedder.clear_query_cache()  # each call pays for its own query embedding
        t = time.perf_counter(); bot.retrieve(q, k=5); r.append(time.perf_counter() - t)
        bot.embedder.clear_query_cache()
        t = time.perf_counter(); bot.answer(q); a.append(time.perf_counter() - t)
    out["embed"], out["retrieve"], out["answer"] = e, r, a
else:  # concurrency
    from concurrent.futures import ThreadPoolExecutor
    qs = [json.loads(l)["question"] for l in open(sys.argv[3], encoding="utf-8")]
    bot.answer(qs[0])
    for threads in (1, 4):
        bot.embedder.clear_query_cache()
        c0, w0 = os.times(), time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda q: (bot.embedder.clear_query_cache(), bot.answer(q)), qs))
        c1, w1 = os.times(), time.perf_counter()
        cpu = (c1.user - c0.user) + (c1.system - c0.system)
        out[f"threads_{threads}"] = {"answers_per_s": len(qs) / (w1 - w0), "cpu_per_wall": cpu / (w1 - w0)}
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
        busy = child("concurrency", env)
    ms = lambda xs, q: round(1000 * pct(xs, q), 1)  # noqa: E731
    results = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average_at_start": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "model": warm["model"],
        "passages": build["passages"],
        "build_index_s": round(build["build_s"], 2),
        "build_process_wall_s": round(build["wall_s"], 2),
        "build_peak_rss_mb": round(build["peak_rss_mb"]),
        "texts_embedded": build["texts_embedded"],
        "indexing_texts_per_s": round(build["texts_embedded"] / build["build_s"], 1),
        "engine_texts_per_s": round(build["engine_texts_per_s"], 1),
        "start_to_first_answer_s": round(cold["first_answer_s"], 2),
        "embed_query_p50_ms": ms(warm["embed"], 0.5),
        "retrieve_p50_ms": ms(warm["retrieve"], 0.5),
        "retrieve_p95_ms": ms(warm["retrieve"], 0.95),
        "answer_p50_ms": ms(warm["answer"], 0.5),
        "answer_p95_ms": ms(warm["answer"], 0.95),
        "queries": len(warm["answer"]),
        "warm_peak_rss_mb": round(warm["peak_rss_mb"]),
        "concurrency": {k: {m: round(v, 2) for m, v in d.items()} for k, d in busy.items() if k.startswith("threads")},
    }
    out = ROOT / "benchmarks" / "results.json"
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    r = results
    one, four = r["concurrency"]["threads_1"], r["concurrency"]["threads_4"]
    print(f"Model: {r['model']}\nMachine: {r['machine']}; {r['passages']} passages; "
          f"load {r['load_average_at_start']}\n")
    print("| measure | value | target |\n|---|---|---|")
    print(f"| build index from scratch | {r['build_index_s']} s (process {r['build_process_wall_s']} s) | ≤ 60 s |")
    print(f"| indexing throughput / engine alone | {r['indexing_texts_per_s']} / {r['engine_texts_per_s']} texts/s "
          f"({r['texts_embedded']} passages and sentences) | |")
    print(f"| process start → first answer (index built) | {r['start_to_first_answer_s']} s | ≤ 8 s |")
    print(f"| embedder's own query p50 (the floor) | {r['embed_query_p50_ms']} ms | |")
    print(f"| retrieve() p50 / p95, warm | {r['retrieve_p50_ms']} / {r['retrieve_p95_ms']} ms | "
          f"p50 ≤ {r['embed_query_p50_ms'] + 5:.1f} ms (floor + 5) |")
    print(f"| answer() p50 / p95, warm | {r['answer_p50_ms']} / {r['answer_p95_ms']} ms | "
          f"p50 ≤ {r['retrieve_p50_ms'] + 15:.1f} ms (retrieve + 15) |")
    print(f"| answers/s, 1 thread / 4 threads | {one['answers_per_s']} / {four['answers_per_s']} | |")
    print(f"| CPU seconds per wall second, 1 / 4 threads | {one['cpu_per_wall']} / {four['cpu_per_wall']} | "
          f"≤ {os.cpu_count()} (cores) |")
    print(f"| peak RSS: build / serving | {r['build_peak_rss_mb']} / {r['warm_peak_rss_mb']} MB | |")
    print(f"\n({r['queries']} questions from {QUESTIONS.relative_to(ROOT)}; written to {out.relative_to(ROOT)})")


if __name__ == "__main__":
    main()
