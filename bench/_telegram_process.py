"""The stand-in Bot API in a process of its own, for bench/outbox_delivery.py: the senders'
event loop must not also serve Telegram's side (that would blur the rate being measured).

Commands on stdin, one JSON object a line; each gets one JSON line on stdout:
    {"people": [chat ids]}          add a private chat for each
    {"faults": {FaultConfig fields}} change the faults now (limits start over)
    {"requests": true}              every request so far: [method, chat_id, text, status, at]
The first line written is {"port": ...}. End of input stops the server.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from sandbox.http import FaultConfig
from sandbox.server import SandboxServer


async def serve(faults: dict[str, Any]) -> None:
    server = SandboxServer(host="127.0.0.1", port=0, faults=FaultConfig(**faults))
    await server.start()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print(json.dumps({"port": server.port}), flush=True)
    try:
        while line := await reader.readline():
            command = json.loads(line)
            answer: Any = "ok"
            if "people" in command:
                for chat_id in command["people"]:
                    server.add_person(int(chat_id), f"P{chat_id}")
            if "faults" in command:
                server.faults = FaultConfig(**command["faults"])
            if "requests" in command:
                answer = [
                    [r.method, r.params.get("chat_id"), r.params.get("text"), r.status, r.at]
                    for r in server.requests
                ]
            sys.stdout.write(json.dumps(answer) + "\n")
            sys.stdout.flush()
    finally:
        await server.stop()


if __name__ == "__main__":
    asyncio.run(serve(json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}))
