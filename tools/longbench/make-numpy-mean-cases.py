"""Writes test/longbench/numpy-mean-cases.json: float lists with numpy's mean and round(100 * mean, 2) on the
numpy float64, as LongBench's scorer_e (LongBench-E buckets) computes them. Run from the project root with a
Python that has numpy (Debian: apt install python3-numpy):  /usr/bin/python3 tools/longbench/make-numpy-mean-cases.py
"""
import json
import random

import numpy as np

random.seed(3)
cases = []
for n in list(range(1, 40)) + [63, 64, 65, 127, 128, 129, 130, 200, 255, 256, 257, 300]:
    values = [random.random() * random.choice([1, 1e-3, 1e3]) for _ in range(n)]
    mean = np.mean(values)
    cases.append({"values": values, "mean": float(mean), "score": float(round(100 * mean, 2))})
with open("test/longbench/numpy-mean-cases.json", "w") as out:
    json.dump(cases, out)
