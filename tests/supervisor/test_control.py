import asyncio
import json
import socket
from pathlib import Path
from typing import Any

import pytest

from autonomic.errors import ControlError, NotRunningError, UsageError
from autonomic.supervisor.control import ControlClient, ControlServer
from autonomic.supervisor.protocol import Command, ErrorCode, RequestError, ServiceStatus, StatusReply
from autonomic.supervisor.state import ServiceState


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


def test_a_failing_handler_answers_ok_false_and_an_unknown_service_is_a_usage_error(tmp_path: Path) -> None:
    control_file = tmp_path / "control.json"
    failures: list[str] = []

    async def handler(request: dict[str, Any]) -> dict[str, Any]:
        if request["command"] == "restart":
            raise RequestError("no service named 'x' (known: web)", ErrorCode.UNKNOWN_SERVICE)
        raise OSError(28, "No space left on device", "/w/logs/web.log")

    async def scenario() -> None:
        server = ControlServer(control_file, handler, lambda what, exc: failures.append(f"{what}: {exc}"))
        await server.start()
        client = ControlClient.for_file(control_file)
        with pytest.raises(ControlError, match=r"^stop failed: /w/logs/web.log: No space left on device$"):
            await asyncio.to_thread(client.request, Command.STOP, service="web")
        with pytest.raises(UsageError, match="no service named 'x'"):
            await asyncio.to_thread(client.request, Command.RESTART, service="x")
        await server.close()

    asyncio.run(scenario())
    assert failures and "No space left" in failures[0]  # the daemon writes an event for it


def test_status_records_round_trip_and_say_what_waiting_would_not_fix() -> None:
    fatal = ServiceStatus("web", ServiceState.FATAL, detail="exited with code 1; 8 failures in a row")
    hung = ServiceStatus("web", ServiceState.RESTARTING, reason="hung", wanted=True)
    blocked = ServiceStatus("web", ServiceState.BACKOFF, blocked="port 1 is held by pid 2", wanted=True)
    reply = StatusReply(None, [fatal, hung, blocked])
    again = StatusReply.from_dict(json.loads(json.dumps(reply.to_dict())))
    assert again == reply and again.ok is False
    assert hung.shown_state == "restarting (hung)" and not hung.settled and hung.failed is None
    assert fatal.failed == fatal.detail and blocked.failed == "port 1 is held by pid 2"
    assert ServiceStatus("x", ServiceState.STOPPED, wanted=False).settled
    assert not ServiceStatus("x", ServiceState.STOPPED, wanted=True).settled


def test_the_orchestrator_process_stays_lean() -> None:
    """`python -m autonomic.supervisor` must not load the CLI libraries, pydantic, httpx or OpenSSL."""
    import subprocess
    import sys

    code = (
        "import sys; sys.argv = ['x']\n"
        "from autonomic.supervisor.__main__ import _import_asyncio_without_ssl\n"
        "_import_asyncio_without_ssl()\n"
        "import autonomic.supervisor.daemon\n"
        "heavy = ('typer', 'rich', 'pydantic', 'httpx', 'ssl', 'hashlib')\n"
        "print(' '.join(m for m in heavy if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "", loaded.stdout
