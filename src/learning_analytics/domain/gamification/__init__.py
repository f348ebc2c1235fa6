"""Gamification (SPEC §11): points rules, levels, achievements and leaderboard periods.

Pure: the learner's events, the ledger and the clock are passed in. The streak itself lives in
`domain.metrics.gamification`.
"""
