#!/usr/bin/env python3
"""Probe model, step 2 of 3: trains a small Llama-style model on the GPU machine.

    python3 tools/probe-model/train.py --data .probe/data --out OUT [--recipe v1|v2] [--steps N] [--seed S]
        [--init GGUF] [--resume DIR] [--max-seconds S]

--recipe v1 is the first probe (8,192-token rows, trained from scratch); v2 (the default) reads an 81,920-token
context: it starts from v1's GGUF (--init) with a larger RoPE base and trains on rows up to 81,920 tokens, with
"cascade views" of much longer prompts (what a cascading cache keeps of them). --max-seconds stops early with a
checkpoint (the F16 weights and state.json in OUT) that --resume continues from, so that training spans device calls
of limited length; the schedule runs over --steps in total.

Reads what prepare.js wrote (book tokens and the pieces of the synthetic tasks) and trains on a mix of
PG19 book windows and synthetic long-range tasks built from those pieces on the fly: passkey haystacks in
cascade-eval's exact prompt format (dictionary-word and "grass" filler), key-value recall among filler words,
and repeated-passage copying. Writes OUT/weights-*.safetensors (F16, llama.cpp tensor names and layout),
OUT/model.json (shape, recipe, versions, reference log-probabilities for the export check) and
OUT/curve.jsonl (the training curve). Everything is seeded; the architecture matches llama.cpp's `llama`
graph exactly (interleaved RoPE pairs, RMSNorm, SwiGLU, grouped-query attention, tied embeddings).
"""

import argparse
import json
import math
import os
import platform
import shutil
import time

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

SHAPE = dict(n_layer=4, n_embd=256, n_head=8, n_head_kv=2, n_ff=704, eps=1e-5)
# Rows of one batch share a length, drawn per batch; rows per batch keep the token count near tokens_per_batch.
# gap_view: share of passkey and key-value rows seen as a bounded cache would leave them: the first 1-64 tokens,
# then one gap (keys kept), positions contiguous, as cascade-eval's engine compacts them after an eviction.
# cascade_view: share seen as a cascading cache leaves a prompt several times the row's length (Tasks.cascade_view).
RECIPES = {
    "v1": dict(context=8192, rope_base=10000.0, lengths=[1024, 2048, 4096, 8192], length_weights=[0.15, 0.2, 0.3, 0.35],
               tokens_per_batch=131072, tasks={"book": 0.35, "passkey": 0.35, "kv": 0.15, "copy": 0.15},
               gap_view=0.25, cascade_view=0.0, warmup=0.05),
    "v2": dict(context=81920, rope_base=500000.0, lengths=[4096, 16384, 32768, 65536, 81920],
               length_weights=[0.1, 0.15, 0.2, 0.3, 0.25], tokens_per_batch=163840,
               tasks={"book": 0.3, "passkey": 0.4, "kv": 0.15, "copy": 0.15}, gap_view=0.15, cascade_view=0.3,
               warmup=0.02),
}
# Learning-rate warm-up after a resume: AdamW's moments start again from zero.
RESUME_WARMUP = 50


class Tasks:
    """Builds training rows (token array, loss mask over the predicted tokens) from the prepared pieces."""

    def __init__(self, data_dir, split, rng, recipe):
        self.rng = rng
        self.recipe = recipe
        self.pieces = json.load(open(os.path.join(data_dir, "pieces.json")))
        self.tokens = np.fromfile(os.path.join(data_dir, f"{split}.u16"), dtype="<u2").astype(np.int64)
        self.digits = np.array(self.pieces["digits"], dtype=np.int64)
        pk = self.pieces["passkey"]
        self.prefix, self.suffix = np.array(pk["prefix"]), np.array(pk["suffix"])
        self.key_block, self.answer = np.array(pk["keyBlock"]), np.array(pk["answer"])
        self.grass = [np.array(unit) for unit in pk["grass"]]
        words = [np.array(w) for w in pk["words"]]
        self.word_len = np.array([len(w) for w in words])
        self.word_off = np.concatenate([[0], np.cumsum(self.word_len)[:-1]])
        self.word_flat = np.concatenate(words)
        self.single = np.flatnonzero(self.word_len == 1)
        kv = self.pieces["kv"]
        self.kv_intro, self.kv_record = np.array(kv["intro"]), np.array(kv["record"])
        self.kv_question = [np.array(part) for part in kv["question"]]
        self.kv_answer = np.array(kv["answer"])

    def compose(self, template, key):
        out = template.copy()
        slots = template < 0
        out[slots] = self.digits[key[-1 - template[slots]]]
        return out

    def key(self):
        """Five digits, the first not 0, as cascade-eval draws keys."""
        return np.array([int(c) for c in str(self.rng.integers(10000, 100000))])

    def word_tokens(self, indices):
        lens = self.word_len[indices]
        starts = np.repeat(self.word_off[indices] - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens)
        return self.word_flat[starts + np.arange(lens.sum())], np.concatenate([[0], np.cumsum(lens)])

    def words(self, budget):
        """Random dictionary words of exactly `budget` tokens (single-token words close the gap) and unit starts."""
        picks = self.rng.integers(0, len(self.word_len), size=budget)
        fits = int(np.searchsorted(np.cumsum(self.word_len[picks]), budget, side="right"))
        used = self.word_len[picks[:fits]].sum()
        picks = np.concatenate([picks[:fits], self.rng.choice(self.single, size=budget - used)])
        return self.word_tokens(picks)

    def grass_filler(self, budget):
        units, bounds, total, i = [], [0], 0, 0
        while total < budget:
            unit = self.grass[i % len(self.grass)][: budget - total]
            units.append(unit)
            total += len(unit)
            bounds.append(total)
            i += 1
        return np.concatenate(units), np.array(bounds)

    def evicted_view(self, prompt, keep_from, keep_to):
        """Keeps the first 1-64 tokens and cuts one gap that spares [keep_from, keep_to) and the last 16 tokens."""
        sinks = int(self.rng.integers(1, 65))
        regions = [(sinks, keep_from), (keep_to, len(prompt) - 16)]
        regions = [(a, b) for a, b in regions if b - a > 1]
        if not regions:
            return prompt
        sizes = np.array([b - a for a, b in regions], dtype=float)
        a, b = regions[self.rng.choice(len(regions), p=sizes / sizes.sum())]
        start = int(self.rng.integers(a, b))
        end = int(self.rng.integers(start + 1, b + 1))
        return np.concatenate([prompt[:start], prompt[end:]])

    def cascade_view(self, prompt, keep_from, keep_to, length):
        """What a cascading cache of about `length` tokens keeps of a longer prompt: 1-64 sinks, then sub-caches
        of equal size whose tokens lie 2^(c-i) apart (oldest sparsest), the newest one dense, the span
        [keep_from, keep_to) kept whole wherever it lies and the question (the last tokens) always in the dense
        part; positions compacted. The strided cascade keeps exactly such a spacing; the attention-ranked one
        keeps the tokens that drew attention, which a key does."""
        sinks = int(self.rng.integers(1, 65))
        cascades = int(self.rng.integers(2, 5))
        slots = max(1, (length - sinks) // cascades)
        keep = [np.arange(min(sinks, len(prompt)))]
        end = len(prompt)
        for c in range(cascades):
            spacing = 2 ** c
            start = max(sinks, end - slots * spacing)
            phase = int(self.rng.integers(0, spacing))
            keep.append(np.arange(start + phase, end, spacing))
            end = start
        keep.append(np.arange(keep_from, keep_to))
        return prompt[np.unique(np.concatenate(keep))]

    def with_answer(self, prompt, answer):
        row = np.concatenate([prompt, answer])
        mask = np.zeros(len(row) - 1, dtype=np.float32)
        mask[len(prompt) - 1 :] = 1
        return row, mask

    def passkey(self, length, filler=None):
        """A passkey prompt of exactly `length` tokens, as cascade-eval's HaystackBuilder makes it, and its answer."""
        key = self.key()
        block = self.compose(self.key_block, key)
        budget = length - len(self.prefix) - len(self.suffix) - len(block)
        filler = filler or ("grass" if self.rng.random() < 1 / 3 else "words")
        tokens, bounds = self.grass_filler(budget) if filler == "grass" else self.words(budget)
        target = self.rng.random() * length - len(self.prefix)
        split = int(bounds[np.argmin(np.abs(bounds - target))])
        prompt = np.concatenate([self.prefix, tokens[:split], block, tokens[split:], self.suffix])
        return prompt, self.compose(self.answer, key), len(self.prefix) + split, len(block)

    def view(self, make, length):
        """A prompt of about `length` tokens as the row shows it: whole, with one gap, or as a cascade's view of a
        prompt 2-15 times longer. `make(n)` returns a prompt of n tokens and the span that must stay."""
        draw = self.rng.random()
        if draw < self.recipe["cascade_view"]:
            prompt, keep_from, keep_to = make(int(length * self.rng.uniform(2, 15)))
            return self.cascade_view(prompt, keep_from, keep_to, length)
        prompt, keep_from, keep_to = make(length)
        if draw < self.recipe["cascade_view"] + self.recipe["gap_view"]:
            return self.evicted_view(prompt, keep_from, keep_to)
        return prompt

    def passkey_row(self, length):
        answer = None

        def make(n):
            nonlocal answer
            prompt, answer, at, size = self.passkey(n)
            return prompt, at, at + size

        prompt = self.view(make, length)
        return self.with_answer(prompt, answer)

    def kv_row(self, length):
        answer = None

        def make(n):
            nonlocal answer
            prompt, answer, span = self.kv_prompt(n)
            return prompt, *span

        prompt = self.view(make, length)
        return self.with_answer(prompt, answer)

    def kv_prompt(self, length):
        count = int(self.rng.integers(2, 17))
        names = self.rng.choice(len(self.word_len), size=count, replace=False)
        keys = [self.key() for _ in range(count)]
        records = [np.concatenate([self.word_tokens(names[i : i + 1])[0], self.compose(self.kv_record, keys[i])]) for i in range(count)]
        asked = int(self.rng.integers(0, count))
        name = self.word_tokens(names[asked : asked + 1])[0]
        before, middle, after = self.kv_question
        question = np.concatenate([before, name, middle, name, after])
        budget = length - len(self.kv_intro) - sum(len(r) for r in records) - len(question)
        tokens, bounds = self.words(max(budget, 1))
        cuts = np.sort(self.rng.choice(bounds, size=count))
        parts, last, spans, offset = [self.kv_intro], 0, [], len(self.kv_intro)
        for cut, record in zip(cuts, records):
            parts.append(tokens[last:cut])
            offset += cut - last
            spans.append((offset, offset + len(record)))
            parts.append(record)
            offset += len(record)
            last = cut
        parts += [tokens[last:], question]
        return np.concatenate(parts), self.compose(self.kv_answer, keys[asked]), spans[asked]

    def book_window(self, length):
        start = int(self.rng.integers(0, len(self.tokens) - length))
        return self.tokens[start : start + length]

    def book_row(self, length):
        row = self.book_window(length + 1)
        return row, np.ones(length, dtype=np.float32)

    def copy_row(self, length):
        """A passage, other text, then the passage again: the second copy is predictable only from far back."""
        passage = self.book_window(int(self.rng.integers(16, min(1024, length // 3))))
        middle = self.book_window(length - 2 * len(passage))
        row = np.concatenate([[self.pieces["special"]["bos"]], passage, middle, passage])
        return row, np.ones(len(row) - 1, dtype=np.float32)

    def batch(self, length=None, rows=None, task=None):
        r = self.recipe
        length = length or int(self.rng.choice(r["lengths"], p=r["length_weights"]))
        rows = rows or max(1, r["tokens_per_batch"] // length)
        weights_of = r["tasks"]
        names = list(weights_of)
        inputs = np.zeros((rows, length), dtype=np.int64)
        targets = np.zeros((rows, length), dtype=np.int64)
        weights = np.zeros((rows, length), dtype=np.float32)
        for r in range(rows):
            kind = task or names[self.rng.choice(len(names), p=list(weights_of.values()))]
            if kind in ("passkey", "kv"):
                # Prompts fill a quarter to all of the row, answer included (a view may be a key block longer).
                n = int(self.rng.integers(length // 4, length - 2 * len(self.key_block) + 1))
                row, mask = (self.passkey_row if kind == "passkey" else self.kv_row)(n)
                assert len(row) <= length + 1, (kind, n, len(row))
            else:
                row, mask = (self.book_row if kind == "book" else self.copy_row)(length)
            n = len(row) - 1
            inputs[r, :n], targets[r, :n] = row[:-1], row[1:]
            weights[r, :n] = mask / mask.sum()  # every row weighs the same, whatever its number of scored tokens
        return inputs, targets, weights


class Batches(torch.utils.data.IterableDataset):
    def __init__(self, data_dir, seed, recipe, start_step):
        self.data_dir, self.seed, self.recipe, self.start_step = data_dir, seed, recipe, start_step

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        # a resumed run draws a new stream (seeded by its first step) rather than repeating the first batches
        rng = np.random.default_rng([self.seed, info.id if info else 0, self.start_step])
        tasks = Tasks(self.data_dir, "train", rng, self.recipe)
        while True:
            yield tuple(torch.from_numpy(a) for a in tasks.batch())


def rope_tables(head_dim, context, base):
    inv = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    angles = torch.outer(torch.arange(context, dtype=torch.float64), inv)
    return angles.cos().float(), angles.sin().float()


def rope(x, cos, sin):
    """llama.cpp's normal RoPE: rotates the adjacent pairs (x[2i], x[2i+1]) of each head by pos * base^(-2i/d)."""
    t = x.shape[1]
    pairs = x.float().unflatten(-1, (-1, 2))
    a, b = pairs[..., 0], pairs[..., 1]
    c, s = cos[:t, None, :], sin[:t, None, :]
    return torch.stack([a * c - b * s, a * s + b * c], dim=-1).flatten(-2).type_as(x)


class Llama(torch.nn.Module):
    def __init__(self, vocab, a):
        super().__init__()
        self.a = a
        d, hd = a["n_embd"], a["n_embd"] // a["n_head"]
        self.tok = torch.nn.Embedding(vocab, d)
        lin = lambda i, o: torch.nn.Linear(i, o, bias=False)
        self.layers = torch.nn.ModuleList()
        for _ in range(a["n_layer"]):
            layer = torch.nn.Module()
            layer.attn_norm = torch.nn.Parameter(torch.ones(d))
            layer.q, layer.k, layer.v = lin(d, d), lin(d, a["n_head_kv"] * hd), lin(d, a["n_head_kv"] * hd)
            layer.o = lin(d, d)
            layer.ffn_norm = torch.nn.Parameter(torch.ones(d))
            layer.gate, layer.up, layer.down = lin(d, a["n_ff"]), lin(d, a["n_ff"]), lin(a["n_ff"], d)
            self.layers.append(layer)
        self.norm = torch.nn.Parameter(torch.ones(d))
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * a["n_layer"]) if name.endswith(("o.weight", "down.weight")) else 0.02
                torch.nn.init.normal_(p, std=std)
        cos, sin = rope_tables(hd, a["context"], a["rope_base"])
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)

    def rms(self, x, w):
        x = x.float()
        return (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.a["eps"])).type_as(w) * w

    def hidden(self, ids):
        a = self.a
        hd = a["n_embd"] // a["n_head"]
        b, t = ids.shape
        x = self.tok(ids)
        for layer in self.layers:
            h = self.rms(x, layer.attn_norm)
            q = rope(layer.q(h).view(b, t, a["n_head"], hd), self.cos, self.sin)
            k = rope(layer.k(h).view(b, t, a["n_head_kv"], hd), self.cos, self.sin)
            v = layer.v(h).view(b, t, a["n_head_kv"], hd)
            rep = a["n_head"] // a["n_head_kv"]  # query head j reads key/value head j // rep, as in llama.cpp
            k, v = k.repeat_interleave(rep, dim=2), v.repeat_interleave(rep, dim=2)
            y = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True)
            x = x + layer.o(y.transpose(1, 2).reshape(b, t, -1))
            h = self.rms(x, layer.ffn_norm)
            x = x + layer.down(F.silu(layer.gate(h)) * layer.up(h))
        return self.rms(x, self.norm)

    def logits(self, h):
        return h @ self.tok.weight.t()  # tied: llama.cpp uses token_embd when there is no output.weight


def scored_loss(model, inputs, targets, weights):
    """Weighted cross-entropy over the scored positions only (no logits for unscored ones)."""
    h = model.hidden(inputs)
    keep = weights > 0
    logits = model.logits(h[keep]).float()
    return (F.cross_entropy(logits, targets[keep], reduction="none") * weights[keep]).sum() / inputs.shape[0]


# (prompt length, haystacks per filler, seen as a cascade's view of a prompt 4-15 times longer) for the passkey probe
PROBES = {
    "v1": [(4096, 50, False)],
    "v2": [(4096, 50, False), (32768, 16, False), (65536, 16, False), (65536, 16, True)],
}


@torch.no_grad()
def evaluate(model, val, probe, device, recipe_name):
    """Validation book loss (nats/token; 4,096-token windows, and the trained context's where the books allow) and
    passkey accuracy (greedy digits, teacher-forced) per probe length, full or as a cascade's view."""
    model.eval()

    def book_loss(window, count):
        losses = []
        for start in range(0, min(count * window, len(val.tokens) - window - 1), window):
            row = torch.from_numpy(val.tokens[start : start + window + 1]).to(device)[None]
            with torch.autocast("cuda", dtype=torch.bfloat16):
                logits = model.logits(model.hidden(row[:, :-1])).float()
            losses.append(F.cross_entropy(logits[0], row[0, 1:]).item())
        return float(np.mean(losses))

    result = {"val_loss": book_loss(4096, 16)}
    if model.a["context"] > 8192:
        result["val_loss_long"] = book_loss(65536, 2)
    exact, digits = {}, {}
    for length, count, viewed in PROBES[recipe_name]:
        for filler in ("words", "grass"):
            right = []
            for _ in range(count):
                if viewed:
                    prompt, answer, at, size = probe.passkey(int(length * probe.rng.uniform(4, 15)), filler)
                    prompt = probe.cascade_view(prompt, at, at + size, length)
                else:
                    prompt, answer, _, _ = probe.passkey(length, filler)
                row = torch.from_numpy(np.concatenate([prompt, answer])).to(device)[None]
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    h = model.hidden(row[:, :-1])
                    # the positions that predict the five digits (the answer's first token is the space before them)
                    pred = model.logits(h[0, len(prompt) : len(prompt) + 5]).argmax(-1).cpu().numpy()
                right.append(pred == answer[1:6])
            right = np.array(right)
            # v1's curve names the 4,096-token probe by its filler alone
            name = filler if recipe_name == "v1" else f"{filler}@{length}{'/cascade' if viewed else ''}"
            exact[name], digits[name] = float(right.all(1).mean()), float(right.mean())
    model.train()
    return {**result, "passkey_exact": exact, "passkey_digits": digits}


@torch.no_grad()
def reference(model, tasks, device):
    """Log-probabilities of every next token of two fixed sequences, in float32 with the F16-rounded weights the
    GGUF will hold: export.js checks llama.cpp against them."""
    rounded = {k: v.half().float() for k, v in model.state_dict().items()}
    copy = Llama(len(rounded["tok.weight"]), model.a).to(device)
    copy.load_state_dict(rounded)
    sequences = [tasks.tokens[:512].tolist()]
    prompt, answer, _, _ = tasks.passkey(2048, "words")
    sequences.append(np.concatenate([prompt, answer]).tolist())
    if model.a["context"] > 8192:  # far positions, where a wrong RoPE base in the GGUF would show
        sequences.append(tasks.tokens[:16384].tolist())
    out = []
    for seq in sequences:
        ids = torch.tensor(seq, device=device)[None]
        logp = torch.log_softmax(copy.logits(copy.hidden(ids[:, :-1])).float(), -1)[0]
        out.append({"tokens": seq, "logprobs": logp.gather(1, ids[0, 1:, None])[:, 0].tolist()})
    return out


def llama_names(n_layer):
    """Our parameter names -> llama.cpp's tensor names."""
    names = {"tok.weight": "token_embd.weight", "norm": "output_norm.weight"}
    for i in range(n_layer):
        for ours, theirs in [("attn_norm", "attn_norm.weight"), ("q.weight", "attn_q.weight"), ("k.weight", "attn_k.weight"),
                             ("v.weight", "attn_v.weight"), ("o.weight", "attn_output.weight"), ("ffn_norm", "ffn_norm.weight"),
                             ("gate.weight", "ffn_gate.weight"), ("up.weight", "ffn_up.weight"), ("down.weight", "ffn_down.weight")]:
            names[f"layers.{i}.{ours}"] = f"blk.{i}.{theirs}"
    return names


def write_atomic(path, write):
    write(path + ".tmp")
    os.replace(path + ".tmp", path)


def save_weights(model, out_dir):
    """F16 tensors under llama.cpp's names; PyTorch's [out, in] row-major is GGUF's dims [in, out]."""
    names = llama_names(model.a["n_layer"])
    state = {names[k]: v.detach().to(torch.float16).cpu().contiguous() for k, v in model.state_dict().items()}
    # Returned files are limited to 16 MiB each: the embedding goes alone.
    embedding = {"token_embd.weight": state.pop("token_embd.weight")}
    write_atomic(os.path.join(out_dir, "weights-embedding.safetensors"), lambda path: save_file(embedding, path))
    write_atomic(os.path.join(out_dir, "weights-layers.safetensors"), lambda path: save_file(state, path))


def write_json(path, value):
    def write(tmp):
        with open(tmp, "w") as f:
            json.dump(value, f)
    write_atomic(path, write)


def load_weights(model, tensors):
    """Sets the model's parameters from llama.cpp-named tensors (F16 safetensors or a GGUF's)."""
    ours = {theirs: name for name, theirs in llama_names(model.a["n_layer"]).items()}
    state = {ours[name]: torch.as_tensor(np.asarray(value, dtype=np.float32)) for name, value in tensors.items() if name in ours}
    missing = set(model.state_dict()) - set(state)
    if missing:
        raise SystemExit(f"weights lack {sorted(missing)[:3]}")
    model.load_state_dict(state)


def read_gguf(path):
    """The tensors of a GGUF file (F32, F16 and Q8_0 ones) as float32 NumPy arrays in PyTorch's [out, in] order."""
    data = open(path, "rb").read()
    pos = 0

    def take(fmt):
        nonlocal pos
        value = np.frombuffer(data, dtype=fmt, count=1, offset=pos)[0]
        pos += np.dtype(fmt).itemsize
        return value

    def string():
        nonlocal pos
        n = int(take("<u8"))
        pos += n
        return data[pos - n : pos].decode("utf8")

    scalars = {0: "u1", 1: "i1", 2: "<u2", 3: "<i2", 4: "<u4", 5: "<i4", 6: "<f4", 7: "u1", 10: "<u8", 11: "<i8", 12: "<f8"}

    def value(kind):
        if kind == 8:
            return string()
        if kind == 9:
            inner, count = int(take("<u4")), int(take("<u8"))
            return [value(inner) for _ in range(count)]
        return take(scalars[kind])

    if data[:4] != b"GGUF":
        raise SystemExit(f"{path}: not a GGUF file")
    pos = 8
    tensor_count, kv_count = int(take("<u8")), int(take("<u8"))
    metadata = {}
    for _ in range(kv_count):
        key = string()
        metadata[key] = value(int(take("<u4")))
    infos = []
    for _ in range(tensor_count):
        name = string()
        dims = [int(take("<u8")) for _ in range(int(take("<u4")))]
        infos.append((name, dims, int(take("<u4")), int(take("<u8"))))
    alignment = int(metadata.get("general.alignment", 32))
    base = (pos + alignment - 1) // alignment * alignment
    tensors = {}
    for name, dims, kind, offset in infos:
        count = int(np.prod(dims))
        start = base + offset
        if kind == 0:
            flat = np.frombuffer(data, "<f4", count, start)
        elif kind == 1:
            flat = np.frombuffer(data, "<f2", count, start).astype(np.float32)
        elif kind == 8:  # Q8_0: blocks of an F16 scale and 32 int8 values
            blocks = np.frombuffer(data, np.dtype([("d", "<f2"), ("q", "i1", 32)]), count // 32, start)
            flat = (blocks["d"].astype(np.float32)[:, None] * blocks["q"].astype(np.float32)).reshape(-1)
        else:
            raise SystemExit(f"{path}: {name} has GGML type {kind}, which this reader does not decode")
        tensors[name] = flat.reshape(dims[::-1])
    return metadata, tensors


def read_safetensors_dir(directory):
    from safetensors.numpy import load_file
    tensors = {}
    for part in ("weights-embedding.safetensors", "weights-layers.safetensors"):
        tensors.update(load_file(os.path.join(directory, part)))
    return tensors


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=".probe/data")
    parser.add_argument("--out", required=True)
    parser.add_argument("--recipe", choices=sorted(RECIPES), default="v2")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--workers", type=int, default=10)
    parser.add_argument("--init", help="start from this GGUF's weights (the recipe's RoPE base and context replace its own)")
    parser.add_argument("--resume", help="continue from the checkpoint in this folder (weights and state.json)")
    parser.add_argument("--max-seconds", type=float, default=float("inf"), help="stop with a checkpoint after this much training time")
    parser.add_argument("--checkpoint-every", type=float, default=300, help="seconds between checkpoints")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    recipe = RECIPES[args.recipe]
    arch = dict(SHAPE, context=recipe["context"], rope_base=recipe["rope_base"])
    torch.manual_seed(args.seed)
    device = "cuda"
    torch.backends.cuda.matmul.allow_tf32 = True

    tasks = Tasks(args.data, "train", np.random.default_rng([args.seed, 999]), recipe)
    val = Tasks(args.data, "val", np.random.default_rng([args.seed, 1000]), recipe)
    probe = lambda: Tasks(args.data, "val", np.random.default_rng([args.seed, 7]), recipe)
    vocab = tasks.pieces["vocab"]["size"]
    model = Llama(vocab, arch).to(device)
    state = {"step": 0, "tokens_seen": 0, "seconds": 0.0, "segments": [], "init": None}
    curve_path = os.path.join(args.out, "curve.jsonl")
    if args.resume:
        state = json.load(open(os.path.join(args.resume, "state.json")))
        if state["recipe"] != args.recipe or state["steps"] != args.steps:
            raise SystemExit(f"--resume {args.resume}: that run is recipe {state['recipe']} over {state['steps']} steps")
        load_weights(model, read_safetensors_dir(args.resume))
        if os.path.abspath(args.resume) != os.path.abspath(args.out):
            shutil.copyfile(os.path.join(args.resume, "curve.jsonl"), curve_path)
    elif args.init:
        metadata, tensors = read_gguf(args.init)
        load_weights(model, tensors)
        state["init"] = {"path": os.path.basename(args.init), "context": int(metadata.get("llama.context_length", 0)),
                         "rope_base": float(metadata.get("llama.rope.freq_base", 10000.0))}
    state.update(recipe=args.recipe, steps=args.steps)
    model.to(device)
    params = sum(p.numel() for p in model.parameters())
    decay = [p for p in model.parameters() if p.dim() == 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), fused=True)
    first = state["step"]
    warmup = max(1, int(args.steps * recipe["warmup"]))
    rewarm = RESUME_WARMUP if first > 0 else 1
    schedule = lambda s: (min(1, (s + 1) / warmup) * min(1, (s - first + 1) / rewarm)
                          * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1, s / args.steps)))))
    loader = torch.utils.data.DataLoader(Batches(args.data, args.seed, recipe, first), batch_size=None, num_workers=args.workers,
                                         pin_memory=True, prefetch_factor=4, persistent_workers=True)
    curve = open(curve_path, "a")
    started, seen, last_checkpoint = time.time(), state["tokens_seen"], time.time()

    def checkpoint(step):
        """Weights first, state.json last: a checkpoint is complete once its state.json names the step."""
        elapsed = time.time() - started
        segments = state["segments"] + [{"from": first, "to": step, "seconds": round(elapsed, 1)}]
        save_weights(model, args.out)
        write_json(os.path.join(args.out, "state.json"), {**state, "step": step, "tokens_seen": seen,
                                                          "seconds": round(state["seconds"] + elapsed, 1), "segments": segments})

    print(f"parameters {params:,} ({params - vocab * arch['n_embd']:,} without the embedding); recipe {args.recipe}, "
          f"steps {first}..{args.steps}", flush=True)
    step = first
    for inputs, targets, weights in loader:
        if step == args.steps:
            break
        if time.time() - started > args.max_seconds:
            checkpoint(step)
            print(f"stopped at step {step} after {time.time() - started:.0f} s: checkpoint in {args.out}", flush=True)
            return
        for group in opt.param_groups:
            group["lr"] = args.lr * schedule(step)
        inputs, targets, weights = (t.to(device, non_blocking=True) for t in (inputs, targets, weights))
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = scored_loss(model, inputs, targets, weights)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        seen += inputs.numel()
        if step % 25 == 0 or step == args.steps - 1:
            record = {"step": step, "tokens": seen, "seconds": round(state["seconds"] + time.time() - started, 1),
                      "loss": round(loss.item(), 4), "grad_norm": round(norm.item(), 3), "lr": opt.param_groups[0]["lr"],
                      "length": inputs.shape[1]}
            if step % args.eval_every == 0 or step == args.steps - 1:
                record.update(evaluate(model, val, probe(), device, args.recipe))
            curve.write(json.dumps(record) + "\n")
            curve.flush()
            print(json.dumps(record), flush=True)
        step += 1
        if time.time() - last_checkpoint > args.checkpoint_every:
            checkpoint(step)
            last_checkpoint = time.time()
    checkpoint(step)
    total = json.load(open(os.path.join(args.out, "state.json")))
    meta = {
        "architecture": arch, "vocab": tasks.pieces["vocab"], "parameters": params, "steps": args.steps, "lr": args.lr,
        "seed": args.seed, "tokens_seen": seen, "seconds": total["seconds"], "recipe": args.recipe, "init": state["init"],
        "segments": total["segments"],
        "mix": {k: recipe[k] for k in ("lengths", "length_weights", "tokens_per_batch", "tasks", "gap_view", "cascade_view")},
        "versions": {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
                     "cuda": torch.version.cuda, "gpu": torch.cuda.get_device_name()},
        "final": evaluate(model, val, probe(), device, args.recipe),
        "reference": reference(model, val, device),
    }
    write_json(os.path.join(args.out, "model.json"), meta)
    print(json.dumps(meta["final"]), flush=True)


if __name__ == "__main__":
    main()
