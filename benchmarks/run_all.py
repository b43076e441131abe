"""Run every benchmark script (benchmarks/bench_*.py); each prints its own figures."""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> int:
    failed = []
    for name in sorted(os.listdir(HERE)):
        if name.startswith("bench_") and name.endswith(".py"):
            print(f"\n=== {name}", flush=True)
            if subprocess.run([sys.executable, os.path.join(HERE, name)]).returncode != 0:
                failed.append(name)
    if failed:
        print("failed:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
