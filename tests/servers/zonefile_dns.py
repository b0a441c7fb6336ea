"""A small authoritative DNS server answering from the zonefile provider's files, for the
`make run` demo's local CA (`make run-ca`): pebble asks it for the DNS-01 TXT values the site
writes into `instance/zones/*.zone`, and the site asks it for CAA records.

Each query reads the files afresh, so a value the zonefile provider has just written is served
at once (a BIND loading the same files would need a reload after each change). It answers for
the zones it finds (authoritative: the records of the name, following a CNAME into another zone
it serves, NXDOMAIN for a name the zone does not hold, the SOA in the authority section of a
negative answer); a name above a zone it serves (example.org above demo.example.org) is an
empty name (NOERROR, no records), and every other name does not exist (NXDOMAIN). UDP and TCP on
one loopback port. No wildcard synthesis, no DNSSEC records beside an answer, no zone
transfers: not a DNS server for anything but this demo.
"""

from __future__ import annotations

import socket
import socketserver
import struct
import threading
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone

MAX_CNAME_CHAIN = 8
Zone = dns.zone.Zone


class ZoneFiles:
    """The zones in `directory` (`<zone>.zone`, as the zonefile provider writes them)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def zones(self) -> dict[dns.name.Name, dns.zone.Zone]:
        found: dict[dns.name.Name, dns.zone.Zone] = {}
        for path in sorted(self.directory.glob("*.zone")):
            origin = dns.name.from_text(path.name.removesuffix(".zone"))
            try:
                found[origin] = dns.zone.from_file(str(path), origin=origin, relativize=False)
            except (OSError, dns.exception.DNSException):
                continue  # a file being rewritten, or not a zone: not served this time
        return found

    def answer(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        if len(query.question) != 1:
            response.set_rcode(dns.rcode.FORMERR)
            return response
        question = query.question[0]
        zones = self.zones()
        qname, rdtype = question.name, question.rdtype
        for _ in range(MAX_CNAME_CHAIN):
            zone = _zone_of(zones, qname)
            if zone is None:
                if not response.answer:
                    above = any(origin.is_subdomain(qname) for origin in zones)
                    response.set_rcode(dns.rcode.NOERROR if above else dns.rcode.NXDOMAIN)
                return response
            response.flags |= dns.flags.AA
            node = zone.get_node(qname)
            if node is None:
                empty = any(name.is_subdomain(qname) for name in zone.nodes)
                if not response.answer and not empty:
                    response.set_rcode(dns.rcode.NXDOMAIN)
                _add_soa(response, zone)
                return response
            found = node.get_rdataset(dns.rdataclass.IN, rdtype)
            if found is not None:
                response.answer.append(_rrset(qname, found))
                return response
            cname = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.CNAME)
            if cname is None or rdtype == dns.rdatatype.CNAME:
                _add_soa(response, zone)
                return response
            response.answer.append(_rrset(qname, cname))
            qname = cname[0].target  # type: ignore[attr-defined]
        return response


def _zone_of(
    zones: dict[dns.name.Name, dns.zone.Zone], name: dns.name.Name
) -> dns.zone.Zone | None:
    holding = [origin for origin in zones if name.is_subdomain(origin)]
    return zones[max(holding, key=len)] if holding else None


def _rrset(name: dns.name.Name, rdataset) -> dns.rrset.RRset:
    rrset = dns.rrset.RRset(name, rdataset.rdclass, rdataset.rdtype)
    rrset.update(rdataset)
    return rrset


def _add_soa(response: dns.message.Message, zone: dns.zone.Zone) -> None:
    soa = zone.get_rdataset(zone.origin, dns.rdatatype.SOA)
    if soa is not None:
        response.authority.append(_rrset(zone.origin, soa))


class _Udp(socketserver.BaseRequestHandler):
    server: _UdpServer

    def handle(self) -> None:
        data, sock = self.request
        try:
            query = dns.message.from_wire(data)
        except dns.exception.DNSException:
            return
        size = max(512, query.payload) if query.edns >= 0 else 512
        try:
            wire = self.server.files.answer(query).to_wire(max_size=size)
        except dns.exception.TooBig:
            truncated = dns.message.make_response(query)
            truncated.flags |= dns.flags.TC  # the client asks again over TCP
            wire = truncated.to_wire()
        sock.sendto(wire, self.client_address)


class _Tcp(socketserver.BaseRequestHandler):
    server: _TcpServer

    def handle(self) -> None:
        sock: socket.socket = self.request
        while True:
            head = sock.recv(2)
            if len(head) < 2:
                return
            (length,) = struct.unpack("!H", head)
            data = b""
            while len(data) < length:
                chunk = sock.recv(length - len(data))
                if not chunk:
                    return
                data += chunk
            try:
                query = dns.message.from_wire(data)
            except dns.exception.DNSException:
                return
            wire = self.server.files.answer(query).to_wire()
            sock.sendall(struct.pack("!H", len(wire)) + wire)


class _UdpServer(socketserver.ThreadingUDPServer):
    allow_reuse_address = True
    daemon_threads = True
    files: ZoneFiles


class _TcpServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    files: ZoneFiles


class ZonefileDns:
    """The server on `host:port` (UDP and TCP), in daemon threads: start(), then stop()."""

    def __init__(self, directory: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.files = ZoneFiles(directory)
        self.udp = _UdpServer((host, port), _Udp)
        self.host, self.port = self.udp.server_address[:2]
        self.tcp = _TcpServer((host, self.port), _Tcp)
        self.udp.files = self.tcp.files = self.files
        self._threads: list[threading.Thread] = []

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> ZonefileDns:
        for server in (self.udp, self.tcp):
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for server in (self.udp, self.tcp):
            server.shutdown()
            server.server_close()
