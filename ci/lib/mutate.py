#!/usr/bin/python3
"""Applies one mutation to one file, for ci/lib/scratch-mutation.sh.

usage: mutate.py FILE OLD NEW      (\\n in OLD and NEW stands for a newline)

OLD is the text to replace, matched token by token: any run of whitespace (and any
"// mutant: ..." marker comment) between tokens matches any other, so reformatting the
code does not break a mutation. OLD may start with "@name:" - then the text must follow
the marker comment "// mutant: name" (which must occur exactly once in FILE), and it is
its first occurrence after the marker that is replaced. Without a marker the text must
occur exactly once in the file. Either way a list that drifted from the code fails
loudly (exit 1) instead of mutating something else.
"""
import re
import sys

GAP = r'(?:\s|//\s*mutant:[^\n]*)*'


def pattern(old):
    tokens = old.split()
    if not tokens:
        sys.exit("mutate.py: empty text")
    indent = r'[ \t]*' if old[:1].isspace() else ''
    return re.compile(indent + GAP.join(re.escape(t) for t in tokens))


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    path, old, new = sys.argv[1], sys.argv[2].replace('\\n', '\n'), sys.argv[3].replace('\\n', '\n')
    text = open(path).read()
    start = 0
    m = re.match(r'@([A-Za-z0-9_.-]+):', old)
    if m:
        marker = re.compile(r'//\s*mutant:\s*' + re.escape(m.group(1)) + r'\s*$', re.M)
        found = list(marker.finditer(text))
        if len(found) != 1:
            sys.exit(f"mutate.py: marker '// mutant: {m.group(1)}' occurs {len(found)} times "
                     f"in {path}, not once")
        start = found[0].end()
        old = old[m.end():]
        hit = pattern(old).search(text, start)
        # The text belongs to its marker: it must start within a few lines of it.
        if not hit or text.count('\n', start, hit.start()) > 6:
            sys.exit(f"mutate.py: no {old!r} right after the marker '{m.group(1)}' in {path}")
    else:
        hits = list(pattern(old).finditer(text))
        if len(hits) != 1:
            sys.exit(f"mutate.py: {old!r} matches {len(hits)} times in {path}, not once")
        hit = hits[0]
    open(path, 'w').write(text[:hit.start()] + new + text[hit.end():])


if __name__ == '__main__':
    main()
