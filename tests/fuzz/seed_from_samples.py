#!/usr/bin/env python3
"""Writes one fuzz_json_rewriter seed per sample message: the topic, a newline, the wire payload.

Usage: seed_from_samples.py OUT_DIR SAMPLE.jsonl...

A sample line is {"topic": ..., "payload": ...} (other members are ignored). A string payload is
the bare wire payload; any other payload is its JSON text, as `portier-policy run` reads it.
"""
import hashlib
import json
import os
import sys


def main() -> int:
    out_dir, files = sys.argv[1], sys.argv[2:]
    os.makedirs(out_dir, exist_ok=True)
    written = 0
    for path in files:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                sample = json.loads(line)
                payload = sample["payload"]
                wire = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
                data = sample["topic"].encode() + b"\n" + wire.encode()
                name = "sample-%s-%d-%s" % (os.path.basename(path).split(".")[0], number, hashlib.sha1(data).hexdigest()[:8])
                with open(os.path.join(out_dir, name), "wb") as seed:
                    seed.write(data)
                written += 1
    print("seed_from_samples: %d seeds from %d files" % (written, len(files)))
    return 0 if written else 1


if __name__ == "__main__":
    sys.exit(main())
