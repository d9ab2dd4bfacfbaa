"""REPORT.md, summary.json and PNG plots from the raw figures of a run."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np

LABELS = {
    "citebot": "citebot (ours)",
    "st-faiss": "sentence-transformers + FAISS flat",
    "bm25s": "BM25 alone (bm25s)",
    "txtai-dense": "txtai, dense",
    "txtai-hybrid": "txtai, hybrid",
    "llamaindex-chunks": "LlamaIndex, default chunks",
    "llamaindex-sentences": "LlamaIndex, sentence nodes",
}


def med(xs: list[float]) -> float:
    return float(np.median(xs))


def spread(xs: list[float], scale: float = 1.0, fmt: str = "{:.1f}") -> str:
    """median (min–max) — or the single value when there was one repeat."""
    xs = [x * scale for x in xs]
    if len(xs) == 1:
        return fmt.format(xs[0])
    return f"{fmt.format(med(xs))} ({fmt.format(min(xs))}–{fmt.format(max(xs))})"


def pct(lat: list[float]) -> tuple[float, float, float]:
    a = np.asarray(lat) * 1000
    p50, p95, p99 = np.percentile(a, [50, 95, 99])
    return float(p50), float(p95), float(p99)


def load_of(r: dict[str, Any] | None) -> str:
    if not r or "load" not in r:
        return "–"
    return "–".join(f"{x:.1f}" for x in r["load"])


def ok(x: dict[str, Any] | None) -> bool:
    return bool(x) and "error" not in x  # type: ignore[operator]


def quality_rows(cs: dict[str, Any]) -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(name, label, scores, result) per line of the quality table."""
    rows = []
    for name, r in cs.items():
        if not ok(r):
            continue
        scores = r["scores"]
        if "chunk" in scores:
            rows.append((name, LABELS[name] + " — chunk holds the answer (generous)",
                         scores["chunk"], r))
            rows.append((name, LABELS[name] + " — chunk read as its sentences",
                         scores["sentences"], r))
        else:
            rows.append((name, LABELS[name], scores.get("unit", scores), r))
    return rows


def write(results: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cs = results["contenders"]
    scale = {int(k): v for k, v in results["scale"].items()}
    meta = results["meta"]
    lines: list[str] = []
    add = lines.append
    summary: dict[str, Any] = {"meta": meta, "contenders": {}, "scale": {}}

    tasks = [r for r in cs.values() if r] + [t for v in results["scale"].values()
                                             for k, t in v.items() if isinstance(t, dict)]
    tasks += [c for v in results["scale"].values() for c in v.get("cold", []) if c]
    meta["run_minutes"] = sum(t.get("wall_s", 0.0) for t in tasks) / 60
    where = "in the working tree" if meta["at"] == "working tree" else f"at {meta['at']}"
    add("# citebot benchmarks")
    add("")
    add(f"Run of {dt.date.today().isoformat()} on this machine ({meta['cpus']} cores, Python "
        f"{meta['python']}), code: `index/` {where}"
        f"; tasks took {meta['run_minutes']:.0f} minutes. Every contender: the "
        "packaged all-MiniLM-L6-v2, torch with 2 threads, batch size 64, each in its own "
        "process, run back to back. Timings are medians with (min–max) over repeats where "
        "there were repeats; latency percentiles are over single questions. Produced by "
        "`python -m benchmarks`" + (" --quick" if meta["quick"] else "") + "; see "
        "[benchmarks/README.md](../README.md) for what each figure means.")
    add("")
    if meta.get("note"):
        add(f"**Note on this run:** {meta['note']}")
        add("")

    # --- quality and contenders -----------------------------------------------------------
    ours = cs.get("citebot")
    if ok(ours):
        our_scores = ours["scores"]
        our_p50 = pct(ours["latency_s"])[0]
        our_rate = ours["units"] / ours["ingest_s"]
        n_docs_sents = ours["units"]
        add("## Answer quality, ingest and latency against the alternatives")
        add("")
        add(f"NYT dev split (`../shared/eval`), first {meta['questions']} questions, each asked "
            f"against the whole corpus (381 articles, {n_docs_sents:,} sentences by our "
            "splitter). A question counts as found at the rank of the first retrieved unit "
            "whose character span overlaps the answer span (ReQA); deeper than 100 is a "
            "miss. AUROC: the top score with the whole corpus against the top score with the "
            "question's own article left out (for citebot its abstention confidence; the "
            "others have no abstention model, so their best raw score stands in). Seed: "
            "questions about the bundled article, top result must be a gold sentence; only "
            "citebot can refuse the unanswerable ones. Ingest: indexing all 381 articles "
            "from scratch (model already loaded); latency over the first 300 questions, "
            "in-process.")
        add("")
        add("| contender | units indexed | MRR | P@1 | R@5 | AUROC | seed correct | seed refused "
            "| ingest s | sentences/s | p50 ms | p95 ms | p99 ms | peak RSS MB | load |")
        add("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for _name, label, s, r in quality_rows(cs):
            p50, p95, p99 = pct(r["latency_s"])
            auroc = f"{s['auroc']:.3f}" if s.get("auroc") is not None else "–"
            seed = r["seed"]
            add(f"| {label} | {r['units']:,} | {s['mrr']:.3f} | {s['p1']:.3f} | {s['r5']:.3f} | "
                f"{auroc} | {seed['correct']}/{seed['answerable']} | "
                f"{seed['refused']}/{seed['unanswerable']} | {r['ingest_s']:.0f} | "
                f"{n_docs_sents / r['ingest_s']:.0f} | {p50:.1f} | {p95:.1f} | {p99:.1f} | "
                f"{r['peak_rss_mb']:.0f} | {load_of(r)} |")
        add("")
        add("Ratios, citebot against each (MRR in points; ingest rate and p50 latency as "
            "citebot ÷ theirs, so > 1 means citebot ingests faster / answers slower):")
        add("")
        add("| against | ΔMRR (points) | ΔP@1 | ΔR@5 | ingest rate ratio | p50 latency ratio "
            "| peak RSS ratio |")
        add("|---|---|---|---|---|---|---|")
        for name, label, s, r in quality_rows(cs):
            if name == "citebot":
                continue
            d = {k: 100 * (our_scores[k] - s[k]) for k in ("mrr", "p1", "r5")}
            rate = n_docs_sents / r["ingest_s"]
            add(f"| {label} | {d['mrr']:+.1f} | {d['p1']:+.1f} | {d['r5']:+.1f} | "
                f"{our_rate / rate:.2f} | {our_p50 / pct(r['latency_s'])[0]:.2f} | "
                f"{ours['peak_rss_mb'] / r['peak_rss_mb']:.2f} |")
            summary["contenders"][label] = {
                "mrr": s["mrr"], "p1": s["p1"], "r5": s["r5"], "auroc": s.get("auroc"),
                "ingest_s": round(r["ingest_s"], 1), "p50_ms": round(pct(r["latency_s"])[0], 1),
                "peak_rss_mb": round(r["peak_rss_mb"])}
        summary["contenders"]["citebot"] = {
            **our_scores, "ingest_s": round(ours["ingest_s"], 1), "p50_ms": round(our_p50, 1),
            "peak_rss_mb": round(ours["peak_rss_mb"])}
        add("")
        li = cs.get("llamaindex-chunks")
        if ok(li):
            n = li["notes"]
            add(f"**LlamaIndex default chunking loses text.** Its SentenceSplitter made "
                f"{n['chunks']} chunks (median {n['chunk_tokens_median']:.0f} MiniLM tokens "
                f"with the title header); {n['chunks_truncated']:.0%} of them are longer than "
                "the model's 256-token window, which silently truncates them: "
                f"{n['sentences_never_embedded']:.0%} of the corpus's sentences "
                f"({n['chars_never_embedded']:.0%} of its characters) are never embedded. "
                "Its results are chunks, not sentences, so they are scored two ways: "
                "*chunk holds the answer* (a hit when the chunk contains the answer span: "
                f"generous, since a reader still has to find the sentence among the chunk's "
                f"~{n_docs_sents / n['chunks']:.0f}) and "
                "*read as its sentences* (each chunk stands for its sentences in reading order, "
                "each costing one rank: what a user citing sentences would get). Seed: a "
                "chunk counts as correct when it contains a gold sentence.")
            add("")
        for name in ("txtai-dense", "txtai-hybrid"):
            if ok(cs.get(name)):
                n = cs[name]["notes"]
                add(f"{LABELS[name]}: txtai's own default picked a `{n.get('faiss_index')}` "
                    "FAISS index for this size (above 5,000 vectors: IVF with "
                    "min(4√n, n/39) cells, searching about 1/16 of them): approximate, "
                    "as its users get it; part of its gap to exact search is that.")
        add("")
        failed = [n for n, r in cs.items() if not ok(r)]
        if failed:
            add("Not measured (failed in this run): " + ", ".join(
                f"{n} ({' '.join((cs[n] or {}).get('error', ['?']))})" for n in failed))
            add("")
        _plot_contenders(plt, cs, out)
        add("![quality](quality.png) ![ingest and latency](contenders_speed.png)")
        add("")

    # --- scale ---------------------------------------------------------------------------
    if scale:
        add("## Speed and scale")
        add("")
        add("Synthetic corpora (deterministic pseudo-word news articles, ~16 sentences each, "
            "see `benchmarks/synthetic.py`). At sizes marked *real* every sentence and passage "
            "is embedded by the model; at *stand-in* sizes the builder's encoder is replaced by "
            "deterministic vectors mixed from 2,048 real embeddings plus noise (the real model "
            "would need hours here), so those build times exclude embedding, while sentence "
            "splitting, SQLite, BM25 and FAISS are real, and questions are still encoded by "
            "the real model when answering.")
        add("")
        real = {n: s for n, s in scale.items() if s["mode"] == "real" and ok(s["build"])}
        if real:
            add("### Build throughput against the raw encoder")
            add("")
            add("raw = `SentenceTransformer.encode` (torch) of the same sentences (same "
                "threads, process); pipeline texts = our own encoder embedding what the builder "
                "embeds (each sentence alone, and each article in one pass over windows); "
                "build = `index.build` from scratch with the model already loaded.")
            add("")
            add("| sentences | raw encoder sent/s | pipeline texts sent/s | build sent/s | "
                "build ÷ raw (target ≥ 0.90) | build ÷ pipeline texts | chars: sentence / "
                "passage |")
            add("|---|---|---|---|---|---|---|")
            for n, s in sorted(real.items()):
                b = s["build"]
                k = b["sentences"]
                raw = [k / t for t in b["raw_s"]]
                both = [k / t for t in b["pipeline_texts_s"]]
                build = [k / t for t in b["build_s"]]
                add(f"| {k:,} | {spread(raw)} | {spread(both)} | {spread(build)} | "
                    f"{med(build) / med(raw):.2f} | {med(build) / med(both):.2f} | "
                    f"{b['sentence_chars']:.0f} / {b['passage_chars']:.0f} |")
                summary["scale"].setdefault(n, {}).update(
                    raw_rate=med(raw), pipeline_texts_rate=med(both), build_rate=med(build))
            add("")
        add("### Unchanged-corpus reindex, latency, memory, cold start")
        add("")
        add("reindex = `build` again with nothing changed (3 repeats); its fraction is of the "
            "full build measured here (for stand-in sizes also of a projected real build: "
            "measured build + embedding both views at the largest real size's pipeline-texts "
            "rate). Latency: `Index.answer` in-process with the product's default settings "
            "(`threads = 1` for torch, FAISS and BLAS: on a shared 2-core box a second "
            "thread mostly waits for a busy core) over 300 synthetic questions (100 at "
            "1M) after 10 warm-ups (target at 100k: p50 ≤ 30 ms, p99 ≤ 80 ms). Cold start: a "
            "fresh process importing citebot, loading the model, opening the index and "
            "answering once (3 runs; 1 at 1M). Load: the machine's 1-minute load average "
            "when the serving task started and ended (2 cores: above ~2.5 means other work "
            "competed with it).")
        add("")
        add("| sentences | embeddings | FAISS | full build s | reindex s | reindex ÷ build "
            "(target ≤ 2%) | p50 ms | p95 ms | p99 ms | query encode p50 ms | "
            "build peak RSS MB | serve peak RSS MB | cold start s | load |")
        add("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        both_rate = None
        if real:
            last = max(real)
            b = real[last]["build"]
            both_rate = b["sentences"] / med(b["pipeline_texts_s"])
        for n, s in sorted(scale.items()):
            b, sv = s["build"], s["serve"]
            if not ok(b):
                add(f"| {n:,} | {s['mode']} | – | failed: {' '.join(b.get('error', []))} |"
                    if b else f"| {n:,} | {s['mode']} | – | not run |")
                continue
            k = b["sentences"]
            build = med(b["build_s"])
            frac = med(b["reindex_s"]) / build
            frac_text = f"{frac:.2%}"
            if s["mode"] != "real" and both_rate:
                projected = build + k / both_rate
                frac_text += f" (projected real: {med(b['reindex_s']) / projected:.3%})"
            lat = pct(sv["latency_s"]) if ok(sv) else (float("nan"),) * 3
            enc = med(sv["query_encode_s"]) * 1000 if ok(sv) else float("nan")
            colds = [c["wall_s"] for c in s["cold"] if ok(c)]
            add(f"| {k:,} | {s['mode']} | {b['faiss_kind']} | {spread(b['build_s'])} | "
                f"{spread(b['reindex_s'], fmt='{:.2f}')} | {frac_text} | {lat[0]:.1f} | "
                f"{lat[1]:.1f} | {lat[2]:.1f} | {enc:.1f} | {b['peak_rss_mb']:.0f} | "
                f"{sv['peak_rss_mb'] if ok(sv) else float('nan'):.0f} | "
                f"{spread(colds) if colds else '–'} | {load_of(sv)} |")
            summary["scale"].setdefault(n, {}).update(
                mode=s["mode"], build_s=build, reindex_fraction=frac, p50_ms=lat[0],
                p95_ms=lat[1], p99_ms=lat[2], serve_rss_mb=sv.get("peak_rss_mb") if sv else None,
                cold_s=med(colds) if colds else None)
        add("")
        anns = {n: s["ann"] for n, s in scale.items() if ok(s.get("ann"))}
        for n, a in anns.items():
            add(f"### Approximate search at {n:,} sentences")
            add("")
            add(f"`faiss_index = auto` chose `{a['kind']}` (M 32, efConstruction 80, from "
                "50,000 sentences; searched with `hnsw_ef_search`, by default sentences ÷ 500 "
                "between 256 and 2,048). "
                "Recall@10: share of the exact top 10 (`IndexFlatIP` over "
                "the same vectors) that the approximate index returns, over 200 questions "
                "encoded by the real model; latency is the FAISS search alone. Our ranker "
                "asks for 100 neighbours (the efSearch 100 row asks for 100; the others for 10).")
            add("")
            add("| search | k asked | recall@10 | p50 ms | p99 ms |")
            add("|---|---|---|---|---|")
            e = pct(a["exact_latency_s"])
            add(f"| exact (IndexFlatIP) | 10 | 1.000 | {e[0]:.1f} | {e[2]:.1f} |")
            for key in sorted((k for k in a if k.startswith("ef")), key=lambda k: int(k[2:])):
                r = a[key]
                p = pct(r["latency_s"])
                add(f"| HNSW efSearch {key[2:]} | {r['k']} | {r['recall10']:.3f} | {p[0]:.1f} | "
                    f"{p[2]:.1f} |")
            add("")
            add("These vectors are stand-ins (mixtures of real embeddings plus noise): their "
                "nearest neighbours are closer to ties than real sentences' are, so this "
                "recall may be pessimistic; it is what was measured, and no real 1M-sentence "
                "embedding set exists here to check. The product searches at the default "
                "depth (the last row).")
            add("")
            summary["scale"].setdefault(n, {})["ann"] = {
                k: a[k]["recall10"] for k in a if k.startswith("ef")}
        _plot_scale(plt, scale, out)
        add("![latency by size](latency.png) ![memory and cold start](memory_cold.png)")
        add("")
    (out / "REPORT.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=float) + "\n")


def _plot_contenders(plt: Any, cs: dict[str, Any], out: Path) -> None:
    rows = quality_rows(cs)
    labels = [label.replace(" — ", "\n") for _, label, _, _ in rows]
    fig, ax = plt.subplots(figsize=(10, 5))
    x = np.arange(len(rows))
    for i, key in enumerate(("mrr", "p1", "r5")):
        ax.bar(x + (i - 1) * 0.27, [s[key] for _, _, s, _ in rows], 0.27,
               label={"mrr": "MRR", "p1": "P@1", "r5": "R@5"}[key])
    ax.set_xticks(x, labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_title("Answer quality, NYT dev (whole-corpus ranking)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "quality.png", dpi=90)
    plt.close(fig)

    names = [n for n, r in cs.items() if ok(r)]
    n_sents = cs["citebot"]["units"] if ok(cs.get("citebot")) else 1
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.5))
    a1.barh([LABELS[n] for n in names], [n_sents / cs[n]["ingest_s"] for n in names])
    a1.set_xscale("log")
    a1.set_xlabel("ingest, sentences of the corpus per second (log)")
    p = np.array([pct(cs[n]["latency_s"]) for n in names])
    y = np.arange(len(names))
    a2.barh(y, p[:, 0], label="p50")
    a2.scatter(p[:, 2], y, color="k", marker="|", s=200, label="p99")
    a2.set_yticks(y, [""] * len(names))
    a2.set_xlabel("answer latency, ms")
    a2.legend()
    fig.suptitle("Ingest rate and answer latency (2 threads)")
    fig.tight_layout()
    fig.savefig(out / "contenders_speed.png", dpi=90)
    plt.close(fig)


def _plot_scale(plt: Any, scale: dict[int, Any], out: Path) -> None:
    sizes = [n for n in sorted(scale) if ok(scale[n]["serve"])]
    if not sizes:
        return
    p = np.array([pct(scale[n]["serve"]["latency_s"]) for n in sizes])
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, name in enumerate(("p50", "p95", "p99")):
        ax.plot(sizes, p[:, i], marker="o", label=name)
    ax.axhline(30, ls="--", color="grey", lw=0.8)
    ax.axhline(80, ls=":", color="grey", lw=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("sentences indexed")
    ax.set_ylabel("answer latency, ms")
    ax.set_title("Answer latency (targets at 100k: p50 30, p99 80 ms)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "latency.png", dpi=90)
    plt.close(fig)

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    built = [n for n in sorted(scale) if ok(scale[n]["build"])]
    a1.plot(built, [scale[n]["build"]["peak_rss_mb"] for n in built], marker="o",
            label="build")
    a1.plot(sizes, [scale[n]["serve"]["peak_rss_mb"] for n in sizes], marker="o",
            label="serve")
    a1.set_xscale("log")
    a1.set_xlabel("sentences")
    a1.set_ylabel("peak RSS, MB")
    a1.legend()
    cold = [n for n in sorted(scale) if any(ok(c) for c in scale[n]["cold"])]
    a2.plot(cold, [med([c["wall_s"] for c in scale[n]["cold"] if ok(c)]) for n in cold],
            marker="o")
    a2.set_xscale("log")
    a2.set_xlabel("sentences")
    a2.set_ylabel("cold start to first answer, s")
    fig.tight_layout()
    fig.savefig(out / "memory_cold.png", dpi=90)
    plt.close(fig)
