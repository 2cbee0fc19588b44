pytest_plugins = ["tests.fixtures_fake", "tests.fixtures_proxy"]
