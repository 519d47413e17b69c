"""The simulated YBA platform of the lab: install/start/stop (lifecycle), at-rest encryption (crypto),
the HTTPS API simulator (server), the mini-systemd used by the yba-ctl stand-in (services) and the
swagger fidelity checker (fidelity)."""
