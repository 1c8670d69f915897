#!/usr/bin/python3
"""Reference extraction with Python's standard email package (policy=default).

Usage: /usr/bin/python3 python_reference.py CORPUS_DIR
Prints one JSON object: relative path -> {parts: [[content_type, charset, filename]...],
subject, from: [[display_name, addr_spec]...]}. Parts are listed in walk() order
(depth first, embedded messages after their message/rfc822 part).
"""
import email, email.policy, json, os, sys

def part_info(p):
    try:
        fn = p.get_filename()
    except Exception as e:  # noqa: BLE001 - record, do not stop
        fn = "error: %s" % type(e).__name__
    try:
        cs = p.get_content_charset()
    except Exception as e:  # noqa: BLE001
        cs = "error: %s" % type(e).__name__
    return [p.get_content_type(), cs, fn]

def fix(s):
    return s.encode("utf-8", "surrogateescape").decode("utf-8", "replace")

def extract(path):
    with open(path, "rb") as f:
        msg = email.message_from_binary_file(f, policy=email.policy.default)
    res = {"parts": [part_info(p) for p in msg.walk()]}
    try:
        s = msg["subject"]
        res["subject"] = None if s is None else str(s)
    except Exception as e:  # noqa: BLE001
        res["subject"] = "error: %s" % type(e).__name__
    try:
        fr = msg["from"]
        # Address headers keep undecodable bytes as surrogate escapes; apply the same UTF-8
        # decoding (with replacement) that the package uses for unstructured headers.
        res["from"] = None if fr is None else [[fix(a.display_name), fix(a.addr_spec)] for a in fr.addresses]
    except Exception as e:  # noqa: BLE001
        res["from"] = "error: %s" % type(e).__name__
    return res

root = sys.argv[1]
out = {}
for dirpath, _, files in os.walk(root):
    for name in sorted(files):
        if name.endswith(".eml"):
            full = os.path.join(dirpath, name)
            out[os.path.relpath(full, root).replace(os.sep, "/")] = extract(full)
json.dump(out, sys.stdout, ensure_ascii=True, sort_keys=True)
