"""Is the port free? Asked before `rag serve` loads anything (and before `make demo`
indexes), so a busy port costs a second and one line, not a model load and a traceback."""

from __future__ import annotations

import errno
import socket
import sys

from rag.errors import ConfigError

__all__ = ["check_port", "main"]


def check_port(host: str, port: int) -> None:
    """ConfigError naming the port and how to pick another unless `host:port` can be bound
    now (as the server will bind it: address reuse on, so a socket lingering in TIME_WAIT
    from a server just stopped does not count as busy)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise ConfigError(f"cannot serve on {host}: unknown host ({error.strerror})") from error
    family, kind, proto, _name, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise ConfigError(
                    f"port {port} on {host} is already in use (another app, or an earlier "
                    f"`rag serve`): stop it, or pick another port: `make demo PORT={_other(port)}` "
                    f"or `rag serve --port {_other(port)}`"
                ) from error
            raise ConfigError(
                f"cannot serve on {host} port {port}: {error.strerror}; pick another port: "
                f"`make demo PORT={_other(port)}` or `rag serve --port {_other(port)}`"
            ) from error


def _other(port: int) -> int:
    """A port to suggest instead (the next one; 8000 where that would leave the range)."""
    return port + 1 if 1024 <= port < 65535 else 8000


def main(argv: list[str] | None = None) -> int:
    """`python -m rag.ports HOST PORT`: exit 0 when free, else the one-line error and 1
    (what `make demo` runs before indexing)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or not args[1].isdigit():
        sys.stderr.write("usage: python -m rag.ports HOST PORT\n")
        return 2
    try:
        check_port(args[0], int(args[1]))
    except ConfigError as error:
        sys.stderr.write(f"error: {error}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
