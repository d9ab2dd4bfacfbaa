"""A build process to kill: `python -m tests.hardening.build_worker` loads the model once,
then for every `build` line on stdin forks a child that runs `index.build` with the
`CITEBOT_*` settings, printing `pid N` at once, `stage NAME DONE TOTAL` as it goes, and
`exit STATUS` when the child is gone (killed or not). Forking keeps each build fast, so a
campaign can kill many builds at random points without paying for the model each time."""

from __future__ import annotations

import os
import sys
import traceback


def main() -> None:
    from index import BuildProgress, build, index_settings
    from index.models.embed import load_encoder

    settings = index_settings()
    load_encoder(settings).encode(["warm up"])
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() != "build":
            continue
        pid = os.fork()
        if pid == 0:
            def progress(p: BuildProgress) -> None:
                print(f"stage {p.stage} {p.done} {p.total}", flush=True)

            try:
                report = build(settings, progress)
                print(f"built {report.version} unchanged={report.unchanged}", flush=True)
            except BaseException:
                traceback.print_exc()
                os._exit(1)
            os._exit(0)
        print(f"pid {pid}", flush=True)
        _, status = os.waitpid(pid, 0)
        print(f"\nexit {status}", flush=True)  # a killed child may leave half a line


if __name__ == "__main__":
    main()
