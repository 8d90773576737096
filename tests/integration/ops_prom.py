#!/usr/bin/env python3
"""Prometheus text format (0.0.4) checks for the ops scenarios.

  ops_prom.py check FILE
      exits 1 (and says why) unless FILE parses: every sample line is
      `name{labels} value`, names and labels are valid, HELP/TYPE appear at
      most once per family and before its samples, a family's samples are
      contiguous, no series repeats, counters end in _total, histogram
      buckets are cumulative with +Inf == _count.
  ops_prom.py get FILE NAME [LABEL=VALUE ...]
      prints the value of the one series with exactly those labels, or
      "missing".
  ops_prom.py sum FILE NAME [LABEL=VALUE ...]
      prints the sum over every series of NAME whose labels include those.
"""
import re
import sys

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:\\.|[^"\\\n])*"'
SAMPLE = re.compile(
    r"^(%s)(?:\{(%s(?:,%s)*)?\})? (-?(?:[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?|NaN|\+Inf|-Inf))$"
    % (NAME, LABEL, LABEL)
)
LABEL_ONE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:\\.|[^"\\])*)"')
META = re.compile(r"^# (HELP|TYPE) (%s) (.*)$" % NAME)
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def parse(path):
    """Returns (samples, types, errors); samples: list of (name, labels, value)."""
    samples, types, helps, errors = [], {}, set(), []
    seen_series, finished, current = set(), set(), None
    for n, line in enumerate(open(path, encoding="utf-8").read().split("\n"), 1):
        if line == "":
            continue
        if line.startswith("#"):
            m = META.match(line)
            if not m:
                if line.startswith("# HELP") or line.startswith("# TYPE"):
                    errors.append("line %d: bad %s" % (n, line))
                continue
            kind, fam, rest = m.groups()
            if fam in finished or fam == current:
                errors.append("line %d: %s for %s after its samples" % (n, kind, fam))
            if kind == "TYPE":
                if fam in types:
                    errors.append("line %d: second TYPE for %s" % (n, fam))
                if rest not in TYPES:
                    errors.append("line %d: unknown type %s" % (n, rest))
                types[fam] = rest
            elif fam in helps:
                errors.append("line %d: second HELP for %s" % (n, fam))
            else:
                helps.add(fam)
            continue
        m = SAMPLE.match(line)
        if not m:
            errors.append("line %d: not a sample: %r" % (n, line))
            continue
        name, labels_text, value = m.groups()
        labels = tuple(sorted(LABEL_ONE.findall(labels_text or "")))
        fam = family(name, types)
        if fam not in types:
            errors.append("line %d: %s has no TYPE" % (n, name))
        if fam != current:
            if fam in finished:
                errors.append("line %d: samples of %s are not contiguous" % (n, fam))
            if current is not None:
                finished.add(current)
            current = fam
        if (name, labels) in seen_series:
            errors.append("line %d: series repeated: %s" % (n, line))
        seen_series.add((name, labels))
        samples.append((name, dict(labels), float(value)))
    return samples, types, errors


def family(name, types):
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[: -len(suffix)]
        if name.endswith(suffix) and types.get(base) == "histogram":
            return base
    return name


def check_semantics(samples, types):
    errors = []
    for fam, kind in types.items():
        if kind == "counter" and not fam.endswith("_total"):
            errors.append("counter %s does not end in _total" % fam)
        if kind == "counter":
            errors += ["%s is negative" % n for n, _, v in samples if n == fam and v < 0]
        if kind != "histogram":
            continue
        groups = {}
        for name, labels, value in samples:
            if name == fam + "_bucket":
                key = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
                groups.setdefault(key, []).append((labels.get("le"), value))
        counts = {
            tuple(sorted(l.items())): v for n, l, v in samples if n == fam + "_count"
        }
        for key, buckets in groups.items():
            values = [v for _, v in buckets]
            if values != sorted(values):
                errors.append("%s%s buckets not cumulative" % (fam, key))
            if buckets[-1][0] != "+Inf":
                errors.append("%s%s: last bucket is not +Inf" % (fam, key))
            elif counts.get(key) != buckets[-1][1]:
                errors.append("%s%s: +Inf bucket != _count" % (fam, key))
    return errors


def fmt(v):
    return str(int(v)) if v == int(v) else repr(v)


def matches(labels, want):
    return all(labels.get(k) == v for k, v in want.items())


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    samples, types, errors = parse(argv[2])
    if argv[1] == "check":
        errors += check_semantics(samples, types)
        if not samples:
            errors.append("no samples")
        for e in errors:
            print(e, file=sys.stderr)
        return 1 if errors else 0
    want = dict(a.split("=", 1) for a in argv[4:])
    found = [(l, v) for n, l, v in samples if n == argv[3] and matches(l, want)]
    if argv[1] == "get":
        exact = [v for l, v in found if len(l) == len(want)]
        print(fmt(exact[0]) if exact else "missing")
        return 0
    if argv[1] == "sum":
        print(fmt(sum(v for _, v in found)))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
