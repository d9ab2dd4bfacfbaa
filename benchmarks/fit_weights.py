"""Refit the ranking weights and the abstention model of `index/retrieve.py`.

Fits on questions 800–1499 of the NYT dev split (never on 0–799, which `eval` reports),
prints the weights to paste into retrieve.py and the figures on both halves.

    python benchmarks/fit_weights.py [--data-dir data/eval-nyt]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from index import evaluate, retrieve  # noqa: E402
from index.settings import index_settings  # noqa: E402

FIT = range(800, 1500)
LEXICON: list = []
REPORT = range(0, 800)


def collect(index, questions):  # type: ignore[no-untyped-def]
    """Per question: (z features of the pool, hit mask) with the whole corpus and without
    the question's own article."""
    docs = {a.doc_id: i for i, a in enumerate(index.articles)}
    out = []
    for q in questions:
        art = docs[q["doc_id"]]
        a0 = int(q["answer_start"])
        a1 = a0 + len(q["answer"])
        vec = index.encoder.encode([q["question"]])[0]
        pool, _ = index.ranker.candidates(q["question"], vec)
        hit = np.array([index.rows[int(r)].article == art and index.rows[int(r)].start < a1
                        and a0 < index.rows[int(r)].end for r in pool.rows])
        out_pool, _ = index.ranker.candidates(
            q["question"], vec, index.allowed_rows(exclude_doc_ids={q["doc_id"]}))
        out.append((pool, hit, out_pool))
    return out


def ranks(data, w):  # type: ignore[no-untyped-def]
    result = []
    for pool, hit, _ in data:
        s = pool.features @ w
        if not hit.any():
            result.append(None)
            continue
        best = s[hit].max()
        result.append(int((s > best).sum()) + 1)
    return result


def metrics(rs):  # type: ignore[no-untyped-def]
    rr = [1 / r if r else 0 for r in rs]
    return np.mean(rr), np.mean([r == 1 for r in rs]), np.mean([bool(r) and r <= 5 for r in rs])


def fit_weights(data, w):  # type: ignore[no-untyped-def]
    def objective(w):  # type: ignore[no-untyped-def]
        m = metrics(ranks(data, w))
        return m[0] + m[1]

    best = objective(w)
    for _ in range(8):
        changed = False
        for k in range(len(w)):
            for delta in (-0.1, -0.05, 0.05, 0.1):
                trial = w.copy()
                trial[k] = max(0.0, trial[k] + delta)
                value = objective(trial)
                if value > best + 1e-4:
                    best, w, changed = value, trial, True
        print("  objective", round(best, 4), np.round(w, 2).tolist(), flush=True)
        if not changed:
            break
    return w


def abstain_matrix(data, w):  # type: ignore[no-untyped-def]
    xs, ys = [], []
    for pool, _, out_pool in data:
        for p, label in ((pool, 1), (out_pool, 0)):
            fused = p.features @ w
            order = np.argsort(-fused, kind="stable")
            xs.append(retrieve.abstain_features(p, fused, order, LEXICON[0]))
            ys.append(label)
    return np.array(xs), np.array(ys)


def fit_logistic(x, y):  # type: ignore[no-untyped-def]
    def loss(theta):  # type: ignore[no-untyped-def]
        z = x @ theta[:-1] + theta[-1]
        return np.mean(np.logaddexp(0, z) - y * z) + 1e-4 * np.sum(theta[:-1] ** 2)

    res = minimize(loss, np.zeros(x.shape[1] + 1), method="L-BFGS-B")
    return res.x[:-1], res.x[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", default="data/eval-nyt")
    parser.add_argument("--cached", action="store_true",
                        help="reuse the candidate features collected by the last run")
    args = parser.parse_args()
    settings = index_settings(data_dir=Path(args.data_dir))
    folder = evaluate.eval_dir()
    index = evaluate.nyt_index(settings, folder)
    LEXICON.append(index.ranker.lexicon)
    questions = evaluate.nyt_questions(folder)
    import pickle

    cache = Path(args.data_dir) / "fit-cache.pkl"
    if args.cached and cache.exists():
        fit, report = pickle.loads(cache.read_bytes())
    else:
        fit = collect(index, [questions[i] for i in FIT])
        report = collect(index, [questions[i] for i in REPORT])
        cache.write_bytes(pickle.dumps((fit, report)))
    w = fit_weights(fit, retrieve.WEIGHTS.astype(np.float64))
    print("WEIGHTS =", np.round(w, 2).tolist())
    for name, data in (("fit 800-1499", fit), ("report 0-799", report)):
        print(name, "MRR {:.3f} P@1 {:.3f} R@5 {:.3f}".format(*metrics(ranks(data, w))))
    x, y = abstain_matrix(fit, w)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    coef, bias = fit_logistic((x - mean) / scale, y)
    print("ABSTAIN_MEAN =", np.round(mean, 4).tolist())
    print("ABSTAIN_SCALE =", np.round(scale, 4).tolist())
    print("ABSTAIN_COEF =", np.round(coef, 3).tolist(), "ABSTAIN_BIAS =", round(float(bias), 3))
    for name, data in (("fit", fit), ("report", report)):
        xr, yr = abstain_matrix(data, w)
        conf = 1 / (1 + np.exp(-(((xr - mean) / scale) @ coef + bias)))
        print(name, "abstention AUROC {:.3f}".format(evaluate.auroc(list(conf[yr == 1]),
                                                            list(conf[yr == 0]))))
        for t in (0.3, 0.4, 0.5, 0.6):
            print(f"  threshold {t}: answered {np.mean(conf[yr == 1] >= t):.3f}, "
                  f"refused without article {np.mean(conf[yr == 0] < t):.3f}")


if __name__ == "__main__":
    main()
