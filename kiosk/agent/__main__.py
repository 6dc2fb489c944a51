"""``python -m kiosk.agent``: run the local agent on the kiosk PC.

Settings come from the environment (a systemd unit's ``EnvironmentFile``) or the options below:
KIOSK_PLATFORM_URL, KIOSK_DEVICE_CREDENTIAL (or KIOSK_DEVICE_CREDENTIAL_FILE), KIOSK_PRINTER,
KIOSK_READER (``virtual`` or ``package.module:ClassName``), KIOSK_READER_FILE (virtual reader:
a card JSON dropped there is read once), KIOSK_AGENT_PORT, KIOSK_PRINT_TIMEOUT, KIOSK_STATE_DIR.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from .reader import load_reader
from .server import Agent, AgentConfig, PaperCounter, run_forever


def main(argv: list[str] | None = None) -> int:
    env = os.environ
    parser = argparse.ArgumentParser(prog="python -m kiosk.agent", description="信用金昌自助终端本地代理")
    parser.add_argument("--platform", default=env.get("KIOSK_PLATFORM_URL", ""), help="平台地址，如 https://...")
    parser.add_argument("--credential-file", default=env.get("KIOSK_DEVICE_CREDENTIAL_FILE", ""))
    parser.add_argument("--printer", default=env.get("KIOSK_PRINTER", ""), help="CUPS 打印队列名")
    parser.add_argument("--reader", default=env.get("KIOSK_READER", "virtual"))
    parser.add_argument("--reader-file", default=env.get("KIOSK_READER_FILE", ""))
    parser.add_argument("--port", type=int, default=int(env.get("KIOSK_AGENT_PORT", "8765")))
    parser.add_argument("--print-timeout", type=float, default=float(env.get("KIOSK_PRINT_TIMEOUT", "120")))
    parser.add_argument("--state-dir", default=env.get("KIOSK_STATE_DIR", ""))
    parser.add_argument("--reset-paper-counter", action="store_true", help="加纸后将纸张计数清零并退出")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.reset_paper_counter:
        PaperCounter(args.state_dir).reset()
        print("paper counter reset")
        return 0
    credential = env.get("KIOSK_DEVICE_CREDENTIAL", "")
    if args.credential_file:
        credential = Path(args.credential_file).read_text(encoding="utf-8").strip()
    missing = [
        name
        for name, value in (("KIOSK_PLATFORM_URL", args.platform), ("KIOSK_DEVICE_CREDENTIAL", credential),
                            ("KIOSK_PRINTER", args.printer))
        if not value
    ]  # fmt: skip
    if missing:
        print("missing setting(s): " + ", ".join(missing), file=sys.stderr)
        return 2
    if args.reader == "virtual":
        logging.getLogger("kiosk.agent").warning("virtual ID-card reader: for development and tests only")
    config = AgentConfig(
        platform_url=args.platform,
        credential=credential,
        printer_queue=args.printer,
        listen_port=args.port,
        print_timeout=args.print_timeout,
        state_dir=args.state_dir,
    )
    run_forever(Agent(config, load_reader(args.reader, args.reader_file or None)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
