"""How the index's cost grows with its size: build, open, serve, update, at N passages.

    python benchmarks/scale.py --passages 100000 [--json] [--keep DIR]

Embedding a million passages with the real model would take days on 2 cores, so the corpus is
synthesised, in a way meant not to flatter anything:

* vectors: each document gets a topic, one of the default corpus's real passage and sentence
  vectors (embedded by the product's model); each of its passages is that vector plus half a random
  mixture of two other real vectors, plus Gaussian noise, normalised. So passages cluster by topic
  the way real ones do; uniform noise would make every ANN index look bad and tune it wrongly;
* texts: Russian (60 %) and English documents of 20 passages, 80-160 words each, drawn from a
  Zipf-distributed vocabulary (exponent 1.07): every word of the default corpus in its language,
  ranked by its frequency there, followed by invented words (random syllables) for the long tail,
  so BM25's vocabulary and posting lists grow with N as real ones do; sentences of 8-40 words;
* questions: a passage's vector with more noise, and eight words, half of them from that passage.

What it measures (``--json`` prints one object with these keys):

* ``build_s`` — writing the index from passages and vectors already in memory (no embedding):
  SQLite, BM25, FAISS (trained, for IVF), the arrays, checksums;
* ``open_s`` — in a new process: interpreter start → index opened, model loaded and the first
  hybrid query answered; ``open_index_s`` is the index's own share;
* ``serving_rss_mb`` — that process's resident memory after the timed queries (``rss_by_file_mb``:
  the largest parts of it, by mapped file);
* ``retrieve_p50_ms``/``retrieve_p95_ms`` — hybrid retrieval (dense ∥ BM25 ∥ names → fusion →
  near-duplicate removal), the query vector computed beforehand;
* ``recall_at_10`` — the dense leg's top 10 against exact search over the same vectors;
* ``add_document_s``/``remove_document_s`` — one document of 20 passages added, then removed, with
  their vectors already at hand (what a sync does after embedding): opening the live index, writing
  the new generation (a delta segment past ``store.SEGMENTS_ABOVE`` passages, else a full rebuild:
  ``update`` says which) and opening it; ``after_add``: retrieval from the updated index, and the
  rank at which a question about the added document finds it.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant import store  # noqa: E402
from assistant.embed import text_key  # noqa: E402
from assistant.ingest.chunk import passage_id  # noqa: E402
from assistant.records import Document, Passage  # noqa: E402

DOC_PASSAGES = 20
ZIPF = 1.07
QUERIES = 200
SYLLABLES = {
    "ru": "ка ра то ми ло не ви ст ов ан ер ко ли ту ба да же зо ин пр ос".split(),
    "en": "ka ri to mi lo ne vi st an er co li tu ba da ge zo in pr os th".split(),
}

CHILD = r"""
import json, sys, time
t0 = float(sys.argv[2])
from pathlib import Path
import numpy as np
from assistant import Assistant, store
from assistant.retrieve import searcher
work = Path(sys.argv[1])
from assistant.settings import Settings
from assistant.embed import load_embedder
from assistant.retrieve.policy import SearchOptions
t = time.perf_counter()
index = store.load(work / "index")
open_index = time.perf_counter() - t
settings = Settings(index_dir=work / "index", corpus_dir=work / "corpus")
embedder = load_embedder(settings)
retriever = searcher.Retriever(index, embedder, SearchOptions.from_settings(settings))
queries = json.loads((work / "queries.json").read_text(encoding="utf-8"))
vectors = np.load(work / "query_vectors.npy")
def ask(i):
    q = retriever.analyse(queries[i], mode="lexical").with_vector(vectors[i])
    return retriever.search(q, k=5)
ask(0)
open_s = time.time() - t0
for i in range(1, 6):
    ask(i)
times = []
for i in range(len(queries)):
    t = time.perf_counter(); ask(i); times.append(time.perf_counter() - t)
dense = []
for v in vectors:
    rows, _ = index.search_vectors(v, 10)
    dense.append(rows.tolist())
found_at = None
if len(sys.argv) > 3:  # after the update: where the added document's own question finds it
    added = json.loads((work / "added_query.json").read_text(encoding="utf-8"))
    q = retriever.analyse(added["text"], mode="lexical").with_vector(np.array(added["vector"], dtype=np.float32))
    found_at = next((i + 1 for i, p in enumerate(retriever.search(q, k=10)) if p.source == added["source"]), None)
status = dict(l.split(":", 1) for l in open("/proc/self/status") if ":" in l)
by_file, name = {}, None
for line in open("/proc/self/smaps"):
    head = line.split()
    if head and not head[0].endswith(":"):
        name = head[5] if len(head) > 5 else "[anon]"
        name = name if not name.startswith(str(work)) else name[len(str(work)) + 1:].split("/", 2)[-1]
    elif head and head[0] == "Rss:":
        by_file[name] = by_file.get(name, 0) + int(head[1]) / 1024
top = dict(sorted(((k, round(v)) for k, v in by_file.items() if v >= 8), key=lambda kv: -kv[1])[:8])
print(json.dumps({"open_s": open_s, "open_index_s": open_index, "rss_by_file_mb": top, "added_found_at": found_at,
                  "retrieve_p50_ms": 1000 * float(np.percentile(times, 50)),
                  "retrieve_p95_ms": 1000 * float(np.percentile(times, 95)),
                  "serving_rss_mb": int(status["VmRSS"].split()[0]) / 1024,
                  "serving_rss_anon_mb": int(status["RssAnon"].split()[0]) / 1024,
                  "dense": dense}))
"""


def base_corpus(work: Path) -> tuple[np.ndarray, dict[str, list[str]]]:
    """The default corpus's real vectors (passages and sentences) and its words by language,
    most frequent first (indexed once, into ``build/scale-base``, reusing ``index/``'s vector cache)."""
    from assistant import Assistant
    from assistant.lexical import TOKEN
    from assistant.settings import Settings

    base = ROOT / "build" / "scale-base"
    if not (base / "CURRENT").exists() and (ROOT / "index" / "vectors.sqlite").exists():
        base.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "index" / "vectors.sqlite", base / "vectors.sqlite")
    bot = Assistant(settings=Settings(corpus_dir=ROOT / "corpus", index_dir=base))
    index = bot.retriever().index
    real = np.concatenate([index.vectors_of(range(index.size)), np.asarray(index.sentence_vectors)])
    counts: dict[str, Counter[str]] = {"ru": Counter(), "en": Counter()}
    for p in index.passages:
        for w in TOKEN.findall(p.text.lower()):
            if w.isalpha():
                counts["ru" if re.search("[а-яё]", w) else "en"][w] += 1
    return real.astype(np.float32), {k: [w for w, _ in c.most_common()] for k, c in counts.items()}


def invented(lang: str, n: int, rng: np.random.Generator) -> list[str]:
    syl = SYLLABLES[lang]
    out = set()
    while len(out) < n:
        parts = rng.integers(0, len(syl), size=(n, 4))
        lens = rng.integers(2, 5, size=n)
        out.update("".join(syl[j] for j in row[:k]) for row, k in zip(parts.tolist(), lens.tolist(), strict=True))
    return sorted(out)[:n]


class Synth:
    def __init__(self, real: np.ndarray, words: dict[str, list[str]], n: int, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.real = real
        self.vocab = {}
        self.cdf = {}
        for lang in ("ru", "en"):
            # the tail grows with the corpus, as a real vocabulary does (Heaps' law, roughly)
            tail = invented(lang, int(4 * n ** 0.75) + 1000, self.rng)
            vocab = np.array(words[lang] + tail, dtype=object)
            p = 1.0 / np.arange(1, len(vocab) + 1) ** ZIPF
            self.vocab[lang] = vocab
            self.cdf[lang] = np.cumsum(p / p.sum())

    def words(self, lang: str, k: int) -> list[str]:
        idx = np.searchsorted(self.cdf[lang], self.rng.random(k))
        return self.vocab[lang][np.minimum(idx, len(self.vocab[lang]) - 1)].tolist()

    def text(self, lang: str) -> tuple[str, list[tuple[int, int]]]:
        words = self.words(lang, int(self.rng.integers(80, 161)))
        out, spans, pos, i = [], [], 0, 0
        while i < len(words):
            k = int(self.rng.integers(8, 41))
            sentence = " ".join(words[i : i + k])
            sentence = sentence[0].upper() + sentence[1:] + "."
            spans.append((pos, pos + len(sentence)))
            out.append(sentence)
            pos += len(sentence) + 1
            i += k
        return " ".join(out), spans

    def vectors(self, topic: np.ndarray, n: int, noise: float) -> np.ndarray:
        pick = self.rng.integers(0, len(self.real), size=(n, 2))
        w = self.rng.dirichlet(np.ones(2), size=n).astype(np.float32)
        x = topic[None, :] + 0.5 * np.einsum("nk,nkd->nd", w, self.real[pick])
        x += noise * self.rng.normal(size=x.shape).astype(np.float32) / np.sqrt(x.shape[1])
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

    def document(self, source: str) -> tuple[Document, list[Passage], np.ndarray, list[list[tuple[int, int]]]]:
        lang = "ru" if self.rng.random() < 0.6 else "en"
        topic = self.real[self.rng.integers(0, len(self.real))]
        texts, spans = zip(*(self.text(lang) for _ in range(DOC_PASSAGES)), strict=True)
        body = "\n\n".join(texts)
        passages, pos = [], 0
        for t in texts:
            passages.append(Passage(id=passage_id(source, pos, t), source=source, title=source, language=lang,
                                    start=pos, end=pos + len(t), text=t))
            pos += len(t) + 2
        doc = Document(source=source, title=source, language=lang, text=body, content_hash=text_key(body),
                       origin="synthetic", spans=((0, len(body), 0),), warnings=(), owner="")
        return doc, passages, self.vectors(topic, DOC_PASSAGES, 0.6), list(spans)

    def sentence_vectors(self, out: np.ndarray, vectors: np.ndarray, counts: np.ndarray) -> None:
        """Each sentence's vector: its passage's, perturbed and normalised; written into ``out``
        (a memory-mapped file: at a million passages they are several GB)."""
        start = np.concatenate([[0], np.cumsum(counts)])
        step = 20_000
        for a in range(0, len(vectors), step):
            rows = np.repeat(np.arange(a, min(a + step, len(vectors))), counts[a : a + step])
            x = vectors[rows] + 0.6 * self.rng.normal(size=(len(rows), vectors.shape[1])).astype(np.float32) \
                / np.sqrt(vectors.shape[1])
            out[start[a] : start[a] + len(rows)] = x / np.linalg.norm(x, axis=1, keepdims=True)


def manifest(model: dict, passages: int, documents: int) -> dict:
    return {"model": model, "chunking": {"synthetic": True}, "corpus": {"dir": "", "fingerprint": "", "documents": {}},
            "counts": {"documents": documents, "passages": passages}, "skipped": [], "skipped_hashes": {},
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def run(n: int, keep: Path | None) -> dict:
    work = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="scale-"))
    work.mkdir(parents=True, exist_ok=True)
    real, words = base_corpus(work)
    from assistant import Assistant
    from assistant.settings import Settings

    model = Assistant(settings=Settings(corpus_dir=ROOT / "corpus", index_dir=ROOT / "build" / "scale-base")) \
        .retriever().index.manifest["model"]
    synth = Synth(real, words, n)
    t = time.perf_counter()
    docs: dict[str, Document] = {}
    passages: list[Passage] = []
    vec_parts, sentences = [], []
    for d in range(max(1, n // DOC_PASSAGES)):
        doc, ps, v, spans = synth.document(f"doc{d:07d}.txt")
        docs[doc.source] = doc
        passages.extend(ps)
        vec_parts.append(v)
        sentences.extend(spans)
    vectors = np.concatenate(vec_parts)
    del vec_parts
    added, added_passages, added_vectors, added_spans = synth.document("added.txt")
    counts = np.array([len(s) for s in sentences + added_spans], dtype=np.int64)
    dim = vectors.shape[1]
    # the sentence vectors of the index with the added document; the index without it uses the first rows
    all_sentence_vectors = np.lib.format.open_memmap(work / "sentence_vectors.npy", mode="w+", dtype=np.float32,
                                                     shape=(int(counts.sum()), dim))
    synth.sentence_vectors(all_sentence_vectors, np.concatenate([vectors, added_vectors]), counts)
    sentence_vectors = all_sentence_vectors[: int(counts[: len(sentences)].sum())]
    synth_s = time.perf_counter() - t
    all_sentence_vectors.flush()
    os.sync()  # the synthetic input's write-back is not the product's cost: done before anything is timed
    print(f"synthesised {len(passages)} passages, {len(sentence_vectors)} sentences in {synth_s:.0f} s",
          file=sys.stderr)

    index_dir = work / "index"
    shutil.rmtree(index_dir, ignore_errors=True)
    t = time.perf_counter()
    store.save(index_dir, manifest(model, len(passages), len(docs)), passages, docs, vectors, sentences,
               sentence_vectors)
    build_s = time.perf_counter() - t
    print(f"built in {build_s:.0f} s", file=sys.stderr)

    # questions: near a passage, with words from it
    rng = np.random.default_rng(1)
    targets = rng.integers(0, len(passages), size=QUERIES)
    queries = []
    for r in targets.tolist():
        own = [w for w in re.findall(r"\w+", passages[r].text.lower())]
        picked = rng.choice(own, size=4, replace=False).tolist() + synth.words(passages[r].language, 4)
        queries.append(" ".join(picked))
    qv = vectors[targets] + 0.9 * rng.normal(size=(QUERIES, vectors.shape[1])).astype(np.float32) \
        / np.sqrt(vectors.shape[1])
    qv = (qv / np.linalg.norm(qv, axis=1, keepdims=True)).astype(np.float32)
    (work / "queries.json").write_text(json.dumps(queries, ensure_ascii=False), encoding="utf-8")
    n_passages, n_docs = len(passages), len(docs)
    segmented = n_passages >= store.SEGMENTS_ABOVE
    if segmented:  # updates will not need the corpus in memory: give its memory back to the page cache
        del passages, docs, sentences
        gc.collect()
    np.save(work / "query_vectors.npy", qv)
    (work / "corpus").mkdir(exist_ok=True)

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", CHILD, str(work), repr(time.time())], capture_output=True,
                          text=True, env=env, check=False)
    if done.returncode:
        raise SystemExit(f"serving process failed: {done.stderr.strip().splitlines()[-1]}")
    served = json.loads(done.stdout.strip().splitlines()[-1])
    exact = [np.argsort(-(vectors @ q), kind="stable")[:10] for q in qv]
    recall = float(np.mean([len(set(d) & set(e.tolist())) / 10 for d, e in zip(served.pop("dense"), exact,
                                                                                strict=True)]))
    print(f"served: {json.dumps(served)}, recall@10 {recall:.3f}", file=sys.stderr)  # before the long updates

    # one document of 20 passages in, then out, as a sync writes it once the new passages are embedded:
    # opening the live index, the new generation (a delta segment past store.SEGMENTS_ABOVE passages,
    # else a full rebuild), opening it
    t = time.perf_counter()
    previous = store.load(index_dir)
    assert previous is not None
    if store.can_append(previous, len(added_passages)):
        store.append(index_dir, previous, manifest(model, n_passages + DOC_PASSAGES, n_docs + 1),
                     added_passages, {added.source: added}, added_vectors, added_spans,
                     all_sentence_vectors[len(sentence_vectors):])
    else:
        assert not segmented
        store.save(index_dir, manifest(model, len(passages) + DOC_PASSAGES, len(docs) + 1),
                   passages + added_passages, {**docs, added.source: added}, np.concatenate([vectors, added_vectors]),
                   sentences + added_spans, all_sentence_vectors)
    add_s = time.perf_counter() - t
    own = re.findall(r"\w+", added_passages[3].text.lower())
    noisy = added_vectors[3] + 0.9 * rng.normal(size=vectors.shape[1]).astype(np.float32) / np.sqrt(vectors.shape[1])
    (work / "added_query.json").write_text(json.dumps({
        "source": added.source, "text": " ".join(rng.choice(own, size=4, replace=False).tolist()
                                                 + synth.words(added.language, 4)),
        "vector": (noisy / np.linalg.norm(noisy)).tolist()}, ensure_ascii=False), encoding="utf-8")
    # served again, from the updated index: the added document is found, and at what speed
    again = subprocess.run([sys.executable, "-c", CHILD, str(work), repr(time.time()), "added"], capture_output=True,
                           text=True, env=env, check=False)
    if again.returncode:
        raise SystemExit(f"serving process failed: {again.stderr.strip().splitlines()[-1]}")
    after = json.loads(again.stdout.strip().splitlines()[-1])
    t = time.perf_counter()
    previous = store.load(index_dir)
    assert previous is not None
    if store.can_append(previous, 0):
        store.append(index_dir, previous, manifest(model, n_passages, n_docs), [], {},
                     np.zeros((0, vectors.shape[1]), np.float32), [], np.zeros((0, vectors.shape[1]), np.float32),
                     removed=[added.source])
    else:
        store.save(index_dir, manifest(model, len(passages), len(docs)), passages, docs, vectors, sentences,
                   sentence_vectors)
    remove_s = time.perf_counter() - t
    loaded = store.load(index_dir)
    assert loaded is not None and added.source not in loaded.documents
    out = {"passages": n_passages, "documents": n_docs, "sentences": len(sentence_vectors),
           "vector_index": loaded.manifest["vectors"], "build_s": round(build_s, 2),
           "open_s": round(served["open_s"], 2), "open_index_s": round(served["open_index_s"], 3),
           "serving_rss_mb": round(served["serving_rss_mb"]),
           "serving_rss_anon_mb": round(served["serving_rss_anon_mb"]),
           "retrieve_p50_ms": round(served["retrieve_p50_ms"], 2),
           "retrieve_p95_ms": round(served["retrieve_p95_ms"], 2), "recall_at_10": round(recall, 3),
           "add_document_s": round(add_s, 2), "remove_document_s": round(remove_s, 2),
           "update": "delta segment" if segmented else "full rebuild",
           "after_add": {"retrieve_p50_ms": round(after["retrieve_p50_ms"], 2),
                         "retrieve_p95_ms": round(after["retrieve_p95_ms"], 2),
                         "added_found_at": after["added_found_at"]},
           "rss_by_file_mb": served["rss_by_file_mb"],
           "index_mb": round(sum(f.stat().st_size for f in loaded.path.rglob("*") if f.is_file()) / 2**20),
           "synthesis_s": round(synth_s, 1), "machine": f"{os.cpu_count()} cores"}
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--passages", type=int, required=True)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--keep", type=Path, help="build in this folder and keep it")
    ap.add_argument("--results", type=Path, help="merge the result into this JSON file (keyed by passages)")
    args = ap.parse_args()
    if args.passages < DOC_PASSAGES:
        raise SystemExit(f"error: --passages must be at least {DOC_PASSAGES}")
    out = run(args.passages, args.keep)
    if args.results:
        found = json.loads(args.results.read_text()) if args.results.exists() else {}
        found[str(out["passages"])] = out
        args.results.write_text(json.dumps(found, indent=2) + "\n")
    print(json.dumps(out) if args.json else "\n".join(f"{k:>20}  {v}" for k, v in out.items()))


if __name__ == "__main__":
    main()
