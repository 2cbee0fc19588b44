"""Run the fake vendor standalone: ``python -m tests.support.fake_vendor --port 8787``."""

from __future__ import annotations

import argparse

from tests.support.fake_vendor.server import FakeVendor


def main() -> None:
    parser = argparse.ArgumentParser(description="Fake Anthropic/OpenAI/Gemini upstream on 127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free port)")
    args = parser.parse_args()
    fake = FakeVendor(port=args.port)
    print(f"fake vendor listening on {fake.url}", flush=True)
    fake.serve_forever()


if __name__ == "__main__":
    main()
