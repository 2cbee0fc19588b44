"""The SIEM feed: blocked and flagged calls and triage verdicts as OCSF API Activity records, and
alerts on distillation signals as OCSF Detection Findings, delivered from the database (never
from the request path) to a JSONL file and/or a webhook."""
