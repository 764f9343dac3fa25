"""Loads a `livetag export-hf` directory the way a Python colleague would and compares it with livetag.

    .cache/torch-venv/bin/python scripts/check-hf-export.py HF_DIR LIVETAG_JSON

LIVETAG_JSON holds {"texts": [...], "ids": [[...]], "logits": [[...]]} from livetag's own
classifier on the bundle that was exported. Prints the largest logit difference between
transformers' BertForSequenceClassification (float32) and livetag, and whether
AutoTokenizer gives the same ids; exits 1 if either disagrees.
"""
import json
import sys

import torch
from transformers import AutoTokenizer, BertForSequenceClassification


def main(hf_dir, livetag_json):
    ref = json.load(open(livetag_json))
    model = BertForSequenceClassification.from_pretrained(hf_dir).eval()
    checks = {}
    for kind, kwargs in [('fast', {}), ('vocab.txt', {'use_fast': False})]:
        tok = AutoTokenizer.from_pretrained(hf_dir, **kwargs)
        ids = [tok(t)['input_ids'] for t in ref['texts']]
        checks[f'ids equal ({kind}, {type(tok).__name__})'] = ids == ref['ids']
    worst = 0.0
    with torch.no_grad():
        for ids, expected in zip(ref['ids'], ref['logits']):
            out = model(input_ids=torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long)).logits[0]
            worst = max(worst, max(abs(a - b) for a, b in zip(out.tolist(), expected)))
    cfg = model.config
    report = {'texts': len(ref['texts']), 'max_abs_logit_diff': worst, 'problem_type': cfg.problem_type, 'labels': list(cfg.id2label.values()), **checks}
    print(json.dumps(report, ensure_ascii=False))
    return 0 if worst <= 1e-4 and all(checks.values()) else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1], sys.argv[2]))
