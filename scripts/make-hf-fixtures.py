"""Writes the small Hugging Face checkpoints that test/unit/model/hf-*.test.ts read.

Run with PyTorch and transformers (not a project dependency; the tests only read the
files this writes):

    python3 -m venv .cache/torch-venv && .cache/torch-venv/bin/pip install torch transformers safetensors
    .cache/torch-venv/bin/python scripts/make-hf-fixtures.py

One tiny BertForSequenceClassification (seeded, transformers' own initialisation)
is saved in every layout real checkpoints come in. expected.json holds the
reference the importer is checked against, computed here independently of it:
token ids from transformers' BertTokenizer on vocab.txt, and logits from
transformers' BertForSequenceClassification in float64.
"""
import io
import json
import os
import shutil
import zipfile

import torch
from safetensors.torch import save_file
from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'hf')
LABELS = ['price', 'size', 'stock']
TEXTS = ['这个多少钱', '有M码吗？', '什么时候发货', 'Café 包邮吗', '']
SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']
CHARS = list('这个多少钱有码吗什么时候发货包邮？！') + ['m', 'ca', '##fe', 'cafe', '##m']
VOCAB = SPECIALS + CHARS


def config(architectures=('BertForSequenceClassification',)):
    return BertConfig(
        vocab_size=len(VOCAB), hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=16, max_position_embeddings=16, type_vocab_size=2,
        id2label=dict(enumerate(LABELS)), label2id={l: i for i, l in enumerate(LABELS)},
        problem_type='multi_label_classification', architectures=list(architectures),
        some_field_livetag_does_not_know={'a': 1})


def write_common(d, cfg, tokenizer_config):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, 'config.json'), 'w') as f:
        f.write(cfg.to_json_string())
    with open(os.path.join(d, 'vocab.txt'), 'w') as f:
        f.write('\n'.join(VOCAB) + '\n')
    with open(os.path.join(d, 'tokenizer_config.json'), 'w') as f:
        json.dump(tokenizer_config, f)


def rename_zip_folder(path, folder):
    """torch.save names the zip's folder 'archive' now and after the file before; both exist in the wild."""
    src = zipfile.ZipFile(path)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w', zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            dst.writestr(folder + '/' + info.filename.split('/', 1)[1], src.read(info))
    with open(path, 'wb') as f:
        f.write(buf.getvalue())


def shared_storage(sd):
    """Several tensors in one storage at offsets, one with transposed strides, as torch.save keeps views."""
    p = 'bert.encoder.layer.0.attention.self.'
    qkv = torch.cat([sd[p + 'query.weight'], sd[p + 'key.weight'], sd[p + 'value.weight']]).clone()
    h = sd[p + 'query.weight'].shape[0]
    out = dict(sd)
    out[p + 'query.weight'], out[p + 'key.weight'], out[p + 'value.weight'] = qkv[0:h], qkv[h:2 * h], qkv[2 * h:3 * h]
    w = 'bert.encoder.layer.0.intermediate.dense.weight'
    out[w] = sd[w].t().contiguous().t()
    assert not out[w].is_contiguous() and out[p + 'key.weight'].storage_offset() == h * h
    return out


def legacy_names(sd):
    """The bert-base-chinese era: BertForPreTraining, LayerNorm gamma/beta, saved index buffers, no classifier."""
    out = {}
    for k, v in sd.items():
        if k.startswith('classifier.'):
            continue
        out[k.replace('LayerNorm.weight', 'LayerNorm.gamma').replace('LayerNorm.bias', 'LayerNorm.beta')] = v
    n = sd['bert.embeddings.word_embeddings.weight'].shape[0]
    out['bert.embeddings.position_ids'] = torch.arange(16).expand((1, -1))
    out['cls.predictions.bias'] = torch.zeros(n)
    out['cls.seq_relationship.weight'] = torch.zeros(2, 8)
    return out


def save_sharded(d, sd, ext, save):
    names = sorted(sd)
    half = len(names) // 2
    shards = {f'model-0000{i + 1}-of-00002.{ext}': names[a:b] for i, (a, b) in enumerate([(0, half), (half, len(names))])}
    if ext == 'bin':
        shards = {k.replace('model-', 'pytorch_model-'): v for k, v in shards.items()}
    for file, keys in shards.items():
        save({k: sd[k].contiguous() for k in keys}, os.path.join(d, file))
    index = 'model.safetensors.index.json' if ext == 'safetensors' else 'pytorch_model.bin.index.json'
    with open(os.path.join(d, index), 'w') as f:
        json.dump({'metadata': {}, 'weight_map': {k: file for file, keys in shards.items() for k in keys}}, f, indent=1)


def main():
    torch.manual_seed(16)
    cfg = config()
    model = BertForSequenceClassification(cfg).eval()
    with torch.no_grad():  # transformers' init gives near-zero logits; spread every weight so a wrong one shows
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    sd = {k: v for k, v in model.state_dict().items()}
    shutil.rmtree(OUT, ignore_errors=True)
    tok_plain = {'do_lower_case': True, 'model_max_length': 16}
    d = lambda name: os.path.join(OUT, name)

    write_common(d('safetensors-i64'), cfg, tok_plain)
    buffers = {'bert.embeddings.position_ids': torch.arange(16).unsqueeze(0), 'bert.embeddings.token_type_ids': torch.zeros(1, 16, dtype=torch.long)}
    save_file({**{k: v.contiguous() for k, v in sd.items()}, **buffers}, os.path.join(d('safetensors-i64'), 'model.safetensors'), metadata={'format': 'pt'})

    write_common(d('safetensors-f64'), cfg, {})  # BertTokenizer's defaults: lowercase, strip accents
    save_file({k: v.double().contiguous() for k, v in sd.items()}, os.path.join(d('safetensors-f64'), 'model.safetensors'))

    for name, folder in [('bin-zip-archive', 'archive'), ('bin-zip-named', 'pytorch_model')]:
        write_common(d(name), cfg, tok_plain)
        path = os.path.join(d(name), 'pytorch_model.bin')
        torch.save(shared_storage(sd), path)
        rename_zip_folder(path, folder)

    pre = config(['BertForPreTraining'])
    pre.id2label, pre.label2id = {0: 'LABEL_0', 1: 'LABEL_1'}, {'LABEL_0': 0, 'LABEL_1': 1}
    write_common(d('bin-legacy-pretraining'), pre, tok_plain)
    torch.save(legacy_names(sd), os.path.join(d('bin-legacy-pretraining'), 'pytorch_model.bin'), _use_new_zipfile_serialization=False)

    write_common(d('sharded-safetensors'), cfg, tok_plain)
    save_sharded(d('sharded-safetensors'), sd, 'safetensors', save_file)
    write_common(d('sharded-bin'), cfg, tok_plain)
    save_sharded(d('sharded-bin'), sd, 'bin', torch.save)

    for name in os.listdir(OUT):  # every layout loads back in PyTorch to the same weights
        path = d(name)
        ref = BertForSequenceClassification.from_pretrained(path, num_labels=3) if 'pretraining' not in name else None
        if ref is not None:
            for k, v in ref.state_dict().items():
                assert torch.equal(v.float(), sd[k].float()), (name, k)

    # Loaded the way users load it: vocab.txt + a tokenizer_config.json that leaves everything to BertTokenizer's defaults.
    tokenizer = BertTokenizer.from_pretrained(d('safetensors-f64'))
    model64 = model.double()
    cases = []
    with torch.no_grad():
        for text in TEXTS:
            ids = tokenizer(text)['input_ids']
            logits = model64(input_ids=torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long)).logits[0]
            cases.append({'text': text, 'input_ids': ids, 'logits': logits.tolist()})
    import transformers
    expected = {'labels': LABELS, 'reference': f'transformers {transformers.__version__} BertTokenizer.from_pretrained + BertForSequenceClassification in float64, torch {torch.__version__}', 'cases': cases}
    with open(os.path.join(OUT, 'expected.json'), 'w') as f:
        json.dump(expected, f, indent=1, ensure_ascii=False)
    print(json.dumps(expected, ensure_ascii=False)[:600])


if __name__ == '__main__':
    main()
