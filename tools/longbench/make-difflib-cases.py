"""Writes test/longbench/difflib-cases.json: pairs of strings with the value of Python's
difflib.SequenceMatcher(None, a, b).ratio() (default autojunk=True) and of fuzzywuzzy's fuzz.ratio on the pure-Python
difflib path, for test/longbench/difflib.test.ts. Run from the project root (standard library only):

    /usr/bin/python3 tools/longbench/make-difflib-cases.py

Cases, from a fixed seed: random short strings over small alphabets; lines of the project's own TypeScript sources
paired with edited copies and with other lines; pairs whose b has 200 or more elements, most of them chosen because
the autojunk heuristic (popular elements left out of b's index) changes the ratio; strings with accents, CJK, emoji
outside the BMP and combining marks; pairs whose 100 * ratio lands on or near .5. Each case records `autojunk`, true
where ratio() differs from autojunk=False. The code cases draw on src/ as it stands, so a rerun after source
edits writes other pairs (still all of them Python's values).
"""
import difflib
import glob
import json
import os
import random
import sys

OUT = "test/longbench/difflib-cases.json"
rng = random.Random(20240611)
cases = []


def fuzz_ratio(a, b):
    # fuzzywuzzy.fuzz.ratio: equivalence check first, then the empty-string check, then int(round(100 * ratio)).
    if a == b:
        return 100
    if len(a) == 0 or len(b) == 0:
        return 0
    return int(round(100 * difflib.SequenceMatcher(None, a, b).ratio()))


def add(kind, a, b):
    ratio = difflib.SequenceMatcher(None, a, b).ratio()
    plain = difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()
    cases.append({"kind": kind, "a": a, "b": b, "ratio": ratio, "fuzz": fuzz_ratio(a, b), "autojunk": ratio != plain})


def random_string(alphabet, low, high):
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(low, high)))


def mutate(s, alphabet, edits):
    chars = list(s)
    for _ in range(edits):
        op = rng.randrange(4)
        at = rng.randint(0, len(chars))
        if op == 0 or not chars:
            chars.insert(at, rng.choice(alphabet))
        elif op == 1:
            del chars[min(at, len(chars) - 1)]
        elif op == 2:
            chars[min(at, len(chars) - 1)] = rng.choice(alphabet)
        else:  # move a slice elsewhere
            i = rng.randrange(len(chars))
            j = min(len(chars), i + rng.randint(1, 6))
            piece = chars[i:j]
            del chars[i:j]
            k = rng.randint(0, len(chars))
            chars[k:k] = piece
    return "".join(chars)


# Hand-picked corners.
for a, b in [("", ""), ("", "a"), ("a", ""), ("a", "a"), ("abcd", "bcde"), ("abxcd", "abcd"), (" abcd", "abcd abcd"),
             ("private Thread currentThread;", "private volatile Thread currentThread;"), ("qabxcd", "abycdf")]:
    add("corner", a, b)

# Random short strings over small alphabets (both orders matter: only b is indexed).
for _ in range(300):
    alphabet = rng.choice(["ab", "abc", "abcd", "ab ", "xyz01", "aab"])
    a = random_string(alphabet, 0, 24)
    b = random_string(alphabet, 0, 24) if rng.random() < 0.5 else mutate(a, alphabet, rng.randint(1, 5))
    add("random", a, b)

# Lines of the project's TypeScript, against edited copies and against other lines.
lines = []
for path in sorted(glob.glob("src/**/*.ts", recursive=True)):
    with open(path, encoding="utf-8") as f:
        lines += [line.strip() for line in f if 12 <= len(line.strip()) <= 110]
code_chars = "abcdefghijklmnopqrstuvwxyz_.();{}[]=<>:, \"'0123456789"
for _ in range(200):
    line = rng.choice(lines)
    if rng.random() < 0.75:
        add("code", line, mutate(line, code_chars, rng.randint(1, 8)))
    else:
        add("code", line, rng.choice(lines))

# Long pairs (len(b) >= 200): blocks of source lines against edited copies, and skewed random strings, kept mostly
# where the popular-element heuristic changes the ratio.
long_wanted, long_plain = 45, 8
tries = 0
while long_wanted + long_plain > 0 and tries < 20000:
    tries += 1
    if rng.random() < 0.5:
        start = rng.randrange(len(lines) - 8)
        a = "\n".join(lines[start:start + rng.randint(3, 6)])
        b = mutate(a, code_chars, rng.randint(2, 12)) if rng.random() < 0.8 else "\n".join(lines[start + 1:start + 7])
        if rng.random() < 0.5:
            a, b = b, a
    else:
        alphabet = rng.choice(["aaaaabcdefghij", "xxxxxxxxyz0123456789", "    abcdefghijklmnopqrstuvwxyz"])
        a = random_string(alphabet, 150, 260)
        b = mutate(a, alphabet, rng.randint(5, 40)) if rng.random() < 0.7 else random_string(alphabet, 200, 260)
    if len(b) < 200 or len(a) + len(b) > 600:
        continue
    differs = difflib.SequenceMatcher(None, a, b).ratio() != difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()
    if differs and long_wanted > 0:
        long_wanted -= 1
        add("long", a, b)
    elif not differs and long_plain > 0:
        long_plain -= 1
        add("long", a, b)
# A popular element matches only by extending from the corner (alo, blo) of a range the index finds nothing in.
add("long", "x" * 200, "x" * 200 + "y")
add("long", "y" + "x" * 199, "x" * 200)
add("long", "x" * 5 + "abc" + "x" * 5, "x" * 100 + "abc" + "x" * 100)
add("long", "ab" * 60 + "c", "c" + "ab" * 110)

# Non-ASCII: accents, Greek, CJK, emoji outside the BMP (surrogate pairs in UTF-16), combining marks.
unicode_alphabets = ["éèêëàç e", "αβγδεζ ", "你好世界的是不了人我", "😀😃😄😁🙂 a", "👍🏽👨‍👩‍👧 x", "e\u0301a\u0300o ", "日本語テキスト😀", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢ab"]
for _ in range(120):
    alphabet = rng.choice(unicode_alphabets)
    a = random_string(alphabet, 0, 20)
    b = mutate(a, alphabet, rng.randint(1, 4)) if rng.random() < 0.6 else random_string(alphabet, 0, 20)
    add("unicode", a, b)
for a, b in [("😀", "😀😀"), ("a😀b", "a😃b"), ("你好，世界", "你好世界"), ("naïve café", "naive cafe"), ("e\u0301", "é")]:
    add("unicode", a, b)
# A long b of emoji: popular in code points, and the index must count code points, not UTF-16 units.
emoji = "😀😃😄😁🙂🙃😉😊"
for _ in range(8):
    a = random_string(emoji + "ab", 100, 180)
    b = mutate(a, emoji + "ab", 10) + random_string(emoji + "ab", 60, 80)
    add("unicode", a, b)

# 100 * ratio on or next to .5: exact ties (total length 16, 32, 112, 400), ties reached through an inexact 2M/T
# (total 80), and 0.145 and 0.285, whose products with 100 fall just below .5.
for total, matched in [(16, 1), (16, 3), (16, 5), (16, 7), (80, 1), (80, 3), (80, 5), (80, 7), (80, 9), (32, 2), (32, 6), (112, 7),
                      (400, 1), (400, 3), (400, 29), (400, 57)]:
    half = total // 2
    a = "".join(chr(0x61 + i % 26) if i < matched else chr(0x4E00 + i) for i in range(half))
    b = "".join(chr(0x61 + i % 26) if i < matched else chr(0x5E00 + i) for i in range(half))
    add("tie", a, b)

text = "[\n" + ",\n".join(json.dumps(case, ensure_ascii=False, separators=(",", ":")) for case in cases) + "\n]"
os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w", encoding="utf-8") as out:
    out.write(text + "\n")
kinds = {}
for case in cases:
    kinds[case["kind"]] = kinds.get(case["kind"], 0) + 1
print(f"{OUT}: {len(cases)} cases {kinds}, {sum(c['autojunk'] for c in cases)} where autojunk matters, "
      f"{len(text.encode())} bytes", file=sys.stderr)
