"""The thresholds and windows of the distillation signals, with their defaults.

Every signal writes a hit only when its *score* reaches 1.0: the score is the measured quantity
over its threshold (several conditions: the smallest such ratio), so 1.0 means "just at the
definition" and 3.0 "three times past it". Alert rules (``proxy/alerts``) may ask for more.
"""

from __future__ import annotations

from dataclasses import dataclass

# Interactive coding clients (proxy/identity.py names): calls from anything else — SDKs, litellm,
# curl, unknown — may be scripted.
INTERACTIVE_TOOLS = ("claude-code", "codex-cli", "gemini-cli", "cline", "continue", "cursor", "aider")


@dataclass(frozen=True, slots=True)
class SignalConfig:
    poll_interval_s: float = 5.0  # the engine thread's pause when it has caught up
    batch: int = 1000  # events per run_once in the thread
    horizon_days: int = 1  # earlier days kept in memory besides the newest (late events older: ignored)
    evidence_cap: int = 200  # event ids kept per hit, newest last

    # volume: a day's calls against the person's own and their team's typical day (event_rollup)
    volume_min_calls: int = 300  # fewer calls in a day never fire, whatever the baselines
    volume_ratio: float = 4.0  # times the baseline
    volume_baseline_days: int = 14  # earlier days the baselines read
    volume_min_active_days: int = 3  # days with calls needed before a person's own baseline counts

    # sweep: near-identical distinct instructions (one template, a varying slot) from one person
    sweep_min_distinct: int = 20  # distinct instructions in one template cluster in a day
    lsh_threshold: float = 0.6  # Jaccard similarity of word-bigram sets that makes two instructions one template
    num_perm: int = 64  # MinHash permutations
    min_tokens: int = 6  # shorter instructions are too short to call a template ("run the tests")

    # reasoning: requests to reveal chain-of-thought / reasoning / tool-use traces
    reasoning_min_distinct: int = 5  # distinct matching instructions in a day

    # dataset: distinct instructions asking for datasets / N examples / JSONL, or labelled as such
    dataset_min_distinct: int = 10

    # evasion: after a block, rephrased attempts that went through
    evasion_window_s: float = 900.0  # how long after a block an attempt counts
    evasion_similarity: float = 0.5  # estimated Jaccard with the blocked instruction (or the same label)
    evasion_min_attempts: int = 2

    # scripted: steady, single-turn, large-output traffic from non-interactive clients
    scripted_min_calls: int = 30
    scripted_max_cv: float = 0.5  # coefficient of variation of the inter-arrival times
    scripted_min_output_tokens: float = 400.0  # mean output tokens per call
    scripted_max_turns: int = 2  # a call with more turns is a conversation or a tool loop

    # coordination: one template cluster spread over several principals
    coordination_min_principals: int = 3  # principals with at least coordination_min_each instructions
    coordination_min_each: int = 2
    coordination_min_distinct: int = 12  # distinct instructions of the cluster over all of them
    coordination_exact_min_calls: int = 5  # without text: calls per principal of one exact instruction

    score_cap: float = 100.0
