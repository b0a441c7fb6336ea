"""Free loopback ports for the servers the tests start (never the well-known ones)."""

import socket


def free_port(host: str = "127.0.0.1") -> int:
    """A port free for both TCP and UDP right now (DNS needs both; SMTP and HTTP TCP)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((host, 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((host, port))
                except OSError:
                    continue
            if port >= 1024:
                return port
    raise RuntimeError("no free loopback port")
