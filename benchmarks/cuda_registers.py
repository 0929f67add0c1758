"""Registers, spills and stack of every CUDA kernel, as NVRTC compiles them for the GPU path.

    python benchmarks/cuda_registers.py [--arch 90] [--stem attention]

Compiles ``kernels/cuda/<stem>.cu`` through CuPy's NVRTC bindings with the launcher's options
(see tests/kernels/test_cuda_compile.py) plus ptxas's verbose report, and prints one line per
kernel. No GPU needed. Spills (local-memory stores/loads) and a stack frame mean registers ran
out or an array was indexed at run time: memory traffic a GPU run then pays for.
"""

from __future__ import annotations

import argparse
import re

from tinylm.kernels.cuda import build

LINE = re.compile(
    r"Compiling entry function '(?P<name>\w+)'.*?"
    r"(?P<stack>\d+) bytes stack frame, (?P<stores>\d+) bytes spill stores, "
    r"(?P<loads>\d+) bytes spill loads.*?Used (?P<regs>\d+) registers",
    re.DOTALL,
)


def report(stem: str, arch: str) -> list[dict[str, str]]:
    """One dict per kernel of ``<stem>.cu``: name, regs, stack, stores, loads."""
    from cupy_backends.cuda.libs import nvrtc

    names = build.name_expressions(stem)
    prog = nvrtc.createProgram(build.source(stem), f"{stem}.cu", [], [])
    try:
        for expression in names:
            nvrtc.addNameExpression(prog, expression)
        options = [
            *build.COMPILE_OPTIONS,
            "-ftz=true",
            f"-arch=sm_{arch}",
            "--device-as-default-execution-space",
            "--ptxas-options=-v",
        ]
        nvrtc.compileProgram(prog, options)
        log = nvrtc.getProgramLog(prog)
        demangled = {nvrtc.getLoweredName(prog, e): e for e in names}
    finally:
        nvrtc.destroyProgram(prog)
    rows = []
    for match in LINE.finditer(log):
        row = match.groupdict()
        row["name"] = demangled.get(row["name"], row["name"])
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="90", help="compute capability, e.g. 80 or 90")
    parser.add_argument("--stem", action="append", help="kernel file(s) without .cu; default all")
    args = parser.parse_args(argv)
    print(f"sm_{args.arch}   {'kernel':34} regs  stack  spill st/ld (bytes)")
    for stem in args.stem or build.stems():
        for row in report(stem, args.arch):
            print(
                f"{stem + '.cu':14} {row['name']:34} {row['regs']:>4}  {row['stack']:>5}"
                f"  {row['stores']:>5}/{row['loads']}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
