"""Run Lightning Flash's examples, doc snippets and Flash Zero commands on flashtrain, with only the import swap.

    python benchmarks/flash_compat/run_flash.py --flash-src /work/flash-src
    python benchmarks/flash_compat/run_flash.py --flash-src /work/flash-src --only tabular   # names containing it
    python benchmarks/flash_compat/run_flash.py --jobs 4 --only flash_zero --merge   # rerun some, into results.md

Each case (see ``extract.py``) runs in its own scratch folder holding the stand-in data (``standins.py``), with
its code import-swapped (``swap.py``), every Trainer capped to a smoke run (``smoke.py``), an offline Hugging
Face cache of stand-in weights, and Flash's checkpoint URLs served from 127.0.0.1. Writes ``results.md`` and
``results.json`` next to this file.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from expected import DIFFERENCES  # noqa: E402
from extract import Case, all_cases  # noqa: E402
from swap import stand_in_data, swap_command, swap_imports  # noqa: E402


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def weights_server(folder: Path):
    """Flash's checkpoint URLs, served from the stand-in checkpoints on 127.0.0.1."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None  # type: ignore[assignment]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return (lines[-1] if lines else "").strip()[:300]


def _run(command: list[str], cwd: Path, env: dict, timeout: int) -> tuple[bool, str]:
    try:
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, f"timed out after {timeout}s"
    (cwd / "output.log").write_text(done.stdout + "\n--- stderr ---\n" + done.stderr)
    return done.returncode == 0, "" if done.returncode == 0 else _last_line(done.stderr) or f"exit {done.returncode}"


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.5)
    return False


def run_case(case: Case, template: Path, env: dict, weights_url: str, timeout: int, keep: Path | None) -> tuple:
    scratch = Path(tempfile.mkdtemp(prefix="flash_case_"))
    try:
        shutil.copytree(template, scratch, dirs_exist_ok=True)
        smoke = [sys.executable, str(HERE / "smoke.py")]
        if case.kind == "command":
            command = swap_command(case.code)
            redirect = None
            if ">" in command:
                command, redirect = (part.strip() for part in command.split(">", 1))
            argv = command.split()
            ok, reason = _run([*smoke, "-m", "flashtrain.cli.main", *argv[1:]], scratch, env, timeout)
            if ok and redirect:
                shutil.copy(scratch / "output.log", scratch / redirect)
            return ("passed" if ok else "failed"), reason
        code = stand_in_data(swap_imports(case.code), weights_url)
        (scratch / "case.py").write_text(code)
        if case.kind == "script":
            ok, reason = _run([*smoke, "case.py"], scratch, env, timeout)
            return ("passed" if ok else "failed"), reason
        port = _free_port()
        client = stand_in_data(swap_imports(case.client), weights_url).replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        (scratch / "client.py").write_text(client)
        log = (scratch / "server.log").open("w")
        server = subprocess.Popen(
            [*smoke, "--serve-port", str(port), "case.py"],
            cwd=scratch,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            if not _wait_for_port(port, server, timeout):
                server.kill()
                server.wait()
                log.close()
                return "failed", "server: " + (_last_line((scratch / "server.log").read_text()) or "did not start")
            ok, reason = _run([*smoke, "--strict-http", "client.py"], scratch, env, timeout)
            return ("passed" if ok else "failed"), ("client: " + reason if reason else "")
        finally:
            server.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(timeout=20)
            if server.poll() is None:
                server.kill()
            log.close()
    finally:
        if keep is not None:
            shutil.copytree(
                scratch, keep / case.name.replace("/", "_").replace(" ", "_").replace("`", ""), dirs_exist_ok=True
            )
        shutil.rmtree(scratch, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flash-src", type=Path, default=Path(os.environ.get("FLASH_SRC", "/work/flash-src")))
    parser.add_argument("--only", nargs="*", help="run only the cases whose name contains one of these texts")
    parser.add_argument("--timeout", type=int, default=420)
    parser.add_argument("--keep", type=Path, help="copy each case's scratch folder (code, logs) here")
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--jobs", type=int, default=1, help="cases run side by side (default 1)")
    parser.add_argument(
        "--merge",
        action="store_true",
        help="with --only: replace these cases' rows in results.json/results.md (the full run's) instead of "
        "writing results-partial.*",
    )
    args = parser.parse_args()
    cases = [
        case for case in all_cases(args.flash_src.resolve()) if not args.only or any(t in case.name for t in args.only)
    ]
    work = Path(tempfile.mkdtemp(prefix="flash_compat_"))
    try:
        import standins

        template, hf_home, weights = work / "template", work / "hf", work / "weights"
        standins.write_data(template)
        standins.write_hub_cache(hf_home)
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])),
            "HF_HOME": str(hf_home),
            "HF_HUB_OFFLINE": "1",
            "TORCH_HOME": str(work / "torch"),
            "FLASHTRAIN_CACHE": str(work / "cache"),
            "TOKENIZERS_PARALLELISM": "false",
        }
        needs_weights = any(case.kind == "serve" or "flash-weights" in case.code for case in cases)
        if needs_weights:
            subprocess.run(
                [sys.executable, str(HERE / "make_checkpoints.py"), str(template / "data"), str(weights)],
                cwd=work,
                env=env,
                check=True,
                capture_output=True,
            )
        else:
            weights.mkdir()

        def run_one(case: Case) -> dict:
            started = time.monotonic()
            status, reason = run_case(case, template, env, weights_url, args.timeout, args.keep)
            if status == "failed" and case.name in DIFFERENCES:
                status, reason = "difference", DIFFERENCES[case.name]
            seconds = time.monotonic() - started
            print(f"{status:10s} {seconds:5.0f}s {case.name}  {reason}", flush=True)
            return {
                "case": case.name,
                "kind": case.kind,
                "status": status,
                "reason": reason,
                "seconds": round(seconds, 1),
            }

        # Cases are independent (own scratch folder, own ports), so they may run side by side: on a loaded
        # machine a niced harness gets a share of the CPU per process, and one case at a time took hours.
        with weights_server(weights) as weights_url, ThreadPoolExecutor(max_workers=args.jobs) as pool:
            rows = list(pool.map(run_one, cases))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.merge:
        rows = merged_rows(args.out / "results.json", rows)
    write_results(rows, args.out, partial=bool(args.only) and not args.merge)


def merged_rows(full: Path, rerun: list[dict]) -> list[dict]:
    """The full run's rows, with the rerun cases' rows in their place (each marked with when it was rerun)."""
    if not full.exists():
        raise SystemExit(f"--merge needs a full run's {full} to merge into; run without --only first.")
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    by_case = {row["case"]: {**row, "rerun": when} for row in rerun}
    rows = json.loads(full.read_text())["cases"]
    return [by_case.pop(row["case"], row) for row in rows] + list(by_case.values())


def write_results(rows: list[dict], out: Path, partial: bool) -> None:
    passed = sum(row["status"] == "passed" for row in rows)
    differences = sum(row["status"] == "difference" for row in rows)
    summary = (
        f"{passed} of {len(rows)} run unchanged; {differences} are documented differences "
        f"(docs/flash-differences.md); {len(rows) - passed - differences} fail."
    )
    out.mkdir(parents=True, exist_ok=True)
    suffix = "-partial" if partial else ""
    (out / f"results{suffix}.json").write_text(json.dumps({"summary": summary, "cases": rows}, indent=1) + "\n")
    lines = ["# Lightning Flash's examples, doc snippets and Flash Zero commands on flashtrain", "", summary, ""]
    lines += ["| case | kind | status | last error line / difference |", "| --- | --- | --- | --- |"]
    lines += [
        f"| {r['case']} | {r['kind']} | {r['status']}{' (rerun ' + r['rerun'] + ')' if r.get('rerun') else ''} | "
        f"{r['reason'].replace('|', '/')} |"
        for r in rows
    ]
    (out / f"results{suffix}.md").write_text("\n".join(lines) + "\n")
    print(summary)


if __name__ == "__main__":
    main()
