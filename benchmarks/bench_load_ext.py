"""Time ``%load_ext notebook_artifacts`` in fresh ipykernel kernels and list heavy imports.

``.venv/bin/python benchmarks/bench_load_ext.py [RUNS]``: the extension must load in well under a
second and import neither torch nor Chroma (the model loads on first index or query).
"""

from __future__ import annotations

import sys

from jupyter_client.manager import start_new_kernel

HEAVY = ("torch", "chromadb", "sentence_transformers", "transformers", "ipywidgets")
CODE = (
    "import sys, time\n"
    "t = time.perf_counter(); get_ipython().run_line_magic('load_ext', 'notebook_artifacts')\n"
    "dt = time.perf_counter() - t\n"
    f"print(f'%load_ext notebook_artifacts: {{dt*1000:.0f}} ms; heavy modules loaded:',"
    f" [m for m in {HEAVY!r} if m in sys.modules])\n"
)


def main(runs: int = 3) -> None:
    for _ in range(runs):
        km, kc = start_new_kernel(kernel_name="python3")
        try:
            out: list[str] = []
            kc.execute_interactive(CODE, timeout=60, output_hook=lambda m: out.append(
                m["content"].get("text", "")) if m["msg_type"] == "stream" else None)
            print("".join(out).strip())
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
