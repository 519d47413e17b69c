"""pytest settings for the integration driver."""


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "deprecated_connection: uses the paramiko_ssh connection, deprecated in ansible-core and removed in 2.21",
    )
