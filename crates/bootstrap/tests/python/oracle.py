"""Independent Python reading of generated files, for the property tests.

Runs as a long-lived process: one JSON request per stdin line, one JSON answer per
stdout line. It re-implements the spec's record rules (§5.2 shape, §6 tags, §7 PII) in
Python, so the Rust generator is checked against a second implementation, and reads the
records back out of the generated file with ast.literal_eval.

Requests:
  {"op": "check", "dataset": <JSON text>, "file": <generated text> or null, "format": "py"|"ipynb"}
      -> {"ok": true, "report": {...}} or {"ok": false, "error": "..."}
      With "file": null the generator refused the dataset; the answer says whether the
      reference refuses it too ("refused": true/false).
  {"op": "literal", "items": [[<python literal text>, <JSON text>, <exact>], ...]}
      -> {"ok": true} when every literal evaluates to the JSON value, type for type, and,
      where <exact> is true, is exactly repr() of that value.
"""

import ast
import json
import re
import sys

WORD = "A-Za-z0-9_"


def is_word(c):
    return c.isascii() and (c.isalnum() or c == "_")


def make(kind, pattern, before, after, group=0, digits=None):
    return (kind, re.compile(pattern), before, after, group, digits)


def plain(extra=""):
    return ("plain", extra)


PHONE_BEFORE = ("phone-before", "")
PHONE_AFTER = ("phone-after", "")

DETECTORS = [
    make("api-key", r"sk-[A-Za-z0-9_-]{20,}", plain("-"), plain("-")),
    make("api-key", r"[rs]k_(?:live|test)_[A-Za-z0-9]{16,}", plain(), plain()),
    make("api-key", r"(?:AKIA|ASIA)[A-Z0-9]{16}", plain(), plain()),
    make("api-key", r"gh[oprsu]_[A-Za-z0-9]{36,}", plain(), plain()),
    make("api-key", r"github_pat_[A-Za-z0-9_]{22,}", plain(), plain()),
    make("api-key", r"xox[abeoprs]-[A-Za-z0-9-]{10,}", plain(), plain("-")),
    make("api-key", r"AIza[A-Za-z0-9_-]{35}", plain("-"), plain("-")),
    make(
        "api-key",
        r"eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}",
        plain("-."),
        plain("-."),
    ),
    make(
        "api-key",
        r"""(?i:aws_secret_access_key)["']?[ \t]*[:=][ \t]*["']?([A-Za-z0-9/+]{40})""",
        plain(),
        plain("/+="),
        group=1,
    ),
    make("api-key", r"[0-9A-Fa-f]{32}", plain(), plain()),
    make(
        "email",
        r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
        plain(".%+-"),
        plain("-"),
    ),
    make("ssn", r"[0-9]{3}-[0-9]{2}-[0-9]{4}|[0-9]{3} [0-9]{2} [0-9]{4}", plain(), plain()),
    make(
        "phone",
        r"(?:\+1[-. ]?|1[-. ])?(?:\([0-9]{3}\)[-. ]?|[0-9]{3}[-. ]?)[0-9]{3}[-. ]?[0-9]{4}",
        PHONE_BEFORE,
        PHONE_AFTER,
    ),
    make(
        "phone",
        r"\+[2-9][0-9]{0,2}(?:[-. ][0-9]{1,4}){2,5}|\+[2-9][0-9]{7,14}",
        PHONE_BEFORE,
        PHONE_AFTER,
        digits=(8, 15),
    ),
]


def before_ok(rule, s, start):
    if start == 0:
        return True
    c = s[start - 1]
    kind, extra = rule
    if kind == "plain":
        return not is_word(c) and c not in extra
    return not is_word(c) and c != "+" and not (c == "." and start >= 2 and s[start - 2] in "0123456789")


def after_ok(rule, s, end):
    if end >= len(s):
        return True
    c = s[end]
    kind, extra = rule
    if kind == "plain":
        return not is_word(c) and c not in extra
    return not is_word(c) and not (c == "." and end + 1 < len(s) and s[end + 1] in "0123456789")


def scrub(s, counts):
    for kind, rx, before, after, group, digits in DETECTORS:
        pos = 0
        while pos <= len(s):
            m = rx.search(s, pos)
            if m is None:
                break
            start, end = m.span()
            ok = digits is None or digits[0] <= sum(ch in "0123456789" for ch in m.group(0)) <= digits[1]
            if ok and before_ok(before, s, start) and after_ok(after, s, end):
                gs, ge = m.span(group)
                marker = "<REDACTED:" + kind + ">"
                s = s[:gs] + marker + s[ge:]
                counts[kind] += 1
                pos = end - (ge - gs) + len(marker)
            else:
                pos = start + 1
    return s


class Collision(Exception):
    pass


def scrub_value(v, counts):
    if isinstance(v, str):
        return scrub(v, counts)
    if isinstance(v, list):
        return [scrub_value(x, counts) for x in v]
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            k2 = scrub(k, counts)
            if k2 in out:
                raise Collision(k2)
            out[k2] = scrub_value(x, counts)
        return out
    return v


# Unicode White_Space, which Python's str.strip() does not follow exactly.
WHITE_SPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def element(x):
    if x is None:
        return None
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, (int, float, str)):
        return x if isinstance(x, str) else repr(x)
    raise ValueError("nested tag")


def namespace(t):
    t = t.strip(WHITE_SPACE)
    if not t:
        return None
    if ":" not in t:
        return "tag:" + t
    k, v = t.split(":", 1)
    if k and v:
        return t
    if k or v:
        return "tag:" + (k or v)
    return None


def normalise_tags(v):
    if isinstance(v, list):
        raw = [element(x) for x in v]
    elif isinstance(v, str):
        raw = [v]
    elif isinstance(v, dict):
        raw = [k + ":" + ("" if x is None else element(x)) for k, x in v.items()]
    else:
        raise ValueError("tags shape")
    return [t for t in (namespace(r) for r in raw if r is not None) if t is not None]


def reference(records):
    out, pii, rewritten, removed, ids = [], [], [], [], set()
    for i, r in enumerate(records):
        counts = {"api-key": 0, "email": 0, "ssn": 0, "phone": 0}
        if "record_id" in r or "canonical_id" in r:
            removed.append(i)
        raw_tags = r.get("tags")
        tags = normalise_tags(raw_tags) if raw_tags is not None else []
        rec = {"input_data": scrub_value(r["input_data"], counts)}
        if r.get("expected_output") is not None:
            rec["expected_output"] = scrub_value(r["expected_output"], counts)
        if r.get("metadata") is not None:
            rec["metadata"] = scrub_value(r["metadata"], counts)
        scrubbed = []
        for t in tags:
            t = scrub(t, counts)
            if t not in scrubbed:
                scrubbed.append(t)
        if scrubbed:
            rec["tags"] = scrubbed
        if r.get("id") is not None:
            rec["id"] = scrub(r["id"], counts)
            if rec["id"] in ids:
                raise Collision(rec["id"])
            ids.add(rec["id"])
        unchanged = raw_tags is None or (
            isinstance(raw_tags, list) and all(isinstance(t, str) for t in raw_tags) and raw_tags == scrubbed
        )
        if not unchanged:
            rewritten.append(i)
        if sum(counts.values()):
            pii.append([i, [counts["api-key"], counts["email"], counts["ssn"], counts["phone"]]])
        out.append(rec)
    return out, {"pii": pii, "tags_rewritten": rewritten, "sdk_keys_removed": removed}


def same(a, b, where="records"):
    if type(a) is not type(b):
        raise AssertionError(f"{where}: type {type(a).__name__} != {type(b).__name__}: {a!r} vs {b!r}")
    if isinstance(a, dict):
        if list(a.keys()) != list(b.keys()):
            raise AssertionError(f"{where}: keys {list(a.keys())!r} != {list(b.keys())!r}")
        for k in a:
            same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, list):
        if len(a) != len(b):
            raise AssertionError(f"{where}: length {len(a)} != {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{where}[{i}]")
    elif isinstance(a, float):
        if repr(a) != repr(b):
            raise AssertionError(f"{where}: {a!r} != {b!r}")
    elif a != b:
        raise AssertionError(f"{where}: {a!r} != {b!r}")


def embedded_records(src):
    tree = ast.parse(src, feature_version=(3, 9))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "create_dataset":
            for kw in node.keywords:
                if kw.arg == "records":
                    return ast.literal_eval(kw.value)
    raise AssertionError("no create_dataset(records=...) call")


def check(req):
    records = json.loads(req["dataset"])
    try:
        expected, report = reference(records)
    except Collision:
        return {"ok": req["file"] is None, "refused": True}
    if req["file"] is None:
        return {"ok": False, "error": "the generator refused a dataset the reference accepts"}
    text = req["file"]
    if not text.isascii() and any(ord(c) > 127 for c in text if c not in "─"):
        return {"ok": False, "error": "non-ASCII text outside the banners"}
    if req["format"] == "ipynb":
        nb = json.loads(text)
        code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
        for i, cell in enumerate(code, 1):
            compile(cell, f"cell-{i}", "exec", dont_inherit=True)
        src = "\n\n".join(code) + "\n"
    else:
        src = text
    compile(src, "generated", "exec", dont_inherit=True)
    same(embedded_records(src), expected)
    return {"ok": True, "report": report}


def literal(req):
    for lit, js, exact in req["items"]:
        value = ast.literal_eval(lit)
        same(value, json.loads(js), f"literal {lit!r}")
        if exact and repr(value) != lit:
            raise AssertionError(f"{lit!r} is not repr() of the value, {value!r}")
    return {"ok": True}


def main():
    for line in sys.stdin:
        req = json.loads(line)
        try:
            answer = check(req) if req["op"] == "check" else literal(req)
        except Exception as e:  # report, keep serving
            answer = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


main()
