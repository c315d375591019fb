"""zuul-executor, with its log streamer (finger protocol) on 127.0.0.1 instead of ``::``.

Zuul 14.3.0 binds the streamer to every address (zuul/cmd/executor.py, ``LogStreamer('::', ...)``)
and has no option for it; the test harness keeps every listener on loopback.
"""

import zuul.lib.log_streamer
from zuul.cmd.executor import main

_LogStreamer = zuul.lib.log_streamer.LogStreamer


class LoopbackLogStreamer(_LogStreamer):
    def __init__(self, host, port, jobdir_root):
        super().__init__("127.0.0.1", port, jobdir_root)


zuul.lib.log_streamer.LogStreamer = LoopbackLogStreamer

if __name__ == "__main__":
    main()
