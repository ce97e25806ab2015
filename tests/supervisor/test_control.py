import asyncio
import json
import socket
from pathlib import Path
from typing import Any

import pytest

from autonomic.errors import ControlError, NotRunningError
from autonomic.supervisor.control import ControlClient, ControlServer


def test_requests_need_the_secret_and_unknown_files_mean_not_running(tmp_path: Path) -> None:
    control_file = tmp_path / "control.json"

    async def handler(request: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "echo": request["command"]}

    async def scenario() -> None:
        server = ControlServer(control_file, handler)
        port = await server.start()
        assert oct(control_file.stat().st_mode & 0o777) == "0o600"
        good = ControlClient.for_file(control_file)
        assert (await asyncio.to_thread(good.request, "ping"))["echo"] == "ping"
        with pytest.raises(ControlError, match="not authorised"):
            await asyncio.to_thread(ControlClient(port, "wrong").request, "ping")

        def garbage() -> bytes:
            with socket.create_connection(("127.0.0.1", port)) as sock:
                sock.sendall(b"not json\n")
                return sock.recv(1000)

        assert json.loads(await asyncio.to_thread(garbage))["ok"] is False
        await server.close()
        assert not control_file.exists()

    asyncio.run(scenario())
    with pytest.raises(NotRunningError):
        ControlClient.for_file(control_file)
