pytest_plugins = ["tests.support.fixtures_fake", "tests.support.fixtures_proxy"]
