"""pytest setup for the cgroup2 guest harness (see run-in-qemu)."""


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "cgroup: needs real cgroups; run on cgroup v2 by make check-cgroup2")
