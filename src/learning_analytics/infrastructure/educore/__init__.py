"""The EDUCORE platform's plumbing: Coordinator envelopes and their ECDSA signatures."""
