"""The SIEM feed: blocked and flagged calls and triage verdicts as OCSF API Activity records,
delivered from the database (never from the request path) to a JSONL file and/or a webhook."""
