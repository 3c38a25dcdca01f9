"""How much `import flashtrain.core` adds to `import torch` (target: under 0.2 s), and what it imports.

    python benchmarks/import_time.py [--runs 7]

Each measurement is a fresh interpreter; medians are printed. `-X importtime` then lists the slowest
modules that flashtrain.core pulls in beyond torch.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys


def timed(code: str) -> float:
    script = f"import time; s = time.perf_counter(); {code}; print(time.perf_counter() - s)"
    return float(subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True).stdout)


def core_import_cost() -> tuple[float, list[tuple[int, str]]]:
    """Seconds spent importing flashtrain.core after torch (``-X importtime``), and its slowest sub-imports."""
    probe = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import torch; import flashtrain.core"],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    after_torch = probe.split("| torch\n", 1)[-1]
    rows = [
        (int(m.group(1)), m.group(2).strip()) for m in re.finditer(r"import time:\s+\d+ \|\s+(\d+) \|(.*)", after_torch)
    ]
    total = next(cumulative for cumulative, name in rows if name == "flashtrain.core")
    return total / 1e6, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    torch_only, with_core, cli_help, costs = [], [], [], []
    rows: list[tuple[int, str]] = []
    for _ in range(args.runs):
        torch_only.append(timed("import torch"))
        with_core.append(timed("import torch; import flashtrain.core"))
        cli_help.append(timed("import flashtrain.cli.main"))
        cost, rows = core_import_cost()
        costs.append(cost)
    print(f"import torch                        : {statistics.median(torch_only):.3f} s (wall, median)")
    print(f"import torch; import flashtrain.core: {statistics.median(with_core):.3f} s (wall, median)")
    print(f"flashtrain.core after torch (-X importtime, median): {statistics.median(costs):.3f} s  (target < 0.2 s)")
    print(f"import flashtrain.cli.main (--help) : {statistics.median(cli_help):.3f} s")
    print("slowest imports inside flashtrain.core (cumulative us, last run):")
    for cumulative, name in sorted(rows, reverse=True)[:8]:
        print(f"  {cumulative:>8}  {name}")
    cli_imports_torch = subprocess.run(
        [sys.executable, "-c", "import sys, flashtrain.cli.main; print('torch' in sys.modules)"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    print(f"flash-train --help imports torch: {cli_imports_torch}")


if __name__ == "__main__":
    main()
