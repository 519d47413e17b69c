"""tests/unit: pytest puts this directory on sys.path (conftest.py, no __init__.py), so every test here can import
ci_prerequisites."""
