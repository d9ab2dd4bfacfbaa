"""Refit the answer ranker and the abstention model (`index/answer/ranker_model.json`).

From scratch, in one command, deterministic (same data, same index, same model file):

    nice python training/fit_ranker.py [--data-dir data] [--write]

1. Indexes the NYT dev split (`<data-dir>/eval-nyt`, the one `citebot-index eval` uses)
   and the Wikipedia training set (`<data-dir>/train-wiki`) with the current encoder.
2. Splits the Wikipedia questions by article: every fifth article (sorted by doc id) is
   held out and only reported on.
3. Ranking: a linear model over `rank.RANK_FEATURES`, trained with a listwise softmax
   loss (the probability mass the model puts on the sentences that hold the answer) on
   the Wikipedia training articles plus NYT dev questions 800–1499. NYT dev 0–799 is
   never trained on.
   The scores are then scaled to the spread the round-1 fused score had (the follow-up
   prior and the citation margin are in those units).
4. Abstention: a logistic model over the corpus-independent `rank.ABSTAIN_FEATURES` of
   the top candidate (`ABSTAIN_CORPUS_RELATIVE` are measured, 2-fold AUROC printed, but
   get no weight), each training question asked with the whole corpus (label 1) and with
   its own article left out (label 0), through the real `Ranker` with the new weights.
   The bias is moved so that the default threshold 0.5 refuses REFUSE_ANSWERABLE (7%) of
   the answerable NYT fit questions; the refusal rates at other thresholds are printed.
5. Prints the figures on NYT dev 0–799 and on the held-out Wikipedia articles, and with
   `--write` saves the model file (with those figures in it).

`--compare` also fits LightGBM lambdarank on the same features and prints both models on
the kept candidates of the report questions (needs `pip install lightgbm`, which citebot
does not depend on). Measured on the ONNX vectors, before the word-pair and rank evidence
were added: NYT 0–799 MRR 0.799 (LightGBM, 15 leaves x 200 trees) against 0.793 (linear),
with LightGBM's predict at 4 ms a question against well under 0.1 ms for the linear
model, so the linear model ships.

Extracted features are cached under `--cache` (default /tmp/citebot-fit), keyed by the
index's vectors and the feature code, so a refit after a change of the fitting only reruns
the fit; a new encoder or new features re-extract by themselves.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from index.answer import rank
from index.answer.engine import Index  # noqa: E402
from index.building.builder import build  # noqa: E402
from index.cli import evaluate  # noqa: E402
from index.settings import index_settings  # noqa: E402
from index.types import Source  # noqa: E402

NYT_FIT = range(800, 1500)
NYT_REPORT = range(0, 800)
WIKI_HOLDOUT_EVERY = 5
#: training candidates kept per question besides the hits: the best by the round-1 weights
KEEP = 120
L2 = 1e-3
NYT_WEIGHT = 3.0  # a news question counts as much as this many Wikipedia questions
ROUND1 = rank.FIRST_STAGE
THRESHOLD = 0.5
#: share of answerable NYT fit questions the default threshold may refuse (the target is
#: at most 8% on the report questions; one point of margin)
REFUSE_ANSWERABLE = 0.07
#: generated questions of each kind asked for the abstention fit (with --gen-abstain)
GEN_ABSTAIN = 300


def train_dir() -> Path:
    """`../shared/train` (next to the eval folder, which CITEBOT_EVAL_DIR may move)."""
    return evaluate.eval_dir().parent / "train"


def load_jsonl(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def open_index(data_dir: Path, *docs: Path) -> Index:
    settings = index_settings(data_dir=data_dir)
    build(settings, sources=[Source(d) for d in docs])
    return Index.open(settings)


def index_key(index: Index) -> str:
    manifest = json.loads((index.version_dir / "manifest.json").read_text())
    files = manifest.get("files", {})
    digest = hashlib.sha256(json.dumps([manifest.get("model"), files], sort_keys=True)
                            .encode()).hexdigest()
    return digest[:16]


def _code_key() -> str:
    """The code the extracted candidate features come from, as it was when this run started
    (the abstention and fitting code may change without re-extracting)."""
    import inspect

    from index.answer import answer_types
    from index.storage import files, lexical

    h = hashlib.sha256()
    # the names and word-pair evidence moved into the storage backend (files.py)
    for part in (answer_types, lexical, files, rank.Ranker.candidates, rank.Ranker.features,
                 rank.Ranker._bigrams, rank.Ranker._pairs, rank.Ranker.__init__,
                 rank.reference_sample):
        h.update(inspect.getsource(part).encode())
    h.update(repr((rank.RANK_FEATURES, rank.DENSE_CANDIDATES,
                   rank.LEXICAL_CANDIDATES, rank.TOP_ARTICLES,
                   rank.ARTICLE_ROWS_CAP, rank.SAMPLE_ROWS, "sample by article", KEEP)).encode())
    return h.hexdigest()[:16]


CODE_KEY = _code_key()


def question_vectors(index: Index, questions: list[dict[str, Any]], cache: Path,
                     name: str = "") -> np.ndarray:
    path = cache / f"qvec-{name}{index_key(index)}-{len(questions)}.npy"
    if path.exists():
        return np.load(path)
    vecs = index.encoder.encode([str(q["question"]) for q in questions])
    np.save(path, vecs)
    return vecs


def hits_of(index: Index, q: dict[str, Any], rows: np.ndarray) -> np.ndarray:
    """Which rows overlap the answer span (a hit, as `citebot-index eval` counts it)."""
    article = next(i for i, a in enumerate(index.articles) if a.doc_id == q["doc_id"])
    a0 = int(q["answer_start"])
    a1 = a0 + len(q["answer"])
    return np.array([index.rows[int(r)].article == article and index.rows[int(r)].start < a1
                     and a0 < index.rows[int(r)].end for r in rows], dtype=bool)


def extract(index: Index, questions: list[dict[str, Any]], vecs: np.ndarray,
            cache: Path, name: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per question: (features of the kept candidates, hit mask), whole corpus."""
    path = cache / f"feat-{name}-{index_key(index)}-{CODE_KEY}.npz"
    if path.exists():
        data = np.load(path)
        x, y, bounds = data["x"], data["y"], data["bounds"]  # each read decompresses anew
        return [(x[a:b], y[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    out = []
    started = time.perf_counter()
    for i, q in enumerate(questions):
        pool, _ = index.ranker.candidates(str(q["question"]), vecs[i])
        x = index.ranker.features(str(q["question"]), pool)
        hit = hits_of(index, q, pool.rows)
        base = pool.features @ ROUND1
        keep = np.zeros(len(pool.rows), dtype=bool)
        keep[np.argsort(-base, kind="stable")[:KEEP]] = True
        keep |= hit
        out.append((x[keep], hit[keep]))
        if i % 500 == 0:
            print(f"  {name}: {i}/{len(questions)} ({time.perf_counter() - started:.0f} s)",
                  flush=True)
    bounds = np.cumsum([0] + [len(y) for _, y in out])
    np.savez(path, x=np.concatenate([x for x, _ in out]), y=np.concatenate([y for _, y in out]),
             bounds=bounds)
    return out


def generated_questions(path: Path, kinds: str, held: set[str], per_kind: int
                        ) -> dict[str, list[dict[str, Any]]]:
    """The questions of `training/generate_questions.py` of the chosen kinds ("who,when",
    "all", "none"), none about a held-out Wikipedia article, at most `per_kind` of each
    (an even subsample, deterministic)."""
    if kinds == "none":
        return {}
    if not path.is_file():
        raise SystemExit(f"{path} not found: run `python training/generate_questions.py "
                         "--nyt-fit` first")
    found: dict[str, list[dict[str, Any]]] = {}
    for q in load_jsonl(path):
        if q["doc_id"] not in held and (kinds == "all" or q["kind"] in kinds.split(",")):
            found.setdefault(str(q["kind"]), []).append(q)
    return {k: v[::max(1, -(-len(v) // per_kind))] for k, v in sorted(found.items())}


# --- the ranking model ----------------------------------------------------------------------

def fit_ranker(data: list[tuple[np.ndarray, np.ndarray]], weights: np.ndarray) -> np.ndarray:
    """Linear weights maximising the softmax probability of the hits (L2-regularised)."""
    usable = [(x.astype(np.float64), y, w) for (x, y), w in zip(data, weights, strict=True)
              if y.any()]
    allx = np.concatenate([x for x, _, _ in usable])
    mean, std = allx.mean(axis=0), allx.std(axis=0)
    std = np.where(std > 1e-9, std, 1.0)
    xs = np.concatenate([(x - mean) / std for x, _, _ in usable])
    ys = np.concatenate([y for _, y, _ in usable])
    seg = np.repeat(np.arange(len(usable)), [len(y) for _, y, _ in usable])
    starts = np.concatenate([[0], np.cumsum([len(y) for _, y, _ in usable])[:-1]])
    qw = np.array([w for _, _, w in usable])
    qw = qw / qw.sum()
    nq = len(usable)

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        s = xs @ theta
        smax = np.maximum.reduceat(s, starts)  # questions are contiguous runs of rows
        e = np.exp(s - smax[seg])
        z_all = np.bincount(seg, e, nq)
        z_hit = np.bincount(seg, e * ys, nq)
        value = float(np.sum(qw * (np.log(z_all) - np.log(z_hit)))) + L2 * float(theta @ theta)
        p_all = e / z_all[seg]
        p_hit = np.where(ys, e / np.maximum(z_hit[seg], 1e-300), 0.0)
        grad = xs.T @ (qw[seg] * (p_all - p_hit)) + 2 * L2 * theta
        return value, grad

    res = minimize(loss, np.zeros(xs.shape[1]), jac=True, method="L-BFGS-B",
                   options={"maxiter": 500})
    print(f"  ranker fit: loss {res.fun:.4f} after {res.nit} iterations", flush=True)
    return (res.x / std).astype(np.float32)


def score_scale(data: list[tuple[np.ndarray, np.ndarray]], weights: np.ndarray) -> float:
    """Factor that gives the new scores of each question's ten best candidates the median
    spread (standard deviation) the round-1 fused score gave them."""
    old, new = [], []
    for x, _ in data:
        for w, out in ((ROUND1, old), (weights, new)):
            s = x[:, :len(ROUND1)] @ w if w is ROUND1 else x @ w
            out.append(float(np.sort(s)[-10:].std()))
    return float(np.median(old) / max(np.median(new), 1e-9))


def rank_metrics(data: list[tuple[np.ndarray, np.ndarray]], w: np.ndarray) -> tuple[float, ...]:
    rr, p1, r5 = [], [], []
    for x, y in data:
        s = x @ w
        if not y.any():
            rr.append(0.0), p1.append(False), r5.append(False)
            continue
        r = int((s > s[y].max()).sum()) + 1
        rr.append(1 / r), p1.append(r == 1), r5.append(r <= 5)
    return float(np.mean(rr)), float(np.mean(p1)), float(np.mean(r5))


def compare_lightgbm(data: list[tuple[np.ndarray, np.ndarray]], qweights: np.ndarray,
                     weights: np.ndarray,
                     report: dict[str, list[tuple[np.ndarray, np.ndarray]]]) -> None:
    """The linear model against LightGBM lambdarank (a comparison only; needs lightgbm)."""
    import lightgbm

    x = np.concatenate([x for x, _ in data])
    y = np.concatenate([y for _, y in data]).astype(int)
    groups = [len(y) for _, y in data]
    for leaves, trees in ((15, 200), (31, 400)):
        model = lightgbm.LGBMRanker(objective="lambdarank", n_estimators=trees,
                                    num_leaves=leaves, learning_rate=0.05, min_child_samples=50,
                                    subsample=1.0, colsample_bytree=0.8, random_state=0,
                                    deterministic=True, n_jobs=1, verbose=-1,
                                    lambdarank_truncation_level=20)
        started = time.perf_counter()
        model.fit(x, y, group=groups)
        print(f"  lightgbm {leaves} leaves x {trees} trees: fitted in "
              f"{time.perf_counter() - started:.0f} s", flush=True)
        for name, part in report.items():
            rr, p1, r5 = [], [], []
            for xs, ys in part:
                if not ys.any():
                    rr.append(0.0), p1.append(False), r5.append(False)
                    continue
                sc = model.predict(xs, num_threads=1)
                r = int((sc > sc[ys].max()).sum()) + 1
                rr.append(1 / r), p1.append(r == 1), r5.append(r <= 5)
            print(f"    {name}: lightgbm MRR {np.mean(rr):.3f} P@1 {np.mean(p1):.3f} "
                  f"R@5 {np.mean(r5):.3f}; linear " + "MRR {:.3f} P@1 {:.3f} R@5 {:.3f}".format(
                      *rank_metrics(part, weights)), flush=True)
        xs = report[next(iter(report))][0][0]
        started = time.perf_counter()
        for _ in range(50):
            model.predict(np.repeat(xs, 4, axis=0), num_threads=1)
        ms = (time.perf_counter() - started) / 50 * 1e3
        print(f"    predict {4 * len(xs)} rows: {ms:.2f} ms", flush=True)


# --- abstention -----------------------------------------------------------------------------

def asked(index: Index, questions: list[dict[str, Any]], vecs: np.ndarray,
          model: rank.Model, cache: Path, name: str) -> dict[str, Any]:
    """Each question through the real Ranker: rank of the first hit, abstention evidence
    with the whole corpus and with its own article left out. (Neither depends on the
    abstention model, only on the ranking weights: cached by those and the code.)"""
    import inspect

    h = hashlib.sha256(model.weights.tobytes())
    h.update(inspect.getsource(rank.Ranker.abstain_features).encode())
    h.update(inspect.getsource(rank.Ranker.rank_with_evidence).encode())
    h.update(repr(rank.ABSTAIN_FEATURES).encode())
    path = cache / f"asked-{name}-{index_key(index)}-{CODE_KEY}-{h.hexdigest()[:12]}.npz"
    if path.exists():
        data = np.load(path)
        return {"ranks": [int(r) or None for r in data["ranks"]], "x_in": data["x_in"],
                "x_out": data["x_out"]}
    ranks, x_in, x_out = [], [], []
    for i, q in enumerate(questions):
        ranking, xin = index.ranker.rank_with_evidence(str(q["question"]), vecs[i], None, model)
        hit = hits_of(index, q, ranking.rows)
        ranks.append(int(np.argmax(hit)) + 1 if hit.any() else None)
        allowed = index.allowed_rows(exclude_doc_ids={q["doc_id"]})
        _, xout = index.ranker.rank_with_evidence(str(q["question"]), vecs[i], allowed, model)
        x_in.append(xin)
        x_out.append(xout)
    np.savez(path, ranks=np.array([r or 0 for r in ranks]), x_in=np.array(x_in),
             x_out=np.array(x_out))
    return {"ranks": ranks, "x_in": np.array(x_in), "x_out": np.array(x_out)}


def fit_logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, float]:
    w = w / w.mean()

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ theta[:-1] + theta[-1]
        p = 1 / (1 + np.exp(-z))
        value = float(np.mean(w * (np.logaddexp(0, z) - y * z))) + 1e-3 * float(
            theta[:-1] @ theta[:-1])
        g = w * (p - y) / len(y)
        grad = np.concatenate([x.T @ g + 2e-3 * theta[:-1], [g.sum()]])
        return value, grad

    res = minimize(loss, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B")
    return res.x[:-1], float(res.x[-1])


def figures(result: dict[str, Any], model: rank.Model, threshold: float) -> dict[str, Any]:
    rs = result["ranks"]
    conf_in = np.array([model.confidence(x) for x in result["x_in"]])
    conf_out = np.array([model.confidence(x) for x in result["x_out"]])
    return {
        "questions": len(rs),
        "mrr": round(float(np.mean([1 / r if r else 0 for r in rs])), 4),
        "p1": round(float(np.mean([r == 1 for r in rs])), 4),
        "r5": round(float(np.mean([bool(r) and r <= 5 for r in rs])), 4),
        "auroc": round(evaluate.auroc(list(conf_in), list(conf_out)), 4),
        "answerable_refused": round(float(np.mean(conf_in < threshold)), 4),
        "left_out_refused": round(float(np.mean(conf_out < threshold)), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--cache", type=Path, default=Path("/tmp/citebot-fit"))
    parser.add_argument("--write", action="store_true", help="save index/answer/ranker_model.json")
    parser.add_argument("--compare", action="store_true",
                        help="also fit a LightGBM lambdarank model on the same features and "
                             "print both on the kept candidates of the report questions")
    parser.add_argument("--generated", type=Path,
                        default=Path("/work/scratch/generated.jsonl.gz"),
                        help="questions written by training/generate_questions.py")
    parser.add_argument("--kinds", default="none",
                        help="generated kinds to add to the ranking fit: comma-separated "
                             "(who,when,howmany,where,cloze, nyt-who ...), all, or none")
    parser.add_argument("--per-kind", type=int, default=800,
                        help="at most this many generated questions of each kind")
    parser.add_argument("--gen-weight", type=float, default=0.5,
                        help="weight of a generated question (a Wikipedia question is 1)")
    parser.add_argument("--gen-abstain", action="store_true",
                        help="also add generated questions to the abstention fit")
    parser.add_argument("--distractors", type=float, default=None,
                        help="weight of each fit question asked again over the mixed index "
                             "(the NYT dev articles with the Wikipedia training articles, "
                             "each set the other's distractors: <data-dir>/"
                             "eval-nyt-distractors, the index of `eval --distractors`), "
                             "against 1 for the question over its own collection (0: only "
                             "the figures over the mixed index are reported)")
    parser.add_argument("--distractors-abstain", action="store_true",
                        help="with --distractors, also add the mixed-index questions to the "
                             "abstention fit")
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    eval_folder, train_folder = evaluate.eval_dir(), train_dir()
    print("indexing NYT dev and the Wikipedia training set", flush=True)
    nyt = open_index(args.data_dir / "eval-nyt", eval_folder / evaluate.NYT_DOCS)
    wiki = open_index(args.data_dir / "train-wiki", train_folder / "wiki_train_documents.jsonl.gz")
    nyt_q = evaluate.nyt_questions(eval_folder)
    wiki_q = load_jsonl(train_folder / "wiki_train_questions.jsonl.gz")
    docs = sorted({str(q["doc_id"]) for q in wiki_q})
    held = set(docs[::WIKI_HOLDOUT_EVERY])
    wiki_train = [q for q in wiki_q if q["doc_id"] not in held]
    wiki_held = [q for q in wiki_q if q["doc_id"] in held]
    print(f"  wiki: {len(docs) - len(held)} articles ({len(wiki_train)} questions) to train, "
          f"{len(held)} held out ({len(wiki_held)} questions)", flush=True)

    nyt_vecs = question_vectors(nyt, nyt_q, args.cache)
    wiki_vecs = question_vectors(wiki, wiki_q, args.cache)
    wiki_pos = {id(q): i for i, q in enumerate(wiki_q)}

    def wv(qs: list[dict[str, Any]]) -> np.ndarray:
        return wiki_vecs[[wiki_pos[id(q)] for q in qs]]

    fit_nyt_q = [nyt_q[i] for i in NYT_FIT]
    print("extracting candidate features", flush=True)
    data_wiki = extract(wiki, wiki_train, wv(wiki_train), args.cache, "wiki-train")
    data_nyt = extract(nyt, fit_nyt_q, nyt_vecs[list(NYT_FIT)], args.cache, "nyt-fit")
    data = data_wiki + data_nyt
    qweights = np.array([1.0] * len(data_wiki) + [NYT_WEIGHT] * len(data_nyt))
    generated = generated_questions(args.generated, args.kinds, held, args.per_kind)
    # more questions for the abstention fit: (index, questions, vectors, cache name, weight)
    gen_abstain: list[tuple[Index, list[dict[str, Any]], np.ndarray, str, float]] = []
    for kind, qs in generated.items():
        where = nyt if kind.startswith("nyt-") else wiki
        vecs = question_vectors(where, qs, args.cache, f"gen-{kind}")
        part = extract(where, qs, vecs, args.cache, f"gen-{kind}-{len(qs)}")
        print(f"  generated {kind}: {len(qs)} questions", flush=True)
        data += part
        qweights = np.concatenate([qweights, np.full(len(part), args.gen_weight)])
        if args.gen_abstain:
            step = max(1, len(qs) // GEN_ABSTAIN)
            gen_abstain.append((where, qs[::step], vecs[::step], f"gen-{kind}-{len(qs)}",
                                args.gen_weight))
    mixed = None
    if args.distractors is not None:
        print("indexing the NYT dev and Wikipedia training articles together", flush=True)
        mixed = open_index(args.data_dir / "eval-nyt-distractors",
                           eval_folder / evaluate.NYT_DOCS,
                           evaluate.distractor_documents(eval_folder))
    if mixed is not None and args.distractors > 0:
        mixed_wiki = extract(mixed, wiki_train, wv(wiki_train), args.cache, "mixed-wiki-train")
        mixed_nyt = extract(mixed, fit_nyt_q, nyt_vecs[list(NYT_FIT)], args.cache,
                            "mixed-nyt-fit")
        data += mixed_wiki + mixed_nyt
        qweights = np.concatenate([qweights, np.full(len(mixed_wiki), args.distractors),
                                   np.full(len(mixed_nyt), args.distractors * NYT_WEIGHT)])
    weights = fit_ranker(data, qweights)
    # ranking ignores the scale of the scores, but the follow-up prior and the citation
    # margin are added to / compared with them: scale to the round-1 fused score's spread
    weights *= score_scale(data_nyt, weights)
    for name, part in (("wiki train", data_wiki), ("nyt 800-1499", data_nyt)):
        print("  {}: MRR {:.3f} P@1 {:.3f} R@5 {:.3f} (kept candidates)".format(
            name, *rank_metrics(part, weights)), flush=True)

    if args.compare:
        rep_data = {
            "nyt 0-799": extract(nyt, [nyt_q[i] for i in NYT_REPORT],
                                 nyt_vecs[list(NYT_REPORT)], args.cache, "nyt-report"),
            "wiki held out": extract(wiki, wiki_held, wv(wiki_held), args.cache, "wiki-held"),
        }
        compare_lightgbm(data, qweights, weights, rep_data)

    # abstention: the real ranker with the new weights
    placeholder = rank.Model(weights, np.zeros(len(rank.ABSTAIN_FEATURES), np.float32),
                                 np.ones(len(rank.ABSTAIN_FEATURES), np.float32),
                                 np.zeros(len(rank.ABSTAIN_FEATURES), np.float32), 0.0)
    print("asking the fit questions through the ranker", flush=True)
    stride = max(1, len(wiki_train) // 1400)
    wiki_abstain = wiki_train[::stride]
    fit_nyt = asked(nyt, fit_nyt_q, nyt_vecs[list(NYT_FIT)], placeholder, args.cache,
                    "nyt-fit")
    fit_wiki = asked(wiki, wiki_abstain, wv(wiki_abstain), placeholder, args.cache,
                     "wiki-fit")
    if mixed is not None and args.distractors > 0 and args.distractors_abstain:
        gen_abstain += [(mixed, fit_nyt_q, nyt_vecs[list(NYT_FIT)], "mixed-nyt-fit",
                         args.distractors * NYT_WEIGHT),
                        (mixed, wiki_abstain, wv(wiki_abstain), "mixed-wiki-fit",
                         args.distractors)]
    fit_gen = [asked(where, qs, vecs, placeholder, args.cache, name)
               for where, qs, vecs, name, _ in gen_abstain]
    x = np.concatenate([fit_nyt["x_in"], fit_wiki["x_in"], *(g["x_in"] for g in fit_gen),
                        fit_nyt["x_out"], fit_wiki["x_out"], *(g["x_out"] for g in fit_gen)])
    n_in = len(x) // 2
    y = np.concatenate([np.ones(n_in), np.zeros(n_in)])
    sw = np.tile(np.concatenate([np.full(len(fit_nyt["x_in"]), NYT_WEIGHT),
                                 np.ones(len(fit_wiki["x_in"])),
                                 *(np.full(len(g["x_in"]), part[-1])
                                   for g, part in zip(fit_gen, gen_abstain, strict=True))]),
                 2)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale = np.where(scale > 1e-6, scale, 1.0)
    xz = (x - mean) / scale
    # only evidence that means the same in any corpus is used (a one-article collection
    # must be judged like the whole corpus); the corpus-relative evidence is measured for
    # the record (2-fold cross-validated AUROC on the fit questions)
    portable = np.array([name not in rank.ABSTAIN_CORPUS_RELATIVE
                         for name in rank.ABSTAIN_FEATURES])
    pair = np.tile(np.arange(len(x) // 2), 2)  # a question's two rows stay in one fold
    fold = pair % 2
    choice = {}
    for name, mask in (("portable", portable), ("all", np.ones_like(portable))):
        scores = np.zeros(len(y))
        for k in (0, 1):
            c, b = fit_logistic(xz[fold != k][:, mask], y[fold != k], sw[fold != k])
            scores[fold == k] = xz[fold == k][:, mask] @ c + b
        auc = evaluate.auroc(list(scores[y == 1]), list(scores[y == 0]))
        print(f"  abstention evidence {name}: 2-fold AUROC {auc:.4f}", flush=True)
        choice[name] = (auc, mask)
    use = "portable"
    mask = choice[use][1]
    coef = np.zeros(x.shape[1])
    coef[mask], bias = fit_logistic(xz[:, mask], y, sw)
    # the operating point: on the NYT fit questions, the default threshold refuses
    # REFUSE_ANSWERABLE of the answerable ones; the bias moves it to 0.5
    z_in = ((fit_nyt["x_in"] - mean) / scale) @ coef + bias
    cut = float(np.quantile(z_in, REFUSE_ANSWERABLE))
    bias -= cut
    print(f"  abstention: {use} evidence; bias moved by {-cut:.3f} so that 0.5 refuses "
          f"{REFUSE_ANSWERABLE:.0%} of the answerable fit questions", flush=True)
    model = rank.Model(weights, mean.astype(np.float32), scale.astype(np.float32),
                           coef.astype(np.float32), bias)

    print("reporting", flush=True)
    rep_nyt = asked(nyt, [nyt_q[i] for i in NYT_REPORT], nyt_vecs[list(NYT_REPORT)],
                    placeholder, args.cache, "nyt-report")
    rep_wiki = asked(wiki, wiki_held, wv(wiki_held), placeholder, args.cache, "wiki-held")
    report = {
        "nyt_fit_800_1499": figures(fit_nyt, model, THRESHOLD),
        "nyt_report_0_799": figures(rep_nyt, model, THRESHOLD),
        "wiki_held_out": figures(rep_wiki, model, THRESHOLD),
    }
    if mixed is not None:  # the same questions with the other collection as distractors
        report["nyt_report_0_799_distractors"] = figures(asked(
            mixed, [nyt_q[i] for i in NYT_REPORT], nyt_vecs[list(NYT_REPORT)], placeholder,
            args.cache, "mixed-nyt-report"), model, THRESHOLD)
        report["wiki_held_out_distractors"] = figures(asked(
            mixed, wiki_held, wv(wiki_held), placeholder, args.cache, "mixed-wiki-held"),
            model, THRESHOLD)
    for name, fig in report.items():
        print(f"  {name}: {json.dumps(fig)}", flush=True)
    conf_in = np.array([model.confidence(v) for v in fit_nyt["x_in"]])
    conf_out = np.array([model.confidence(v) for v in fit_nyt["x_out"]])
    for t in (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6):
        print(f"  fit NYT threshold {t}: answerable refused {np.mean(conf_in < t):.3f}, "
              f"left-out refused {np.mean(conf_out < t):.3f}")
    if args.write:
        r4 = lambda a: [round(float(v), 6) for v in a]  # noqa: E731
        out = {
            "about": "written by training/fit_ranker.py; see index/answer/rank.py",
            "rank_features": list(rank.RANK_FEATURES),
            "weights": r4(weights),
            "abstain_features": list(rank.ABSTAIN_FEATURES),
            "abstain_mean": r4(mean), "abstain_scale": r4(scale), "abstain_coef": r4(coef),
            "abstain_bias": round(bias, 6),
            "trained_on": {"wiki_articles": len(docs) - len(held),
                           "wiki_questions": len(wiki_train), "nyt_questions": "800-1499",
                           "generated": {k: len(v) for k, v in generated.items()},
                           "generated_weight": args.gen_weight if generated else 0.0,
                           "generated_in_abstention": any(
                               name.startswith("gen-") for *_, name, _ in gen_abstain),
                           "distractors_weight": args.distractors or 0.0,
                           "distractors_in_abstention": bool(args.distractors)
                           and args.distractors_abstain},
            "figures_at_threshold": THRESHOLD,
            "abstain_evidence": use,
            "operating_point": f"0.5 refuses {REFUSE_ANSWERABLE:.0%} of the answerable NYT "
                               "fit questions (bias moved)",
            "figures": report,
        }
        path = Path(rank.__file__).with_name("ranker_model.json")
        path.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
