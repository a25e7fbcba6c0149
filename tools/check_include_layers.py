#!/usr/bin/env python3
"""Checks the library's include graph: a header includes only headers of its own folder or of a
lower floor (the table below), and no include cycle exists. Run by ctest (label `layout`);
prints each violation as `header -> included (why)` and exits 1 if there is any.

Floors, lowest first (a folder may include its own floor's folder and any lower floor):
  0 core
  1 io
  2 signal, masking, nn, loss, optim, metrics, distributed
  3 data, model
  4 pipeline
  5 cuda (the backend's kernels, included only by .cu translation units)
"""
import os
import re
import sys

FLOOR = {"core": 0, "io": 1, "signal": 2, "masking": 2, "nn": 2, "loss": 2, "optim": 2, "metrics": 2, "distributed": 2,
         "data": 3, "model": 3, "pipeline": 4, "cuda": 5}
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)


def main(root):
    lib = os.path.join(root, "include", "ecgssl")
    graph = {}
    problems = []
    for folder, _, files in os.walk(lib):
        for name in files:
            if not name.endswith((".hpp", ".cuh")):
                continue
            path = os.path.relpath(os.path.join(folder, name), lib)
            text = open(os.path.join(lib, path), encoding="utf-8").read()
            edges = []
            for bracket, target in INCLUDE.findall(text):
                if bracket == "<" and target.startswith("ecgssl/"):
                    resolved = target[len("ecgssl/"):]
                elif bracket == '"':
                    resolved = os.path.normpath(os.path.join(os.path.dirname(path), target))
                else:
                    continue
                if not os.path.exists(os.path.join(lib, resolved)):
                    problems.append(f"{path} -> {target} (no such header)")
                    continue
                edges.append(resolved)
            graph[path] = edges
    for header, edges in graph.items():
        top = header.split(os.sep)[0]
        if top not in FLOOR:
            if header != "ecgssl.hpp" and header != "version.hpp":
                problems.append(f"{header} (folder '{top}' has no floor in tools/check_include_layers.py)")
            continue
        for target in edges:
            other = target.split(os.sep)[0]
            if other in ("version.hpp",):
                continue
            if other not in FLOOR:
                problems.append(f"{header} -> {target} (outside the floors)")
            elif other != top and FLOOR[other] >= FLOOR[top]:
                problems.append(f"{header} -> {target} ({top} is floor {FLOOR[top]}, {other} is floor {FLOOR[other]})")
    # cycles: depth-first search with colours
    colour = {h: 0 for h in graph}
    stack = []

    def visit(h):
        colour[h] = 1
        stack.append(h)
        for t in graph.get(h, []):
            if colour.get(t, 2) == 1:
                problems.append("include cycle: " + " -> ".join(stack[stack.index(t):] + [t]))
            elif colour.get(t) == 0:
                visit(t)
        stack.pop()
        colour[h] = 2

    sys.setrecursionlimit(10000)
    for h in sorted(graph):
        if colour[h] == 0:
            visit(h)
    for p in problems:
        print(p)
    print(f"{len(graph)} headers, {sum(len(e) for e in graph.values())} includes, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")))
