"""Quality: the rules, the expectation suites and the gate catalogue that guard a month."""
