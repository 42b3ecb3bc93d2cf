#!/usr/bin/env python3
"""Attribution goldens: AtP and RelP scores of the oracle set-up's PyTorch
reference (ref_patch.py, float64) on the fixtures' patching tasks.

Run from the repository root with the oracle's folder in INTERP_ORACLE:

  INTERP_ORACLE=/path/to/oracle /usr/bin/python3 testdata/reference/attribution.py

For each fixture F it runs
  ref_patch.py testdata/F.gguf --clean-ids ... --corrupt-ids ... \
      --answer-id A --wrong-id W --methods patch,atp,relp
on the task of testdata/reference/golden/F.patch.json and writes
testdata/reference/golden/F.attribution.json with the task, clean_value,
corrupt_value, "atp" and "relp" sites (unnormalized scores, layout of
`interp patch --json`) and ref_patch's self-checks.
"""
import json
import os
import subprocess
import sys
import tempfile

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))


def main():
    oracle = os.environ["INTERP_ORACLE"]
    for fixture in ["gpt2-tiny", "llama-tiny"]:
        with open(os.path.join(here, "golden", fixture + ".patch.json")) as f:
            task = json.load(f)
        ids = lambda xs: ",".join(str(x) for x in xs)  # noqa: E731
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "out.json")
            subprocess.run([sys.executable, os.path.join(oracle, "ref_patch.py"),
                            os.path.join(root, "testdata", fixture + ".gguf"),
                            "--clean-ids", ids(task["clean_ids"]), "--corrupt-ids", ids(task["corrupt_ids"]),
                            "--answer-id", str(task["answer_id"]), "--wrong-id", str(task["wrong_id"]),
                            "--methods", "patch,atp,relp", "--out", out], check=True)
            with open(out) as f:
                r = json.load(f)
        keep = {k: r[k] for k in ["clean_ids", "corrupt_ids", "answer_id", "wrong_id",
                                  "clean_value", "corrupt_value", "atp", "relp", "selfchecks"]}
        dst = os.path.join(here, "golden", fixture + ".attribution.json")
        with open(dst, "w") as f:
            json.dump(keep, f)
        print(f"wrote {dst}")


if __name__ == "__main__":
    main()
