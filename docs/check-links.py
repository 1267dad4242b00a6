#!/usr/bin/env python3
# Checks the relative links of README.md, docs/*.md and bench/README.md:
# every target file exists and every #anchor names a heading there
# (GitHub's rule: lower case, punctuation dropped, spaces to '-').
# Usage: python3 docs/check-links.py   (from the repository's root)
import glob, os, re, sys

def anchors(path):
    out, fence = set(), False
    for line in open(path, encoding="utf-8"):
        if line.startswith("```"):
            fence = not fence
        m = re.match(r"(#+)\s+(.*)", line)
        if m and not fence:
            a = re.sub(r"[^\w\- ]", "", m.group(2).strip().lower()).replace(" ", "-")
            out.add(a)
    return out

bad = 0
files = ["README.md", "bench/README.md"] + sorted(glob.glob("docs/*.md"))
for f in files:
    text = re.sub(r"```.*?```", "", open(f, encoding="utf-8").read(), flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        dest = os.path.normpath(os.path.join(os.path.dirname(f), path)) if path else f
        if not os.path.exists(dest):
            print(f"{f}: {target}: no such file {dest}"); bad += 1
        elif anchor and dest.endswith(".md") and anchor not in anchors(dest):
            print(f"{f}: {target}: no heading #{anchor} in {dest}"); bad += 1
print(f"links: {bad} broken in {len(files)} files")
sys.exit(1 if bad else 0)
