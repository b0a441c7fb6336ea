"""`make run-ca`: a local ACME CA for the `make run` demo, until Ctrl-C.

Starts Debian's `pebble` on 127.0.0.1 (ACME directory on CA_PORT, management API on
CA_MANAGEMENT_PORT, `PEBBLE_VA_NOSLEEP=1`, validation real) and, on CA_DNS_PORT, the small DNS
server of tests/servers/zonefile_dns.py answering from the demo's zone files (instance/zones,
the zonefile provider's directory), which pebble asks for the DNS-01 TXT values. Writes
instance/ca/providers.json: the zonefile provider as `make run` has it by default, plus an
`acme` provider on this pebble. `make run` adds that acme provider to the demo's providers
(infrawg/provisioning/demo.write_settings); a site with providers of its own can use the file:

    INFRAWG_PROVIDERS=instance/ca/providers.json flask run

Pebble's roots are new at every start (fetch them from the management port's /roots/0).
CA_INSTANCE_DIR names another instance folder than ./instance (a trial run elsewhere).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: find tests.servers

from tests.servers.pebble import PebbleServer  # noqa: E402
from tests.servers.zonefile_dns import ZonefileDns  # noqa: E402


def main() -> None:
    instance = Path(os.environ.get("CA_INSTANCE_DIR", ROOT / "instance")).resolve()
    zones, ca_dir = instance / "zones", instance / "ca"
    zones.mkdir(parents=True, exist_ok=True)
    ca_dir.mkdir(parents=True, exist_ok=True)
    dns_server = ZonefileDns(zones, port=int(os.environ.get("CA_DNS_PORT", "15353"))).start()
    pebble = PebbleServer(
        dns_server=dns_server.address,
        port=int(os.environ.get("CA_PORT", "14000")),
        management_port=int(os.environ.get("CA_MANAGEMENT_PORT", "15000")),
        directory=ca_dir / "pebble",
    ).start()
    providers = {
        "zonefile": {"directory": str(zones), "key_directory": str(instance / "zone-keys")},
        "acme": {
            "directory_url": pebble.directory_url,
            "key_directory": str(instance / "acme-keys"),
            "ca_identities": "pebble.local",
            "contact_email": "staff@infrawg.test",
            "ca_bundle": str(pebble.ca_bundle),
            "caa_nameserver": dns_server.address,
        },
    }
    settings = ca_dir / "providers.json"
    settings.write_text(json.dumps(providers, indent=2) + "\n")
    print(
        f"pebble: ACME directory {pebble.directory_url} (management {pebble.management_url}, "
        f"roots at /roots/0)\n"
        f"DNS for pebble: {dns_server.address} (UDP and TCP), answering from {zones}\n"
        f"Start (or restart) the site with make run: it adds this acme provider ({settings}).\n"
        "Ctrl-C stops the CA.",
        flush=True,
    )
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        pebble.stop()
        dns_server.stop()


if __name__ == "__main__":
    main()
