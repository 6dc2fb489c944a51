"""``python -m kiosk.agent``: run the local agent on the kiosk PC;
``python -m kiosk.agent enrol``: create the device key and enrol its public half.

Settings come from the environment (a systemd unit's ``EnvironmentFile``) or the options below:
KIOSK_PLATFORM_URL, KIOSK_DEVICE_CREDENTIAL (or KIOSK_DEVICE_CREDENTIAL_FILE), KIOSK_PRINTER,
KIOSK_READER (``package.module:ClassName``; ``virtual`` with ``--development`` only),
KIOSK_READER_FILE (virtual reader: a card JSON dropped there is read once), KIOSK_AGENT_PORT,
KIOSK_PRINT_TIMEOUT, KIOSK_STATE_DIR (paper counter and the device key ``device-key.pem``).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from .reader import load_reader
from .server import Agent, AgentConfig, PaperCounter, run_forever
from .signing import KEY_FILE, DeviceKey, fingerprint


def main(argv: list[str] | None = None) -> int:
    env = os.environ
    parser = argparse.ArgumentParser(prog="python -m kiosk.agent", description="信用金昌自助终端本地代理")
    parser.add_argument("command", nargs="?", choices=("run", "enrol"), default="run", help="run（默认）或 enrol")
    parser.add_argument("--platform", default=env.get("KIOSK_PLATFORM_URL", ""), help="平台地址，如 https://...")
    parser.add_argument("--credential-file", default=env.get("KIOSK_DEVICE_CREDENTIAL_FILE", ""))
    parser.add_argument("--printer", default=env.get("KIOSK_PRINTER", ""), help="CUPS 打印队列名")
    parser.add_argument("--reader", default=env.get("KIOSK_READER", ""))
    parser.add_argument("--reader-file", default=env.get("KIOSK_READER_FILE", ""))
    parser.add_argument("--port", type=int, default=int(env.get("KIOSK_AGENT_PORT", "8765")))
    parser.add_argument("--print-timeout", type=float, default=float(env.get("KIOSK_PRINT_TIMEOUT", "120")))
    parser.add_argument("--state-dir", default=env.get("KIOSK_STATE_DIR", ""))
    parser.add_argument("--reset-paper-counter", action="store_true", help="加纸后将纸张计数清零并退出")
    parser.add_argument("--new-key", action="store_true", help="enrol：生成新的设备密钥（替换旧密钥）")
    parser.add_argument("--development", action="store_true", help="允许虚拟读卡器（仅开发和测试）")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.reset_paper_counter:
        PaperCounter(args.state_dir).reset()
        print("paper counter reset")
        return 0
    credential = env.get("KIOSK_DEVICE_CREDENTIAL", "")
    if args.credential_file:
        credential = Path(args.credential_file).read_text(encoding="utf-8").strip()
    needed = [("KIOSK_PLATFORM_URL", args.platform), ("KIOSK_DEVICE_CREDENTIAL", credential)]
    needed.append(("KIOSK_STATE_DIR", args.state_dir))
    if args.command == "run":
        needed += [("KIOSK_PRINTER", args.printer), ("KIOSK_READER", args.reader)]
    missing = [name for name, value in needed if not value]
    if missing:
        print("missing setting(s): " + ", ".join(missing), file=sys.stderr)
        return 2
    config = AgentConfig(
        platform_url=args.platform,
        credential=credential,
        printer_queue=args.printer,
        listen_port=args.port,
        print_timeout=args.print_timeout,
        state_dir=args.state_dir,
    )
    key_path = Path(args.state_dir) / KEY_FILE
    if args.command == "enrol":
        return enrol(config, key_path, new_key=args.new_key)

    if args.reader == "virtual" and not args.development:
        print("KIOSK_READER=virtual is for development only (add --development)", file=sys.stderr)
        return 2
    if args.reader == "virtual":
        logging.getLogger("kiosk.agent").warning("virtual ID-card reader: for development and tests only")
    key = DeviceKey.load(args.state_dir) if key_path.exists() else None
    if key is None:
        logging.getLogger("kiosk.agent").warning("no device key: run 'python -m kiosk.agent enrol'; card sign-in off")
    run_forever(Agent(config, load_reader(args.reader, args.reader_file or None), key))
    return 0


def enrol(config: AgentConfig, key_path: Path, *, new_key: bool = False) -> int:
    """Create the key (unless one exists) and send its public half with the credential. The
    platform takes one key per credential: after 重新签发凭据 in the console, enrol again."""
    state_dir = key_path.parent
    key = DeviceKey.create(state_dir) if new_key or not key_path.exists() else DeviceKey.load(state_dir)
    status, answer = Agent(config, _NoReader(), key).enrol()
    print(f"device {config.code}: key {key_path}, fingerprint {fingerprint(key.public_key_b64())}")
    if status == 200:
        print("enrolled: compare the fingerprint with the console's fleet page (自助终端)")
        return 0
    error = answer.get("error") if isinstance(answer.get("error"), dict) else {}
    print(f"refused (HTTP {status}): {error.get('message') or answer}", file=sys.stderr)
    return 1


class _NoReader:
    def poll(self):
        return None

    def compare_face(self, reading):  # pragma: no cover - never polled
        raise NotImplementedError

    def close(self) -> None:
        return None


if __name__ == "__main__":
    sys.exit(main())
