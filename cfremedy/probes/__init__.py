"""The only part of cfremedy that opens connections to origin servers.

Everything a playbook needs to know about an origin is gathered here once, as frozen results
(`results`), so playbooks stay pure functions of (snapshot, probes, inventory). Import the
submodule you need: this package imports nothing on its own, so reading probe results (a
playbook, a reporter) never loads sockets, TLS or HTTP/2.
"""
