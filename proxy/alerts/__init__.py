"""Alerts on distillation signals: rules in YAML (:mod:`proxy.alerts.rules`), an evaluator that
raises an alert when a signal hit crosses a rule's threshold, once per cooldown
(:mod:`proxy.alerts.evaluate`), and a background runner that delivers new alerts to a
Slack-compatible webhook (:mod:`proxy.alerts.runner`). The SIEM feed sends them too
(:mod:`proxy.siem.feed`); the console reads them from the ``alerts`` table."""
