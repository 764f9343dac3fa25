"""The textbook baseline of issue 15, outside livetag: scikit-learn on the raw text.

livetag's in-job baseline fits its n-grams on the model's token ids (truncated
at the token limit, characters outside the vocabulary as [UNK]). This one is
what a data scientist would write: character 1-3-gram TF-IDF of the whole
text, one-vs-rest logistic regression with C chosen on validation macro-F1,
then per-label thresholds tuned on validation (F1-maximising). It reads the
split files a `livetag train` run writes (train/validation/test.jsonl) and
that run's report, so both are scored on the same test rows.

    pip install scikit-learn
    python3 bench/textbook-baseline.py RUN_DIR...

Prints per run and paired (mean difference, 95% t-interval, splits
ahead/level/behind) livetag's test metrics against this baseline. Where every
row has exactly one label (exclusive classes, e.g. sentiment), it also scores
the single-label textbook: one multi-class logistic regression and its argmax.
"""
import json
import statistics
import sys
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.multiclass import OneVsRestClassifier

T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086]


def rows(path):
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def matrix(rs, labels):
    return np.array([[1 if label in r["labels"] else 0 for label in labels] for r in rs])


def scores(y, pred):
    return float((y == pred).all(axis=1).mean()), float(f1_score(y, pred, average="macro", zero_division=0))


def tune(probs, y):
    """Per label: the threshold of 0.05..0.95 with the best validation F1 (0.5 for a label without positives)."""
    out = []
    for j in range(y.shape[1]):
        if y[:, j].sum() == 0:
            out.append(0.5)
            continue
        grid = np.arange(0.05, 0.951, 0.01)
        f1s = [f1_score(y[:, j], probs[:, j] >= t, zero_division=0) for t in grid]
        out.append(float(grid[int(np.argmax(f1s))]))
    return np.array(out)


def textbook(run):
    report = json.loads((run / "report" / "report.json").read_text(encoding="utf-8"))
    labels = report["labels"]
    train, val, test = (rows(run / f) for f in ("train.jsonl", "validation.jsonl", "test.jsonl"))
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=1)
    xtr = vec.fit_transform([r["text"] for r in train])
    xva, xte = (vec.transform([r["text"] for r in rs]) for rs in (val, test))
    ytr, yva, yte = (matrix(rs, labels) for rs in (train, val, test))
    # Labels absent from the training rows cannot be fitted; they are predicted negative.
    live = ytr.sum(axis=0) > 0
    best = None
    for c in (0.25, 1, 4, 16, 64):
        clf = OneVsRestClassifier(LogisticRegression(C=c, max_iter=2000, solver="liblinear")).fit(xtr, ytr[:, live])
        pva = np.zeros(yva.shape)
        pva[:, live] = clf.predict_proba(xva)
        th = tune(pva, yva)
        f1 = scores(yva, (pva >= th).astype(int))[1]
        if best is None or f1 > best[0]:
            best = (f1, c, clf, th)
    _, c, clf, th = best
    pte = np.zeros(yte.shape)
    pte[:, live] = clf.predict_proba(xte)
    subset, macro = scores(yte, (pte >= th).astype(int))
    out = {"c": c, "subset": subset, "macro": macro, "livetag": (report["test"]["subset_accuracy"], report["test"]["macro_f1"]), "inJob": (report["baseline"]["test"]["subset_accuracy"], report["baseline"]["test"]["macro_f1"])}
    if all((y.sum(axis=1) == 1).all() for y in (ytr, yva, yte)):
        out["single"] = single_label(xtr, xva, xte, ytr, yva, yte)
    return out


def single_label(xtr, xva, xte, ytr, yva, yte):
    """Exclusive classes (every row has exactly one label, e.g. sentiment): the
    textbook is then one multi-class logistic regression predicting its argmax,
    C chosen on validation macro-F1. Per-label thresholds would give some rows
    two contradictory tags or none, which flatters per-label F1 at the cost of
    rows whose answer is right."""
    # The argmax as a one-row-one-label matrix, so the multi-label scorer reads it.
    predict = lambda clf, x: np.eye(ytr.shape[1], dtype=int)[clf.classes_[clf.predict_proba(x).argmax(axis=1)]]
    best = None
    for c in (0.25, 1, 4, 16, 64):
        clf = LogisticRegression(C=c, max_iter=2000).fit(xtr, ytr.argmax(axis=1))
        f1 = scores(yva, predict(clf, xva))[1]
        if best is None or f1 > best[0]:
            best = (f1, c, clf)
    _, c, clf = best
    subset, macro = scores(yte, predict(clf, xte))
    return {"c": c, "subset": subset, "macro": macro}


def paired(a, b):
    d = [x - y for x, y in zip(a, b)]
    m = statistics.mean(d)
    half = (T95[len(d) - 2] if len(d) - 2 < len(T95) else 2.0) * statistics.stdev(d) / len(d) ** 0.5 if len(d) > 1 else float("nan")
    ahead, behind = sum(x > 1e-9 for x in d), sum(x < -1e-9 for x in d)
    return f"{m:+.4f} [{m - half:+.4f}, {m + half:+.4f}], {ahead}/{len(d) - ahead - behind}/{behind}"


def main(dirs):
    if not dirs:
        sys.exit("usage: python3 bench/textbook-baseline.py RUN_DIR...")
    res = []
    for d in dirs:
        r = textbook(Path(d))
        res.append(r)
        single = f" | single-label textbook (C {r['single']['c']}) {r['single']['subset']:.4f} / {r['single']['macro']:.4f}" if "single" in r else ""
        print(f"{d}: scikit-learn textbook (C {r['c']}) subset {r['subset']:.4f} macro-F1 {r['macro']:.4f} | in-job baseline {r['inJob'][0]:.4f} / {r['inJob'][1]:.4f} | livetag {r['livetag'][0]:.4f} / {r['livetag'][1]:.4f}{single}")
    mean = lambda xs: statistics.mean(xs)
    print()
    print("| model | subset accuracy | macro-F1 |")
    print("|---|---:|---:|")
    print(f"| livetag (the runs) | {mean([r['livetag'][0] for r in res]):.4f} | {mean([r['livetag'][1] for r in res]):.4f} |")
    print(f"| scikit-learn textbook, raw text | {mean([r['subset'] for r in res]):.4f} | {mean([r['macro'] for r in res]):.4f} |")
    print(f"| livetag's in-job baseline | {mean([r['inJob'][0] for r in res]):.4f} | {mean([r['inJob'][1] for r in res]):.4f} |")
    print()
    print(f"livetag − scikit-learn textbook, paired: subset accuracy {paired([r['livetag'][0] for r in res], [r['subset'] for r in res])}; macro-F1 {paired([r['livetag'][1] for r in res], [r['macro'] for r in res])}")
    print(f"in-job baseline − scikit-learn textbook, paired: subset accuracy {paired([r['inJob'][0] for r in res], [r['subset'] for r in res])}; macro-F1 {paired([r['inJob'][1] for r in res], [r['macro'] for r in res])}")
    if all("single" in r for r in res):
        s = [r["single"] for r in res]
        print()
        print(f"Exclusive classes (one label per row): scikit-learn's multi-class logistic regression, argmax, C chosen on validation macro-F1 ({', '.join(str(x['c']) for x in s)}): subset accuracy {mean([x['subset'] for x in s]):.4f}, macro-F1 {mean([x['macro'] for x in s]):.4f}")
        print(f"livetag − scikit-learn single-label textbook, paired: subset accuracy {paired([r['livetag'][0] for r in res], [x['subset'] for x in s])}; macro-F1 {paired([r['livetag'][1] for r in res], [x['macro'] for x in s])}")


if __name__ == "__main__":
    main(sys.argv[1:])
