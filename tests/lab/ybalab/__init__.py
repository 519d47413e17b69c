"""The YBA incident lab: PostgreSQL, S3 (moto), sshd, TLS and a YBA host tree on loopback, reset to scenarios."""
